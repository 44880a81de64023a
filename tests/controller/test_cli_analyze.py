"""``gymctl analyze lift`` and ``gymctl analyze lvp``: output, bad input, the bundled examples."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks.traces import example_squat_set, squat_set, write_csv, write_example
from controller.cli import main

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TRACE = ROOT / "examples" / "back_squat_1khz.csv"
EXAMPLE_LVP = ROOT / "examples" / "lvp_back_squat.csv"


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    code, out, err = _run(capsys, *argv, "--json")
    assert code == 0, err
    report = json.loads(out)
    assert isinstance(report, dict)
    return report


def test_bundled_trace_is_what_the_generator_writes(tmp_path: Path) -> None:
    fresh = tmp_path / "trace.csv"
    write_example(fresh)
    assert fresh.read_bytes() == EXAMPLE_TRACE.read_bytes()


def test_lift_json_on_the_bundled_trace(capsys: pytest.CaptureFixture[str]) -> None:
    script = example_squat_set()
    report = _json(
        capsys, "analyze", "lift", str(EXAMPLE_TRACE), "--load-kg", "100", "--exercise", "squat"
    )
    assert report["sample_rate_hz"] == pytest.approx(1000.0)
    assert report["exercise"] == "back_squat"
    assert report["partial_reps"] == script.partial_reps
    reps = report["reps"]
    assert isinstance(reps, list)
    assert len(reps) == len(script.reps)
    for rep, truth in zip(reps, script.reps, strict=True):
        for key in (
            "index",
            "start_s",
            "end_s",
            "rom_m",
            "mean_velocity_ms",
            "mean_propulsive_velocity_ms",
            "peak_velocity_ms",
            "concentric_s",
            "mean_power_w",
        ):
            assert key in rep
        assert rep["mean_velocity_ms"] == pytest.approx(truth.mean_velocity_ms, rel=0.05)
        assert rep["rom_m"] == pytest.approx(truth.rom_m, abs=0.01)
        assert rep["mean_power_w"] == pytest.approx(100 * 9.81 * rep["mean_velocity_ms"])
    velocities = [r["mean_velocity_ms"] for r in reps]
    best = max(velocities[:3])
    assert report["velocity_loss_pct"] == pytest.approx((best - velocities[-1]) / best * 100)
    assert report["reps_in_reserve"] is not None


def test_lift_without_load_has_no_power(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    t, x = squat_set(failed=False).render(200.0, noise_m=0.0002, seed=1)
    path = tmp_path / "squat.csv"
    write_csv(path, t, x, extra={"force": np.zeros_like(t)})  # extra columns are ignored
    report = _json(capsys, "analyze", "lift", str(path))
    assert report["start"] == "top"
    assert report["sample_rate_hz"] == pytest.approx(200.0)
    reps = report["reps"]
    assert isinstance(reps, list)
    assert len(reps) == len(squat_set(failed=False).reps)
    assert all("mean_power_w" not in rep for rep in reps)


def test_lift_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "analyze", "lift", str(EXAMPLE_TRACE), "--load-kg", "100")
    assert code == 0, err
    assert "MCV m/s" in out
    assert "mean W" in out
    assert "reps: 8   partial reps: 3" in out
    assert "velocity loss:" in out
    assert not out.lstrip().startswith("{")


def test_lift_with_dropouts_in_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    script = squat_set(failed=False)
    t, x = script.render(500.0, noise_m=0.0002, seed=2)
    lines = ["t,position"] + [f"{a:.6f},{b:.5f}" for a, b in zip(t, x, strict=True)]
    for i in range(3000, 3010):
        lines[i] = f"{t[i - 1]:.6f},"  # empty cell: a dropout
    for i in range(6000, 6005):
        lines[i] = f"{t[i - 1]:.6f},nan"
    path = tmp_path / "dropouts.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    report = _json(capsys, "analyze", "lift", str(path))
    assert report["dropouts"] == 15
    reps = report["reps"]
    assert isinstance(reps, list)
    assert len(reps) == len(script.reps)


def test_lvp_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    report = _json(capsys, "analyze", "lvp", str(EXAMPLE_LVP), "--exercise", "back_squat")
    for key in ("slope", "intercept", "r2", "mvt_ms", "e1rm_kg", "n_points"):
        assert key in report
    assert report["n_points"] == 14
    assert report["mvt_ms"] == 0.30
    assert report["weighted_by_date"] is True
    assert report["slope"] < 0.0
    assert 120.0 < report["e1rm_kg"] < 150.0
    overridden = _json(
        capsys, "analyze", "lvp", str(EXAMPLE_LVP), "--exercise", "squat", "--mvt", "0.4"
    )
    assert overridden["mvt_ms"] == 0.4
    assert overridden["e1rm_kg"] < report["e1rm_kg"]
    code, out, _ = _run(capsys, "analyze", "lvp", str(EXAMPLE_LVP), "--exercise", "back_squat")
    assert code == 0
    assert "estimated 1RM:" in out
    assert "weighted by date" in out


def test_lvp_without_dates_weighs_points_equally(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "lvp.csv"
    path.write_text(
        "load_kg,mean_velocity_ms\n40,1.32\n60,1.08\n80,0.84\n100,0.60\n", encoding="utf-8"
    )
    report = _json(capsys, "analyze", "lvp", str(path), "--mvt", "0.3")
    assert report["weighted_by_date"] is False
    assert report["slope"] == pytest.approx(-0.012)
    assert report["intercept"] == pytest.approx(1.8)
    assert report["e1rm_kg"] == pytest.approx(125.0)
    no_mvt = _json(capsys, "analyze", "lvp", str(path))
    assert no_mvt["e1rm_kg"] is None


def _error(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    code, out, err = _run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("gymctl: error: ")
    assert "Traceback" not in err
    assert err.count("\n") == 1
    return err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("time,pos\n0,1\n", "line 1: missing columns 't', 'position' (found: 'time', 'pos')"),
        (
            "t,position\n0,1\n0.01,1\n0.02,abc\n",
            "line 4: 'abc' in column 'position' is not a number",
        ),
        ("t,position\n0,1\n0.01,1\n,1\n", "line 4: column 't' is empty"),
        ("t,position\n0,1\n0.01,1\n0.005,1\n0.02,1\n", "line 4, column 't': time goes backwards"),
        ("t,position\n0,1\n0.01,1\n0.01,1\n", "line 4, column 't': time does not advance"),
        ("t,position\n0,1\n0.01,inf\n", "'inf' in column 'position' is not a finite number"),
        ("t,position\n-1e308,1\n0.01,1\n0.02,1\n", "line 2, column 't': t=-1e+308 s is not"),
        (
            "t,position\n0,1\n0.01,1e308\n0.02,1\n",
            "line 3, column 'position': position 1e+308 m is beyond +/-1000 m",
        ),
        ("t,position\n0,1\n", "1 sample(s)"),
        ("", "the file is empty"),
        ("t,position\n0,1\n1000,1\n2000,1\n", "is outside 10-20000 Hz"),
    ],
)
def test_lift_bad_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    err = _error(capsys, "analyze", "lift", str(path))
    assert str(path) in err
    assert expected in err


def test_lift_bad_arguments(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert "no such file" in _error(capsys, "analyze", "lift", str(tmp_path / "missing.csv"))
    assert "is a directory" in _error(capsys, "analyze", "lift", str(tmp_path))
    err = _error(capsys, "analyze", "lift", str(EXAMPLE_TRACE), "--exercise", "curl")
    assert "--exercise: unknown exercise 'curl'" in err
    assert "--load-kg" in _error(capsys, "analyze", "lift", str(EXAMPLE_TRACE), "--load-kg", "-5")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("load_kg,mean_velocity_ms\n80,0.6\n", "a profile needs at least two points, got 1"),
        ("load_kg,mean_velocity_ms\n60,0.5\n100,0.9\n", "velocity does not fall with load"),
        ("load_kg,mean_velocity_ms\n80,0.6\n80,0.62\n", "same load"),
        ("load_kg,velocity\n80,0.6\n", "missing column 'mean_velocity_ms'"),
        ("load_kg,mean_velocity_ms\n80,0.6\nheavy,0.5\n", "line 3: 'heavy' in column 'load_kg'"),
        ("load_kg,mean_velocity_ms\n80,0.6\n100,-0.5\n", "line 3, column 'mean_velocity_ms'"),
        (
            "date,load_kg,mean_velocity_ms\n2025-01-01,80,0.6\nyesterday,100,0.5\n",
            "line 3, column 'date'",
        ),
    ],
)
def test_lvp_bad_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content, encoding="utf-8")
    err = _error(capsys, "analyze", "lvp", str(path), "--mvt", "0.3")
    assert str(path) in err
    assert expected in err


def test_lvp_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert "--mvt" in _error(capsys, "analyze", "lvp", str(EXAMPLE_LVP), "--mvt", "-1")
    assert "--exercise" in _error(capsys, "analyze", "lvp", str(EXAMPLE_LVP), "--exercise", "row")
    assert "--half-life-days" in _error(
        capsys, "analyze", "lvp", str(EXAMPLE_LVP), "--half-life-days", "0"
    )


def test_console_script_exit_code_and_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("t,position\n0,1\n0.01,1\n0.005,1\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "analyze", "lift", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == (
        f"gymctl: error: {path}, line 4, column 't': time goes backwards (t=0.005 s after t=0.01 s)"
    )
