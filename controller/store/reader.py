"""The store's read API for the panel and the command line.

Reads run on read-only connections (``mode=ro``, ``query_only``) in worker threads
(``asyncio.to_thread``), so they never block the event loop, never write, and in WAL mode
never wait for the writer. Each worker thread keeps its connection from one read to the
next (opening one costs more than most of the panel's queries; the panel reads at tens of
requests a second); every read is its own transaction, ended when it returns, so a kept
connection holds no snapshot between reads and never holds back a checkpoint.
:meth:`StoreReader.close` closes them (the :class:`~controller.store.Store` does at its
end); a reader that is closed, or never closed, still works: it opens a connection per
read. Rows come back as plain dicts; a column named ``x_json`` is returned parsed, under
``x``.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from controller.errors import NotFoundError, StoreError
from controller.priority import lower_thread_priority
from controller.store import traces
from controller.store.db import open_reader

T = TypeVar("T")
Row = dict[str, Any]


def _row(row: sqlite3.Row) -> Row:
    out: Row = {}
    for key in row.keys():  # noqa: SIM118 - sqlite3.Row is not a mapping
        value = row[key]
        if key.endswith("_json") and isinstance(value, str):
            out[key.removesuffix("_json")] = json.loads(value)
        else:
            out[key] = value
    return out


def fetch_rows(conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Row]:
    """The rows of ``sql`` as dicts (``x_json`` columns parsed, under ``x``)."""
    return as_rows(*fetch_raw(conn, sql, params))


def fetch_raw(
    conn: sqlite3.Connection, sql: str, params: Sequence[Any] = ()
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The column names of ``sql`` and its rows as SQLite gave them (cheap to compare)."""
    cursor = conn.execute(sql, tuple(params))
    names = [d[0] for d in cursor.description or ()]
    return names, cursor.fetchall()


def as_rows(names: list[str], raw: list[tuple[Any, ...]]) -> list[Row]:
    """Rows as dicts, ``x_json`` columns parsed under ``x``.

    Runs in a reader's worker thread, holding the GIL the event loop needs: the column
    names are read once per query and each row zipped into a dict, a few times cheaper than
    looking up every key of every ``sqlite3.Row``.
    """
    rows = [dict(zip(names, r, strict=True)) for r in raw]
    json_names = [n for n in names if n.endswith("_json")]
    if not json_names:
        return rows
    out: list[Row] = []
    for row_in in rows:
        row: Row = {}
        for key, value in row_in.items():
            if key.endswith("_json") and isinstance(value, str):
                row[key.removesuffix("_json")] = json.loads(value)
            else:
                row[key] = value
        out.append(row)
    return out


def fetch_one(conn: sqlite3.Connection, sql: str, params: Sequence[Any], what: str) -> Row:
    """The first row of ``sql``; :class:`NotFoundError` naming ``what`` when there is none."""
    rows = fetch_rows(conn, sql, params)
    if not rows:
        raise NotFoundError(f"no {what}")
    return rows[0]


def athlete_row(conn: sqlite3.Connection, athlete_id: str) -> Row:
    return fetch_one(
        conn, "SELECT * FROM athletes WHERE id = ?", [athlete_id], f"athlete {athlete_id!r}"
    )


def readiness_rows(
    conn: sqlite3.Connection,
    athlete_id: str,
    since_day: str | None = None,
    *,
    scores: bool = True,
) -> dict[str, list[Row]]:
    """``{"inputs": [...], "scores": [...]}`` of an athlete, from ``since_day`` on.

    ``scores=False`` leaves the scores out (empty): a check-in needs only the inputs, and
    every score row carries its components as JSON to parse, one row per check-in.
    """
    since = since_day or "0000-00-00"
    tables = (("inputs", "readiness_inputs"), ("scores", "readiness_scores"))
    return {
        key: fetch_rows(
            conn,
            f"SELECT * FROM {table} WHERE athlete_id = ? AND day >= ? ORDER BY day, ts",
            (athlete_id, since),
        )
        if scores or key == "inputs"
        else []
        for key, table in tables
    }


def decision_rows(
    conn: sqlite3.Connection,
    *,
    athlete_id: str | None = None,
    station_id: str | None = None,
    session_id: str | None = None,
    limit: int = 200,
) -> list[Row]:
    where, params = _where(
        {"athlete_id": athlete_id, "station_id": station_id, "session_id": session_id}
    )
    return fetch_rows(
        conn,
        f"SELECT * FROM decisions{where} ORDER BY ts DESC, id DESC LIMIT ?",
        [*params, limit],
    )


