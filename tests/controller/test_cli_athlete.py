from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.cli import main


def test_import_prints_what_it_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.csv"
    path.write_text(
        "date,sleep_h,resting_hr_bpm,rmssd_ms\n2026-03-01,7.5,52,60\n2026-03-02,6.0,55,48\n"
    )
    assert main(["athlete", "import", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n_records"] == 2
    assert out["first_day"] == "2026-03-01"
    assert out["records"][1]["resting_hr_bpm"] == 55
    assert main(["athlete", "import", str(path)]) == 0
    assert "2 day(s) from 2026-03-01 to 2026-03-02" in capsys.readouterr().out


def test_import_error_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "export.json"
    path.write_text('{"records": [{"date": "2026-03-01", "resting_hr_bpm": 300}]}')
    assert main(["athlete", "import", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: records[0]: field 'resting_hr_bpm': 300 is outside 25 to 150" in err
