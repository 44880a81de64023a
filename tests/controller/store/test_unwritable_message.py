"""The store's unwritable alarm names the file, SQLite's error and the likely cause."""

from __future__ import annotations

import errno
import sqlite3
from pathlib import Path

from controller.store.db import describe_unwritable, is_unwritable


def test_a_full_quota_names_the_file_the_error_and_the_cause(tmp_path: Path) -> None:
    path = tmp_path / "q.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x BLOB)")
    conn.execute("PRAGMA max_page_count = 2")
    try:
        conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
    except sqlite3.OperationalError as exc:
        error = exc
    else:
        raise AssertionError("the quota did not stop the write")
    finally:
        conn.close()
    assert is_unwritable(error)
    text = describe_unwritable(error, path)
    assert text.startswith(f"{path}: ")
    assert "database or disk is full (SQLITE_FULL)" in text
    assert text.endswith("the disk or the store's size quota is full")


def test_an_os_error_says_what_the_system_said(tmp_path: Path) -> None:
    error = OSError(errno.EROFS, "Read-only file system")
    assert is_unwritable(error)
    text = describe_unwritable(error, tmp_path / "x.db")
    assert str(tmp_path / "x.db") in text
    assert text.endswith("Read-only file system")
