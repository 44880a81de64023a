"""``gymctl athlete export`` and ``gymctl athlete erase`` on a real database file."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
import pyzipper

from controller.cli import main
from controller.events import SessionStarted
from controller.store import Store
from controller.store.subjects import athlete_tables
from tests.controller.store.test_subjects import MARKER_NAME, two_athletes

PASSPHRASE = "quartz meadow seven ravens"


@pytest.fixture
def site_db(tmp_path: Path) -> tuple[Path, str, str]:
    path = tmp_path / "gym.db"

    async def fill() -> tuple[str, str]:
        async with Store(path, retention=False) as store:
            return await two_athletes(store)

    zelda, other = asyncio.run(fill())
    return path, zelda, other


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def count(path: Path, sql: str, *params: object) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def test_export_encrypted_with_a_passphrase_file(
    site_db: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, zelda, other = site_db
    secret = tmp_path / "pass.txt"
    secret.write_text(PASSPHRASE + "\n")  # the newline is not part of it
    out = tmp_path / "zelda.zip"
    code, stdout, err = run(
        capsys, "athlete", "export", zelda, "--out", str(out), "--db", str(db),
        "--passphrase-file", str(secret), "--json",
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(stdout)
    assert report == {"athlete": zelda, "file": str(out), "bytes": out.stat().st_size,
                      "encrypted": True}  # fmt: skip
    with pyzipper.AESZipFile(out) as zf:
        zf.setpassword(PASSPHRASE.encode())
        data = json.loads(zf.read("athlete.json"))
    assert data["tables"]["athletes"][0]["display_name"] == MARKER_NAME
    assert other not in json.dumps(data)
    assert MARKER_NAME.encode() not in out.read_bytes()
    assert count(db, "SELECT count(*) FROM audit_log WHERE action = 'athlete.export'") == 1
    # refusals: the file exists, a short passphrase, an unknown athlete, no store given
    code, _, err = run(capsys, "athlete", "export", zelda, "--out", str(out), "--db", str(db))
    assert code == 2
    assert "exists already (use --force" in err
    secret.write_text("too short\n")
    code, _, err = run(
        capsys, "athlete", "export", zelda, "--out", str(tmp_path / "b.zip"), "--db", str(db),
        "--passphrase-file", str(secret),
    )  # fmt: skip
    assert code == 2
    assert f"{secret}: must be at least 12 characters" in err
    code, _, err = run(
        capsys, "athlete", "export", "a-nobody", "--out", str(tmp_path / "c.zip"), "--db", str(db)
    )
    assert code == 2
    assert "no athlete 'a-nobody'" in err
    assert not (tmp_path / "c.zip").exists()
    code, _, err = run(capsys, "athlete", "export", zelda, "--out", str(tmp_path / "d.zip"))
    assert code == 2
    assert "--db PATH or the site config with --config FILE" in err


def test_a_plain_export_and_the_table_output(
    site_db: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, zelda, _ = site_db
    out = tmp_path / "plain.zip"
    code, stdout, _ = run(capsys, "athlete", "export", zelda, "--out", str(out), "--db", str(db))
    assert code == 0
    assert "not encrypted" in stdout
    with pyzipper.ZipFile(out) as zf:
        assert "athlete.json" in zf.namelist()


def test_erase_needs_yes_then_leaves_nothing(
    site_db: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, zelda, other = site_db
    code, _, err = run(capsys, "athlete", "erase", zelda, "--db", str(db))
    assert code == 2
    assert "confirm with --yes" in err
    assert count(db, "SELECT count(*) FROM athletes WHERE id = ?", zelda) == 1
    code, stdout, err = run(capsys, "athlete", "erase", zelda, "--yes", "--db", str(db), "--json")
    assert code == 0, err
    report = json.loads(stdout)
    assert report["erased"] is True
    assert report["rows_deleted"]["athletes"] == 1
    assert report["rows_deleted"]["reps"] == 3
    conn = sqlite3.connect(db)
    try:
        for table in athlete_tables(conn):
            n = conn.execute(f'SELECT count(*) FROM "{table}" WHERE athlete_id = ?', (zelda,))
            assert n.fetchone()[0] == 0, table
            kept = conn.execute(f'SELECT count(*) FROM "{table}" WHERE athlete_id = ?', (other,))
            assert kept.fetchone()[0] > 0, table
    finally:
        conn.close()
    wal = db.with_name(db.name + "-wal")
    raw = db.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
    assert MARKER_NAME.encode() not in raw
    assert zelda.encode() not in raw
    code, _, err = run(capsys, "athlete", "erase", zelda, "--yes", "--db", str(db))
    assert code == 2
    assert f"no athlete {zelda!r}" in err


def test_erase_refuses_an_athlete_in_a_running_session(
    site_db: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    db, _, other = site_db

    async def start() -> None:
        async with Store(db, retention=False) as store:
            store.writer.record(
                SessionStarted(station_id="rack-2", session_id="ses-live", athlete_id=other)
            )
            await store.writer.flush()

    asyncio.run(start())
    code, _, err = run(capsys, "athlete", "erase", other, "--yes", "--db", str(db))
    assert code == 2
    assert "running session (ses-live at rack-2): end it first" in err
    assert count(db, "SELECT count(*) FROM athletes WHERE id = ?", other) == 1


@pytest.mark.parametrize("sub", ["export", "erase"])
def test_help(sub: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["athlete", sub, "--help"])
    assert exit_info.value.code == 0
    assert "ATHLETE" in capsys.readouterr().out
