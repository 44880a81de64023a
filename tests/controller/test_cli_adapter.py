"""``gymctl adapter check|export`` and ``gymctl sim rack`` from the command line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from controller.cli import main
from equipment_adapters.modbus.mapfile import load_map


@contextmanager
def sim_rack(*extra: str) -> Iterator[int]:
    """``gymctl sim rack`` in its own process; yields its port, kills it after."""
    process = subprocess.Popen(
        [sys.executable, "-m", "controller.cli", "sim", "rack", "--port", "0", "--idle", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"127\.0\.0\.1:(\d+)", line)
        assert match, (line, process.stderr.read() if process.stderr else "")
        yield int(match.group(1))
    finally:
        process.terminate()
        process.communicate(timeout=10)  # reads to the end: the pipes close
        assert process.returncode == 0  # SIGTERM is a clean stop


def test_check_passes_a_conforming_rack(capsys: pytest.CaptureFixture[str]) -> None:
    with sim_rack() as port:
        code = main(
            [
                "adapter",
                "check",
                "reference-rack",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--duration",
                "0.5",
            ]
        )
    out = capsys.readouterr().out
    assert code == 0, out
    assert re.search(r"^watchdog\s+PASS", out, re.MULTILINE)
    assert re.search(r"^fifo continuity\s+PASS", out, re.MULTILINE)
    assert "PASS: " in out


def test_check_with_a_unit_override(capsys: pytest.CaptureFixture[str]) -> None:
    with sim_rack("--unit", "9") as port:
        args = ["adapter", "check", "reference-rack", "--host", "127.0.0.1", "--port", str(port)]
        code = main([*args, "--unit", "9", "--duration", "0.3", "--json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0, [c for c in report["checks"] if c["result"] == "FAIL"]
    assert main(["adapter", "check", "reference-rack", "--host", "h", "--unit", "0"]) == 2


def test_check_fails_a_rack_that_ignores_the_watchdog(capsys: pytest.CaptureFixture[str]) -> None:
    with sim_rack("--ignore-watchdog") as port:
        code = main(
            [
                "adapter",
                "check",
                "reference-rack",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--duration",
                "0.3",
                "--json",
            ]
        )
    report = json.loads(capsys.readouterr().out)
    assert code == 1
    assert report["passed"] is False
    failed = [c["name"] for c in report["checks"] if c["result"] == "FAIL"]
    assert failed == ["watchdog"]


def test_check_with_nothing_listening_fails(capsys: pytest.CaptureFixture[str]) -> None:
    with sim_rack() as port:
        pass
    code = main(["adapter", "check", "reference-rack", "--host", "127.0.0.1", "--port", str(port)])
    assert code == 1
    assert re.search(r"^connect\s+FAIL", capsys.readouterr().out, re.MULTILINE)


def test_bad_map_is_exit_2_naming_point_and_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[map]\nname = "x"\nversion = 1\n[points.load]\naddress = 1\nscale = 0\n', encoding="utf-8"
    )
    code = main(["adapter", "export", str(bad), "--c-header"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.strip() == f"gymctl: error: {bad}, point 'load', field 'scale': must not be 0"
    assert main(["adapter", "check", str(tmp_path / "nope.toml"), "--host", "h"]) == 2


def test_check_needs_a_host_or_a_serial_port() -> None:
    with pytest.raises(SystemExit) as info:
        main(["adapter", "check", "reference-rack"])
    assert info.value.code == 2


def test_export_writes_a_header_that_compiles(tmp_path: Path) -> None:
    compiler = shutil.which("gcc") or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler on this machine")
    header = tmp_path / "reference_rack.h"
    assert main(["adapter", "export", "reference-rack", "--c-header", "-o", str(header)]) == 0
    regmap = load_map("reference-rack")
    target = regmap.point("target_load")
    assert target.max_value is not None
    fifo = regmap.fifo
    assert fifo is not None
    checks = [
        f"REFERENCE_RACK_TARGET_LOAD_ADDR == {target.address}",
        f"REFERENCE_RACK_TARGET_LOAD_MAX_RAW == {round(target.max_value / target.encoding.scale)}",
        f"REFERENCE_RACK_MODE_ECCENTRIC == {regmap.point('mode').options['eccentric']}",
        f"REFERENCE_RACK_STATUS_BIT_ESTOP_MASK == (1u << {regmap.point('status').bits['estop']})",
        f"REFERENCE_RACK_FIFO_CAPACITY == {fifo.capacity}",
        f"REFERENCE_RACK_FIFO_RECORD_REGISTERS == {fifo.record_registers}",
        f"REFERENCE_RACK_FIFO_FORCE_RIGHT_OFFSET == {fifo.field('force_right').offset}",
        f"REFERENCE_RACK_MODEL_ID_VALUE == {regmap.identity[0].expected}",
        "REFERENCE_RACK_CUE_TEXT_COUNT == 8",
    ]
    source = tmp_path / "firmware.c"
    source.write_text(
        '#include "reference_rack.h"\n#include "reference_rack.h"\n'
        + "".join(f'_Static_assert({c}, "{c}");\n' for c in checks)
        + "int main(void) { return REFERENCE_RACK_TARGET_LOAD_TYPE == GYMCTL_TYPE_UINT16 ? 0 : 1; }"
        + "\n",
        encoding="utf-8",
    )
    build = subprocess.run(
        [
            compiler,
            "-std=c11",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-o",
            str(tmp_path / "fw"),
            str(source),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    assert subprocess.run([str(tmp_path / "fw")], check=False).returncode == 0


def test_export_to_stdout_with_a_prefix(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["adapter", "export", "reference-rack", "--c-header", "--prefix", "RR"]) == 0
    out = capsys.readouterr().out
    assert "#define RR_TARGET_LOAD_ADDR 0u" in out
    assert main(["adapter", "export", "reference-rack", "--c-header", "--prefix", "1x"]) == 2


def test_sim_rack_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "rack", "--athlete", "zed"]) == 2
    assert "no demo athlete 'zed'" in capsys.readouterr().err
    assert main(["sim", "rack", "--exercise", "curl"]) == 2
    assert main(["sim", "rack", "--map", "nowhere.toml"]) == 2
