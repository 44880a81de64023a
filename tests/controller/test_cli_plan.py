from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.cli import main
from plans.plan_io import builtin_plans


def test_list_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "list", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)["plans"]
    assert {p["name"] for p in listed} == set(builtin_plans())


def test_list_and_show_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "list"]) == 0
    assert "vbt-strength" in capsys.readouterr().out
    assert main(["plan", "show", "return-to-training"]) == 0
    text = capsys.readouterr().out
    assert "caps: max_percent_1rm 65.0" in text
    assert "stop at 15 % VL" in text


@pytest.mark.parametrize("fmt", ["--json", "--yaml"])
def test_show_exports_a_file_that_validates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    assert main(["plan", "show", "zone2-endurance", fmt]) == 0
    path = tmp_path / ("plan.json" if fmt == "--json" else "plan.yaml")
    path.write_text(capsys.readouterr().out)
    assert main(["plan", "validate", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == "zone2-endurance"
    assert main(["plan", "show", str(path)]) == 0
    assert "HR-controlled ERG" in capsys.readouterr().out


def test_validate_broken_file_exits_2_naming_fields(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "plan.yaml"
    path.write_text(
        "name: broken\ntitle: B\ngoal: strength\nweeks: 3\nsessions:\n"
        "  - name: a\n    blocks:\n"
        "      - {type: strength, exercise: squat, sets: 3, reps: {min: 3, max: 5},"
        " load: {kind: percent_1rm, percent: 80}}\n"
        "      - {type: strength, exercise: bench_press, sets: 3, reps: {min: 3, max: 5},"
        " load: {kind: percent_1rm, percent: 180}, velocity_loss_stop_pct: 2}\n"
    )
    assert main(["plan", "validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: 2 problems" in err or f"{path}: 3 problems" in err
    assert "sessions[0].blocks[1].load.percent: must be at most 110" in err
    assert "sessions[0].blocks[1].velocity_loss_stop_pct" in err
    assert "Traceback" not in err


def test_show_unknown_plan(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plan", "show", "no-such-plan"]) == 2
    assert "no built-in plan 'no-such-plan'" in capsys.readouterr().err
