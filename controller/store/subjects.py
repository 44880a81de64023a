"""Data-subject requests: export everything the store holds about one athlete, or erase it.

Which tables hold an athlete's data is read from the schema itself: every table with an
``athlete_id`` column, plus the ``athletes`` row. A table added by a later migration with
that column is covered without touching this code (and the tests check the same way).

Erasure is a hard delete in one transaction, with ``secure_delete`` on (deleted content is
overwritten in the file) and a WAL checkpoint afterwards (so the write-ahead log does not
keep old copies of the pages). Raw traces are blobs in the ``traces`` table, so they go
with their rows. The audit log keeps one line saying an athlete was erased and how many
rows went, without the athlete's id or name.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import os
import sqlite3
import time
import zipfile
from pathlib import Path
from typing import Any, cast

import pyzipper
from sqlite_utils import Database

from controller.errors import NotFoundError
from controller.store import traces
from controller.store.people import audit
from kernels.errors import InvalidInputError

ATHLETE_COLUMN = "athlete_id"


def athlete_tables(conn: sqlite3.Connection) -> list[str]:
    """Every table with an ``athlete_id`` column, by name (``athletes`` itself excluded)."""
    names = [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return [
        name
        for name in names
        if any(col[1] == ATHLETE_COLUMN for col in conn.execute(f'PRAGMA table_info("{name}")'))
    ]


def collect(conn: sqlite3.Connection, athlete_id: str) -> dict[str, list[dict[str, Any]]]:
    """All rows about the athlete, by table (the ``athletes`` row first)."""
    conn.row_factory = sqlite3.Row
    athlete = conn.execute("SELECT * FROM athletes WHERE id = ?", (athlete_id,)).fetchall()
    if not athlete:
        raise NotFoundError(f"no athlete {athlete_id!r}")
    out: dict[str, list[dict[str, Any]]] = {"athletes": [dict(r) for r in athlete]}
    for table in athlete_tables(conn):
        rows = conn.execute(
            f'SELECT * FROM "{table}" WHERE {ATHLETE_COLUMN} = ? ORDER BY rowid', (athlete_id,)
        ).fetchall()
        out[table] = [dict(r) for r in rows]
    return out


#: Passphrases shorter than this are refused: the zip standard's key derivation (PBKDF2,
#: 1000 rounds) is fixed, so the strength is the passphrase's (docs/threat-model.md).
MIN_PASSPHRASE = 12
MAX_PASSPHRASE = 1024


def check_passphrase(passphrase: str, *, where: str = "passphrase") -> str:
    """The passphrase as given, or ``InvalidInputError`` naming what is wrong with it."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInputError(
            f"must be at least {MIN_PASSPHRASE} characters (four or more random words "
            "make a good one)",
            where=where,
        )
    if len(passphrase) > MAX_PASSPHRASE:
        raise InvalidInputError(f"must be at most {MAX_PASSPHRASE} characters", where=where)
    if not passphrase.isprintable():
        raise InvalidInputError("must be printable text (no line breaks)", where=where)
    return passphrase


def _open_zip(path: Path, passphrase: str | None) -> zipfile.ZipFile:
    """A plain zip, or an AES-256 one (WinZip AE-2: 7-Zip, Keka, WinZip, ... open it)."""
    if passphrase is None:
        return zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED)
    zf = pyzipper.AESZipFile(
        path, "w", compression=pyzipper.ZIP_DEFLATED, encryption=pyzipper.WZ_AES
    )
    zf.setpassword(passphrase.encode("utf-8"))
    zf.setencryption(pyzipper.WZ_AES, nbits=256)
    return cast(zipfile.ZipFile, zf)


def write_export(
    data: dict[str, list[dict[str, Any]]], dest: Path, *, passphrase: str | None = None
) -> Path:
    """A zip with ``athlete.json`` (every table), ``csv/<table>.csv`` and decoded traces;
    every member AES-256 encrypted when a ``passphrase`` is given.

    The zip is written next to ``dest`` and renamed into place: a failed export leaves no
    half-written file.
    """
    if passphrase is not None:
        check_passphrase(passphrase)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.partial")
    json_data: dict[str, Any] = {
        "format": "gymctl-athlete-export/1",
        "exported": time.time(),
        "encrypted": passphrase is not None,
        "tables": {},
    }
    try:
        with _open_zip(tmp, passphrase) as zf:
            for table, rows in data.items():
                plain = [_plain(row) for row in rows]
                json_data["tables"][table] = plain
                zf.writestr(f"csv/{table}.csv", _csv(rows))
            for row in data.get("traces", []):
                values = traces.decode(
                    row["data"],
                    n_samples=row["n_samples"],
                    width=row["width"],
                    dtype=row["dtype"],
                    codec=row["codec"],
                )
                buffer = io.StringIO()
                writer = csv.writer(buffer)
                width = row["width"]
                writer.writerow(
                    ["t", *(["value"] if width == 1 else [f"v{i}" for i in range(width)])]
                )
                for i, sample in enumerate(values.reshape(row["n_samples"], width)):
                    writer.writerow([row["t0"] + i * row["period"], *sample.tolist()])
                zf.writestr(f"traces/{row['id']}-{row['channel']}.csv", buffer.getvalue())
            zf.writestr(
                "athlete.json", json.dumps(json_data, indent=1, allow_nan=False, default=str)
            )
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, bytes):
            out[key] = {"base64": base64.b64encode(value).decode("ascii")}
        elif key.endswith("_json") and isinstance(value, str):
            out[key.removesuffix("_json")] = json.loads(value)
        else:
            out[key] = value
    return out


def _csv(rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    k: base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v
                    for k, v in row.items()
                }
            )
    return buffer.getvalue()


def erase(db: Database, *, athlete_id: str, actor: str) -> dict[str, int]:
    """Hard-delete the athlete from every table; returns rows deleted per table.

    Runs in the writer thread (``StoreWriter.call``); follow it with :func:`checkpoint`.
    """
    conn = db.conn
    if conn.execute("SELECT 1 FROM athletes WHERE id = ?", (athlete_id,)).fetchone() is None:
        raise NotFoundError(f"no athlete {athlete_id!r}")
    counts: dict[str, int] = {}
    for table in athlete_tables(conn):
        cursor = conn.execute(f'DELETE FROM "{table}" WHERE {ATHLETE_COLUMN} = ?', (athlete_id,))
        counts[table] = cursor.rowcount
    counts["athletes"] = conn.execute("DELETE FROM athletes WHERE id = ?", (athlete_id,)).rowcount
    audit(
        db,
        actor=actor,
        action="athlete.erase",
        target_type="athlete",
        detail={"rows_deleted": sum(counts.values())},
    )
    return counts


def checkpoint(db: Database, *, wait_ms: int | None = None) -> tuple[int, int, int]:
    """Copy the WAL into the database and truncate it: no old page copies stay behind.

    Returns SQLite's (busy, log frames, checkpointed frames); busy is 1 when a reader held
    a snapshot for longer than the wait (``wait_ms``, default the connection's busy
    timeout): the erased pages are then still in the log (and the file), and the caller
    must try again (``Store.erase_athlete`` does).
    """
    conn = db.conn
    previous = int(conn.execute("PRAGMA busy_timeout").fetchone()[0])
    if wait_ms is not None:
        conn.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
    try:
        row = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        if wait_ms is not None:
            conn.execute(f"PRAGMA busy_timeout = {previous}")
    return int(row[0]), int(row[1]), int(row[2])
