from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from sqlite_utils import Database

from controller.errors import MigrationError
from controller.store.migrations import MIGRATIONS_DIR, discover, migrate, schema_version

from .conftest import rows


def fresh(path: Path, directory: Path = MIGRATIONS_DIR) -> list[int]:
    db = Database(path)
    try:
        return migrate(db, directory=directory)
    finally:
        db.close()


def test_a_fresh_database_gets_every_migration_recorded(db_path: Path) -> None:
    latest = len(discover())
    assert fresh(db_path) == list(range(1, latest + 1))
    assert rows(db_path, "PRAGMA user_version") == [(latest,)]
    recorded = rows(db_path, "SELECT version, name FROM schema_migrations ORDER BY version")
    assert recorded[0] == (1, "initial")
    assert len(recorded) == latest
    tables = {r[0] for r in rows(db_path, "SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"reps", "sets", "sessions", "athletes", "traces", "decisions", "audit_log"} <= tables
    assert fresh(db_path) == []  # idempotent


@pytest.fixture
def two_migrations(tmp_path: Path) -> Path:
    directory = tmp_path / "migrations"
    directory.mkdir()
    shutil.copy(MIGRATIONS_DIR / "0001_initial.sql", directory)
    return directory


def test_upgrade_path_keeps_data(db_path: Path, two_migrations: Path) -> None:
    assert fresh(db_path, two_migrations) == [1]
    conn = sqlite3.connect(db_path)
    conn.execute(
        "INSERT INTO athletes (id, display_name, created, updated) VALUES ('a-1', 'Ana', 0, 0)"
    )
    conn.commit()
    conn.close()
    (two_migrations / "0002_athlete_height.sql").write_text(
        "ALTER TABLE athletes ADD COLUMN height_cm REAL;\n"
        "UPDATE athletes SET height_cm = 170 WHERE id = 'a-1';\n"
    )
    assert fresh(db_path, two_migrations) == [2]
    assert rows(db_path, "SELECT id, display_name, height_cm FROM athletes") == [
        ("a-1", "Ana", 170.0)
    ]
    assert rows(db_path, "PRAGMA user_version") == [(2,)]
    assert [r[0] for r in rows(db_path, "SELECT version FROM schema_migrations")] == [1, 2]


def test_a_failing_migration_leaves_nothing_half_done(db_path: Path, two_migrations: Path) -> None:
    fresh(db_path, two_migrations)
    (two_migrations / "0002_broken.sql").write_text(
        "CREATE TABLE half (x INTEGER);\nINSERT INTO no_such_table VALUES (1);\n"
    )
    with pytest.raises(MigrationError, match="0002_broken failed: no such table"):
        fresh(db_path, two_migrations)
    assert rows(db_path, "PRAGMA user_version") == [(1,)]
    assert rows(db_path, "SELECT name FROM sqlite_master WHERE name = 'half'") == []


def test_a_database_newer_than_the_code_is_refused(db_path: Path) -> None:
    fresh(db_path)
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    db = Database(db_path)
    with pytest.raises(MigrationError, match="schema version 99, newer than this gymctl"):
        schema_version(db) and migrate(db)
    db.close()


def test_an_edited_migration_is_refused(db_path: Path, two_migrations: Path) -> None:
    fresh(db_path, two_migrations)
    path = two_migrations / "0001_initial.sql"
    path.write_text(path.read_text() + "\n-- edited\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        fresh(db_path, two_migrations)


def test_numbering_gaps_are_refused(tmp_path: Path, two_migrations: Path) -> None:
    (two_migrations / "0003_gap.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="migration 0002 is missing"):
        discover(two_migrations)