def _where(filters: dict[str, Any]) -> tuple[str, list[Any]]:
    clauses = [f"{column} = ?" for column, value in filters.items() if value is not None]
    params = [value for value in filters.values() if value is not None]
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class StoreReader:
    """Read-only queries on the store at ``path``; safe to use while the writer runs."""

    def __init__(self, path: Path, *, threads: int | None = None) -> None:
        """``threads``: reads run in that many threads of the reader's own (the store's
        reader: 2), which :meth:`close` ends; without, in the loop's default executor.

        Few threads because each holds the GIL while it turns rows into Python objects:
        several at once take it in turns with the event loop, which then waits for more
        than one hand-over (``controller/gil.py``) to run the stations."""
        self.path = path
        self._threads = threads
        self._executor: ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        #: every kept connection, by the thread that uses it (closed by :meth:`close`)
        self._kept: dict[int, sqlite3.Connection] = {}
        self._busy: set[int] = set()  #: threads in a read on their kept connection
        self._closed = False

    # -- plumbing ------------------------------------------------------------------------

    def read_sync(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` on this thread's read-only connection in one read transaction (a
        snapshot), ended when ``fn`` returns."""
        conn, kept = self._acquire()
        failed = False
        try:
            conn.execute("BEGIN")
            try:
                return fn(conn)
            finally:
                conn.rollback()  # read-only: ends the snapshot
        except sqlite3.Error as exc:
            failed = True
            raise StoreError(f"{self.path}: read failed: {exc}") from exc
        finally:
            if kept:
                self._release(conn, failed)
            else:
                conn.close()

    def close(self) -> None:
        """Close the kept connections (one in a read is closed by its thread when the read
        ends: a worker thread may outlive a cancelled read) and end the reader's threads
        once their reads are done; later reads open a connection each, in the loop's
        default executor."""
        with self._lock:
            self._closed = True
            idle = [c for t, c in self._kept.items() if t not in self._busy]
            self._kept = {t: c for t, c in self._kept.items() if t in self._busy}
            executor, self._executor = self._executor, None
        for conn in idle:
            conn.close()
        if executor is not None:
            executor.shutdown(wait=False)

    def _acquire(self) -> tuple[sqlite3.Connection, bool]:
        """This thread's kept connection, marked busy (or a fresh one to close after)."""
        me = threading.get_ident()
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        with self._lock:
            if self._closed:
                conn = None
            elif conn is not None and self._kept.get(me) is conn:
                self._busy.add(me)
                return conn, True
        fresh = open_reader(self.path, same_thread=False)
        with self._lock:
            if self._closed:
                return fresh, False
            self._kept[me] = fresh
            self._busy.add(me)
        self._local.conn = fresh
        return fresh, True

    def _release(self, conn: sqlite3.Connection, failed: bool) -> None:
        """The read is over: a failed connection is not kept (the file may have gone), nor
        one whose reader was closed meanwhile."""
        me = threading.get_ident()
        with self._lock:
            self._busy.discard(me)
            drop = failed or self._closed
            if drop and self._kept.get(me) is conn:
                del self._kept[me]
        if drop:
            self._local.conn = None
            conn.close()

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        executor = self._executor
        if executor is None and self._threads is not None:
            with self._lock:
                if not self._closed:
                    executor = self._executor = self._executor or ThreadPoolExecutor(
                        self._threads,
                        thread_name_prefix="store-read",
                        initializer=lower_thread_priority,
                    )
        if executor is None:
            return await asyncio.to_thread(self.read_sync, fn)
        return await asyncio.get_running_loop().run_in_executor(executor, self.read_sync, fn)

    async def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Any read-only SQL; writes are refused by the connection (``query_only``)."""

        return await self.read(lambda conn: fetch_rows(conn, sql, params))

    async def one(self, sql: str, params: Sequence[Any], what: str) -> Row:
        rows = await self.query(sql, params)
        if not rows:
            raise NotFoundError(f"no {what}")
        return rows[0]

    # -- the schema ----------------------------------------------------------------------

    async def schema_version(self) -> int:
        rows = await self.query("PRAGMA user_version")
        return int(next(iter(rows[0].values())))

    async def table_counts(self) -> dict[str, int]:
        def run(conn: sqlite3.Connection) -> dict[str, int]:
            names = [
                r[0]
                for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table' "
                    "AND name NOT LIKE 'sqlite_%' ORDER BY name"
                )
            ]
            return {
                n: int(conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0]) for n in names
            }

        return await self.read(run)

    # -- athletes and training -----------------------------------------------------------

    async def athletes(self) -> list[Row]:
        return await self.query("SELECT * FROM athletes ORDER BY display_name, id")

    async def athlete(self, athlete_id: str) -> Row:
        return await self.one(
            "SELECT * FROM athletes WHERE id = ?", [athlete_id], f"athlete {athlete_id!r}"
        )

    async def sessions(
        self, *, athlete_id: str | None = None, station_id: str | None = None, limit: int = 50
    ) -> list[Row]:
        where, params = _where({"athlete_id": athlete_id, "station_id": station_id})
        return await self.query(
            f"SELECT * FROM sessions{where} ORDER BY started DESC LIMIT ?", [*params, limit]
        )

    async def session(self, session_id: str) -> Row:
        return await self.one(
            "SELECT * FROM sessions WHERE id = ?", [session_id], f"session {session_id!r}"
        )

    async def sets(self, session_id: str) -> list[Row]:
        return await self.query(
            "SELECT * FROM sets WHERE session_id = ? ORDER BY set_index", [session_id]
        )

    async def reps(
        self,
        *,
        set_id: str | None = None,
        session_id: str | None = None,
        athlete_id: str | None = None,
        limit: int = 10_000,
    ) -> list[Row]:
        where, params = _where(
            {"set_id": set_id, "session_id": session_id, "athlete_id": athlete_id}
        )
        return await self.query(
            f"SELECT * FROM reps{where} ORDER BY ts, set_index, rep_index LIMIT ?",
            [*params, limit],
        )

    async def lv_points(self, athlete_id: str, exercise: str | None = None) -> list[Row]:
        where, params = _where({"athlete_id": athlete_id, "exercise": exercise})
        return await self.query(f"SELECT * FROM lv_points{where} ORDER BY ts", params)

    async def readiness(
        self, athlete_id: str, *, since_day: str | None = None, scores: bool = True
    ) -> dict[str, list[Row]]:
        """``{"inputs": [...], "scores": [...]}`` of an athlete, from ``since_day`` on
        (see :func:`readiness_rows`)."""
        return await self.read(
            lambda conn: readiness_rows(conn, athlete_id, since_day, scores=scores)
        )

    async def traces(self, *, set_id: str) -> list[tuple[Row, npt.NDArray[np.float64]]]:
        """The raw traces of a set, each as (row without the blob, decoded samples)."""

        def run(conn: sqlite3.Connection) -> list[tuple[Row, npt.NDArray[np.float64]]]:
            out = []
            for r in conn.execute("SELECT * FROM traces WHERE set_id = ? ORDER BY t0", (set_id,)):
                row = _row(r)
                blob = row.pop("data")
                values = traces.decode(
                    blob,
                    n_samples=row["n_samples"],
                    width=row["width"],
                    dtype=row["dtype"],
                    codec=row["codec"],
                )
                out.append((row, values))
            return out

        return await self.read(run)

    # -- logs ----------------------------------------------------------------------------

    async def decisions(
        self,
        *,
        athlete_id: str | None = None,
        station_id: str | None = None,
        session_id: str | None = None,
        limit: int = 200,
    ) -> list[Row]:
        return await self.read(
            lambda conn: decision_rows(
                conn,
                athlete_id=athlete_id,
                station_id=station_id,
                session_id=session_id,
                limit=limit,
            )
        )

    async def commands(self, *, station_id: str | None = None, limit: int = 200) -> list[Row]:
        where, params = _where({"station_id": station_id})
        return await self.query(
            f"SELECT * FROM commands{where} ORDER BY ts DESC, id DESC LIMIT ?", [*params, limit]
        )

    async def station_events(self, station_id: str, *, limit: int = 200) -> list[Row]:
        return await self.query(
            "SELECT * FROM station_events WHERE station_id = ? ORDER BY ts DESC, id DESC LIMIT ?",
            [station_id, limit],
        )

    async def alerts(self, *, limit: int = 100, since: float | None = None) -> list[Row]:
        return await self.query(
            "SELECT * FROM alerts WHERE ts >= ? ORDER BY ts DESC, id DESC LIMIT ?",
            [since or 0.0, limit],
        )

    async def audit_log(self, *, limit: int = 100, before_id: int | None = None) -> list[Row]:
        return await self.query(
            "SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?",
            [before_id if before_id is not None else 2**63 - 1, limit],
        )

    # -- staff, tokens, web sessions -------------------------------------------------------

    async def staff_users(self) -> list[Row]:
        return await self.query(
            "SELECT id, username, role, created, disabled, last_login FROM staff_users "
            "ORDER BY username"
        )

    async def staff_user(self, username: str) -> Row:
        """One user with the password hash (for the login check)."""
        return await self.one(
            "SELECT * FROM staff_users WHERE username = ?", [username], f"user {username!r}"
        )

    async def api_token(self, token_hash: str) -> Row:
        """A live token (not revoked, not expired) with its user's name and role."""
        return await self.one(
            "SELECT t.*, u.username, u.role, u.disabled FROM api_tokens t "
            "JOIN staff_users u ON u.id = t.user_id "
            "WHERE t.token_hash = ? AND t.revoked IS NULL "
            "AND (t.expires IS NULL OR t.expires > ?)",
            [token_hash, time.time()],
            "such token",
        )

    async def web_session(self, session_hash: str) -> Row:
        """A live web session with its user's name and role."""
        return await self.one(
            "SELECT s.*, u.username, u.role, u.disabled FROM web_sessions s "
            "JOIN staff_users u ON u.id = s.user_id "
            "WHERE s.session_hash = ? AND s.expires > ?",
            [session_hash, time.time()],
            "such session",
        )
