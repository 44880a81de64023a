"""Numbered schema migrations: ``NNNN_name.sql`` files in this directory, applied in order.

Each migration runs in one transaction together with the bump of ``PRAGMA user_version``
and its row in ``schema_migrations`` (version, name, SHA-256 of the file, when), so a
migration is either wholly applied or not at all. A database newer than this code, or an
applied migration whose file has changed since, is refused with ``MigrationError`` rather
than guessed at.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from controller.errors import MigrationError

MIGRATIONS_DIR = Path(__file__).resolve().parent
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")

_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    checksum TEXT NOT NULL,
    applied REAL NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migrations in ``directory``, numbered 1, 2, 3... without gaps."""
    found: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE.match(path.name)
        if match is None:
            raise MigrationError(f"{path.name}: migration files are named NNNN_name.sql")
        found.append(Migration(int(match[1]), match[2], path.read_text(encoding="utf-8")))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(
                f"migration {expected:04d} is missing (found {migration.version:04d} next)"
            )
    return found


def schema_version(db: Database) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def migrate(db: Database, *, directory: Path = MIGRATIONS_DIR) -> list[int]:
    """Bring ``db`` to the newest schema; returns the versions applied now (maybe none)."""
    migrations = discover(directory)
    latest = len(migrations)
    current = schema_version(db)
    if current > latest:
        raise MigrationError(
            f"the database is at schema version {current}, newer than this gymctl "
            f"(which knows up to {latest}): upgrade gymctl or use another database"
        )
    _verify_applied(db, migrations[:current])
    applied: list[int] = []
    for migration in migrations[current:]:
        try:
            with db.atomic():
                db.execute(_BOOKKEEPING)
                db.executescript(migration.sql)
                db.execute(
                    "INSERT INTO schema_migrations (version, name, checksum, applied) "
                    "VALUES (?, ?, ?, ?)",
                    [migration.version, migration.name, migration.checksum, time.time()],
                )
                db.execute(f"PRAGMA user_version = {migration.version:d}")
        except sqlite3.DatabaseError as exc:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} failed: {exc}"
            ) from exc
        applied.append(migration.version)
    return applied


def _verify_applied(db: Database, migrations: list[Migration]) -> None:
    if not migrations:
        return
    try:
        cursor = db.execute("SELECT version, checksum FROM schema_migrations")
    except sqlite3.OperationalError as exc:
        raise MigrationError(
            f"schema version {len(migrations)} but no migration log: {exc}"
        ) from exc
    rows = {int(version): str(checksum) for version, checksum in cursor}
    for migration in migrations:
        recorded = rows.get(migration.version)
        if recorded is None:
            raise MigrationError(
                f"schema version says {len(migrations)} but migration "
                f"{migration.version:04d} is not recorded in schema_migrations"
            )
        if recorded != migration.checksum:
            raise MigrationError(
                f"migration {migration.version:04d}_{migration.name} changed after it was "
                "applied to this database; write a new migration instead of editing it"
            )
