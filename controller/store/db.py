"""Opening the database: the writer's connection (WAL, pragmas, migrations) and readers'.

The pragmas are the store's durability and privacy policy in one place:

* ``journal_mode=WAL``: readers (panel, CLI) never block the writer, and the writer never
  blocks them.
* ``synchronous=FULL``: a commit is on disk when it returns, so a power cut loses nothing
  that was reported committed (WAL with NORMAL would only survive a process crash).
* ``secure_delete=ON``: deleted rows are overwritten, so erasing an athlete does not leave
  their data in free pages of the file.
* ``foreign_keys=ON`` for the staff tables that declare them.
* ``max_page_count`` when ``store.max_size_mb`` is set: past the quota, writes fail exactly
  like a full disk (and raise the same alarm).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlite_utils import Database

from controller.errors import StoreError
from controller.store.migrations import MIGRATIONS_DIR, migrate

BUSY_TIMEOUT_MS = 5000

#: SQLite primary result codes that mean "cannot write now", not "this write is wrong":
#: PERM, BUSY, LOCKED, READONLY, IOERR, FULL, CANTOPEN. The batch is kept and retried.
UNWRITABLE_CODES = frozenset({3, 5, 6, 8, 10, 13, 14})


def is_unwritable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot be written, not that the data is bad."""
    if not isinstance(exc, sqlite3.Error):
        return isinstance(exc, OSError)
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in UNWRITABLE_CODES
    return isinstance(exc, sqlite3.OperationalError) and any(
        text in str(exc) for text in ("readonly", "disk", "full", "locked", "unable to open")
    )


def open_writer(
    path: Path, *, max_size_mb: int | None = None, migrations: Path = MIGRATIONS_DIR
) -> Database:
    """The one writing connection: pragmas set, schema migrated. Call from the writer thread."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000)
    db = Database(conn, execute_plugins=False)
    try:
        db.enable_wal()
        for pragma in ("synchronous=FULL", "foreign_keys=ON", "secure_delete=ON"):
            db.execute(f"PRAGMA {pragma}")
        set_size_limit(db, max_size_mb)
        migrate(db, directory=migrations)
    except BaseException:
        conn.close()
        raise
    return db


def set_size_limit(db: Database, max_size_mb: int | None) -> None:
    """Apply (or lift, with None) the size quota of ``store.max_size_mb``."""
    page_size = int(db.execute("PRAGMA page_size").fetchone()[0])
    pages = 2**31 - 2 if max_size_mb is None else max(1, max_size_mb * 1024 * 1024 // page_size)
    db.execute(f"PRAGMA max_page_count = {pages:d}")


def open_reader(path: Path, *, same_thread: bool = True) -> sqlite3.Connection:
    """A read-only connection (``mode=ro``, ``query_only``) with rows as ``sqlite3.Row``;
    ``same_thread=False`` lets another thread close it (the reader's kept connections)."""
    if not path.exists():
        raise StoreError(f"{path}: no such database")
    try:
        conn = sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            timeout=5.0,
            check_same_thread=same_thread,
        )
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot open for reading: {exc}") from exc
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA query_only = ON")
    return conn
