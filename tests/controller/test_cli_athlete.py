from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import date
from functools import partial
from pathlib import Path

import pytest

from controller.athlete_data import daily_inputs
from controller.cli import main
from controller.store import Store
from controller.store.people import create_athlete


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


def test_import_stores_readiness_inputs_and_replaces_them_on_reimport(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    db = tmp_path / "gym.db"

    async def add() -> str:
        async with Store(db, retention=False) as store:
            return await store.writer.call(partial(create_athlete, display_name="Ines"))

    athlete = asyncio.run(add())
    export = tmp_path / "export.csv"
    export.write_text(
        "date,sleep_h,sleep_quality,resting_hr_bpm,rmssd_ms\n"
        "2026-03-01,7.5,4,52,60\n2026-03-02,6.0,,55,48\n"
    )
    argv = ["athlete", "import", str(export), "--athlete", athlete, "--db", str(db), "--json"]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["stored_values"] == 7
    assert main(argv) == 0  # the same file again replaces, not doubles
    capsys.readouterr()
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        rows = [dict(r) for r in conn.execute("SELECT * FROM readiness_inputs")]
        actions = [r[0] for r in conn.execute("SELECT action FROM audit_log")]
    finally:
        conn.close()
    assert len(rows) == 7
    assert {r["source"] for r in rows} == {"import:export.csv"}
    days = daily_inputs(rows)
    assert [d.day for d in days] == [date(2026, 3, 1), date(2026, 3, 2)]
    assert days[0].sleep_quality == 4
    assert days[1].sleep_quality is None
    assert days[1].resting_hr_bpm == 55
    assert abs((days[0].ln_rmssd or 0) - 4.0943445622) < 1e-9  # ln 60
    assert actions.count("athlete.import") == 2


def test_import_into_the_store_refuses_an_unknown_athlete(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    db = tmp_path / "gym.db"

    async def create() -> None:
        async with Store(db, retention=False):
            pass

    asyncio.run(create())
    export = tmp_path / "export.csv"
    export.write_text("date,sleep_h\n2026-03-01,7.5\n")
    assert main(["athlete", "import", str(export), "--athlete", "a-nobody", "--db", str(db)]) == 2
    assert "--athlete: no athlete a-nobody" in capsys.readouterr().err
    assert main(["athlete", "import", str(export), "--db", str(db)]) == 2
    assert "--athlete" in capsys.readouterr().err
