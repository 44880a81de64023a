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

import os
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


#: what each "cannot write" result code means to staff reading the alarm
_CAUSES = {
    3: "permission denied",
    5: "another process holds the database",
    6: "the database is locked",
    8: "the database is read-only",
    10: "the file system refused a read or write (read-only, failing or full disk)",
    13: "the disk or the store's size quota is full",
    14: "the file cannot be opened",
}


def describe_unwritable(exc: BaseException, path: Path) -> str:
    """One line for the alarm: the file, SQLite's own words and code, and the likely cause.

    SQLite reports a file system that turned read-only under an open database as an I/O
    error (``SQLITE_IOERR_WRITE``, ``_FSYNC``, ``_TRUNCATE``), not as ``SQLITE_READONLY``,
    so the file system's flags and free space are looked at too.
    """
    code = getattr(exc, "sqlite_errorcode", None)
    name = getattr(exc, "sqlite_errorname", None)
    what = f"{exc} ({name})" if name else str(exc)
    cause = _CAUSES.get(code & 0xFF) if isinstance(code, int) else None
    if isinstance(exc, OSError) and exc.errno is not None:
        cause = os.strerror(exc.errno)
    try:
        fs = os.statvfs(path.parent)
    except OSError:
        fs = None
    if fs is not None and fs.f_flag & os.ST_RDONLY:
        cause = "the file system is mounted read-only"
    elif fs is not None and fs.f_bavail == 0:
        cause = "the disk is full"
    return f"{path}: {what}" + (f": {cause}" if cause else "")


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
