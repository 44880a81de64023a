"""``gymctl run``: a site with real equipment (here a rack emulator over Modbus TCP)."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import sys
from pathlib import Path
from typing import BinaryIO

import httpx
import pytest

from controller.cli import main
from equipment_adapters.emulators.rack import RackEmulator
from tests.controller.mqtt.conftest import free_port
from tests.controller.mqtt.test_bridge import subscriber

from .polling import eventually

ROOT = Path(__file__).resolve().parents[2]


def site_toml(rack_port: int, mqtt_port: int) -> str:
    return f"""
[site]
name = "CLI test gym"
id = "clitest"

[[stations]]
id = "rack-1"
[stations.devices.rack]
host = "127.0.0.1"
port = {rack_port}
map = "reference-rack"

[mqtt]
port = {mqtt_port}

[store]
path = "site.db"

[panel]
enabled = false
"""


async def _gymctl_run(config: Path, log: BinaryIO, *flags: str) -> asyncio.subprocess.Process:
    """``gymctl run`` in a process of its own: its stdout piped, its stderr to ``log`` (a
    file: a pipe nobody reads could fill up)."""
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "controller.cli",
        "run",
        *flags,
        "--config",
        str(config),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=log,
    )


async def test_gymctl_run_connects_the_equipment_and_stops_cleanly_on_sigint(
    tmp_path: Path,
) -> None:
    mqtt_port = free_port()
    async with RackEmulator(port=0) as rack:
        config = tmp_path / "site.toml"
        config.write_text(site_toml(rack.port, mqtt_port))
        log = (tmp_path / "stderr.log").open("wb")  # a pipe nobody reads could fill up
        process = await _gymctl_run(config, log)
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert b"CLI test gym: 1 stations" in line
            assert f"MQTT embedded broker 127.0.0.1:{mqtt_port}".encode() in line
            async with subscriber(None, "gymctl/clitest/#", port=mqtt_port) as inbox:
                await eventually(
                    lambda: any(p.get("state") == "idle" for p in inbox.on("rack-1/state")),
                    within=15,
                )
            await eventually(lambda: rack.state.heartbeats > 0, within=5)
            process.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(process.wait(), 20)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            log.close()
        assert code == 0, (tmp_path / "stderr.log").read_text()
        # the rack was left in its safe state: no load, nothing latched by us
        assert rack.state.target_load_kg == 0.0
    db = sqlite3.connect(tmp_path / "site.db")
    (state,) = db.execute("SELECT state FROM stations WHERE id = 'rack-1'").fetchone()
    db.close()
    assert state in ("idle", "offline")


def test_gymctl_run_names_the_wrong_key_of_a_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(site_toml(70000, 1883))
    assert main(["run", "--config", str(config)]) == 2
    assert "stations[0].devices.rack.port: must be 1..65535" in capsys.readouterr().err
    assert main(["run", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "no such file" in capsys.readouterr().err


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


async def test_gymctl_run_serves_the_panel_from_its_own_process_and_schedules_the_loop(
    tmp_path: Path,
) -> None:
    mqtt_port, panel_port = free_port(), free_port()
    async with RackEmulator(port=0) as rack:
        config = tmp_path / "site.toml"
        text = site_toml(rack.port, mqtt_port).replace(
            'id = "clitest"\n', 'id = "clitest"\nrealtime_priority = 10\n'
        )
        text = text.replace(
            "[panel]\nenabled = false\n",
            f'[panel]\nenabled = true\nhost = "127.0.0.1"\nport = {panel_port}\n'
            "own_process = true\n",
        )
        config.write_text(text)
        log_path = tmp_path / "stderr.log"
        log = log_path.open("wb")
        process = await _gymctl_run(config, log, "-v")
        try:
            assert process.stdout is not None
            line = await asyncio.wait_for(process.stdout.readline(), 30)
            assert f"panel on port {panel_port}".encode() in line
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{panel_port}") as client:
                assert (await client.get("/healthz")).status_code == 200
            (panel,) = _children(process.pid)
            # the panel below every normal thread; the loop above them when permitted
            assert os.sched_getscheduler(panel) == os.SCHED_IDLE
            await eventually(lambda: "the loop's thread" in log_path.read_text(), within=10)
            logged = log_path.read_text()
            if "SCHED_FIFO at priority 10" in logged:
                policy = os.sched_getscheduler(process.pid)
                assert policy == os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
            else:  # an unprivileged test run: refused, said so, and the short slice instead
                assert "not permitted (give the service CAP_SYS_NICE" in logged
            process.send_signal(signal.SIGINT)
            code = await asyncio.wait_for(process.wait(), 30)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
            log.close()
        assert code == 0, log_path.read_text()
        # the controller stopped its panel's process on the way out
        with pytest.raises(ProcessLookupError):
            os.kill(panel, 0)
