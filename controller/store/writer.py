"""The store's one writer: a dedicated thread fed by a queue, committing in batches.

Why a thread and not the event loop: SQLite calls block (a commit with ``synchronous=FULL``
waits for the disk), and the station loops must never wait for a disk. The loop's side of
every method here is a ``queue.Queue.put_nowait`` (microseconds, never blocks); the thread
takes what is queued, waits at most ``commit_interval_s`` for more (asleep: a flush, a call
or a full batch wakes it early, not every event), and writes it in one transaction.
Whoever needs to know that something is on disk awaits :meth:`flush` (or the result of
:meth:`call`), which resolves after the commit that contains it.

Failures are sorted by cause (``controller.store.db.is_unwritable``):

* the database cannot be written (read-only, disk full, quota, I/O error, locked): the
  batch is kept, a critical ``store_unwritable`` alert goes out once (stations go to their
  safe state on it), and the batch is retried with backoff until it commits; a cleared
  alert follows. Nothing queued is dropped, and nothing committed is touched.
* one write is wrong (a constraint, a bad value): the batch is replayed one write per
  savepoint, the bad write is skipped with a ``store_write_failed`` alert naming it, and
  the rest commits.

After each commit the bus events it holds go back to the loop, in order, through
``on_commit`` (one ``call_soon_threadsafe`` per batch, scheduled before any ``flush``
resolves): the MQTT bridge publishes stored events from there, so a consumer never holds an
event the database lacks. An event whose write was skipped is not handed back; events held
while the store is unwritable are handed back after the commit that finally takes them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import numpy as np
import numpy.typing as npt
from sqlite_utils import Database

from controller.errors import StoreError, StoreUnwritableError
from controller.events import Alert, AlertSeverity, Event
from controller.priority import lower_thread_priority
from controller.store import traces
from controller.store.db import (
    describe_unwritable,
    is_unwritable,
    open_writer,
    set_size_limit,
)
from controller.store.migrations import MIGRATIONS_DIR
from controller.store.records import Insert, Row, Sql, rows_for

log = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_COMMIT_INTERVAL_S = 0.1
DEFAULT_MAX_BATCH = 5000
DEFAULT_BACKLOG_ALARM = 100_000


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """Raw samples to keep (compressed in the writer thread, not on the loop)."""

    device_id: str
    channel: str
    t0: float
    period: float
    values: npt.NDArray[Any]
    athlete_id: str | None = None
    session_id: str | None = None
    set_id: str | None = None
    ts: float = 0.0


@dataclass(frozen=True, slots=True)
class _Flush:
    done: concurrent.futures.Future[None]


@dataclass(frozen=True, slots=True)
class _Call:
    fn: Callable[[Database], Any]
    done: concurrent.futures.Future[Any]
    label: str
    transactional: bool = True


@dataclass(frozen=True, slots=True)
class _Stop:
    pass


_Item = Event | Insert | Sql | TraceRecord | _Flush | _Call | _Stop


def _settle(
    future: concurrent.futures.Future[Any],
    result: Any = None,
    *,
    error: BaseException | None = None,
) -> None:
    """Resolve a caller's future unless the caller gave up on it (cancelled its await)."""
    with contextlib.suppress(concurrent.futures.InvalidStateError):
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)


@dataclass(frozen=True, slots=True)
class WriterStats:
    queued: int
    committed: int  #: writes committed since start
    batches: int
    failed: int  #: writes skipped because they were wrong (each alerted)
    writable: bool
    last_commit_s: float | None  #: duration of the last commit


#: value types SQLite stores as they are; rows holding anything else go through sqlite-utils
_PLAIN = frozenset({str, int, float, bytes, bool, type(None)})


def _insert_statement(table: str, conflict: str | None, columns: tuple[str, ...]) -> str:
    """The insert for these rows; "ignore" skips a duplicate, nothing else.

    ``ON CONFLICT DO NOTHING`` rather than ``INSERT OR IGNORE``: OR IGNORE also drops a row
    that breaks a NOT NULL constraint (a NaN is stored as NULL), silently; the upsert
    clause covers uniqueness only, so such a row fails, is isolated and raises the alert.
    """
    verb = "INSERT OR REPLACE" if conflict == "replace" else "INSERT"
    names = ", ".join(_quoted(c) for c in columns)
    marks = ", ".join("?" for _ in columns)
    tail = " ON CONFLICT DO NOTHING" if conflict == "ignore" else ""
    return f"{verb} INTO {_quoted(table)} ({names}) VALUES ({marks}){tail}"


def _plain(value: Any) -> Any:
    """A value SQLite takes as it is: numpy scalars as Python numbers, containers as JSON."""
    if type(value) in _PLAIN:
        return value
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, dict | list | tuple):
        return json.dumps(value)
    return value


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class StoreWriter:
    """The single writer of one SQLite database; an async context manager.

    ``on_alert`` receives the writer's alerts on the event loop (the site passes the bus's
    ``publish``). ``on_commit`` receives, on the event loop, the bus events of each
    committed batch in the order they were recorded. Methods other than
    ``__aenter__``/``__aexit__``/``flush``/``call`` may be called from any thread.
    """

    def __init__(
        self,
        path: Path,
        *,
        on_alert: Callable[[Alert], None] | None = None,
        on_commit: Callable[[Sequence[Event]], None] | None = None,
        commit_interval_s: float = DEFAULT_COMMIT_INTERVAL_S,
        max_batch: int = DEFAULT_MAX_BATCH,
        max_size_mb: int | None = None,
        backlog_alarm: int = DEFAULT_BACKLOG_ALARM,
        retry_s: float = 0.2,
        retry_max_s: float = 5.0,
        close_timeout_s: float = 10.0,
        migrations: Path = MIGRATIONS_DIR,
    ) -> None:
        if commit_interval_s < 0 or max_batch < 1:
            raise ValueError("commit_interval_s must be >= 0 and max_batch >= 1")
        self.path = path
        self.on_alert = on_alert
        self.on_commit = on_commit
        self.commit_interval_s = commit_interval_s
        self.max_batch = max_batch
        self.max_size_mb = max_size_mb
        self.backlog_alarm = backlog_alarm
        self.retry_s = retry_s
        self.retry_max_s = retry_max_s
        self.close_timeout_s = close_timeout_s
        self.migrations = migrations
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False
        self._stop_requested = threading.Event()
        #: set by a put that must not wait for the commit interval (a flush, a call, the
        #: stop, a full batch): the thread sleeps through the interval without waking for
        #: every event (each wake-up took the GIL from the stations' loop)
        self._urgent = threading.Event()
        self._tables: frozenset[str] = frozenset()
        self._insert_sql: dict[tuple[str, str | None, tuple[str, ...]], str] = {}
        self._new_limit: tuple[int | None] | None = None  # a pending quota change
        self._give_up_at: float | None = None
        self._crash: BaseException | None = None
        self._backlog_alarmed = False
        self._skipped: set[int] = set()  #: ids of the batch's events whose write was skipped
        self.writable = True
        self.committed = 0
        self.batches = 0
        self.failed = 0
        self.last_commit_s: float | None = None

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._thread is not None:
            raise StoreError("a StoreWriter runs once; make a new one")
        self._loop = asyncio.get_running_loop()
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), name=f"store-writer:{self.path.name}", daemon=True
        )
        self._thread.start()
        try:
            await asyncio.wrap_future(started)
        except asyncio.CancelledError:
            self._closed = True
            self._stop_requested.set()
            self._queue.put(_Stop())
            self._urgent.set()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop_requested.set()
        self._queue.put(_Stop())
        self._urgent.set()
        await asyncio.shield(asyncio.wrap_future(self._finished))
        if self._crash is not None and exc is None:
            raise StoreError(f"the store writer stopped on an error: {self._crash}") from (
                self._crash
            )

    # -- the loop's side ---------------------------------------------------------------

    def _put(self, item: _Item) -> None:
        if self._crash is not None:
            raise StoreError(f"the store writer stopped on an error: {self._crash}")
        if self._closed:
            raise StoreError("the store writer is closed")
        self._queue.put(item)  # SimpleQueue is unbounded: put never blocks
        queued = self._queue.qsize()
        if queued >= self.max_batch or isinstance(item, _Flush | _Call):
            self._urgent.set()
        if not self._backlog_alarmed and queued > self.backlog_alarm:
            self._backlog_alarmed = True
            self._alert(
                AlertSeverity.CRITICAL,
                "store_backlog",
                f"{self._queue.qsize()} writes wait for the database; stations go safe",
            )

    def record(self, event: Event) -> None:
        """Record a bus event (rows are built in the writer thread)."""
        self._put(event)

    def record_many(self, events: Iterable[Event]) -> None:
        for event in events:
            self._put(event)

    def write(self, row: Row) -> None:
        """Queue one prepared write (``records.Insert`` or ``records.Sql``)."""
        self._put(row)

    def record_trace(self, trace: TraceRecord) -> None:
        """Keep raw samples; the array is copied now, compressed in the writer thread."""
        values = np.array(trace.values, dtype=np.float32, copy=True)
        self._put(
            TraceRecord(
                trace.device_id,
                trace.channel,
                trace.t0,
                trace.period,
                values,
                trace.athlete_id,
                trace.session_id,
                trace.set_id,
                trace.ts or time.time(),
            )
        )

    async def flush(self) -> None:
        """Return once everything queued before this call is committed."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._put(_Flush(done))
        await asyncio.wrap_future(done)

    async def call(
        self, fn: Callable[[Database], T], *, label: str = "", transactional: bool = True
    ) -> T:
        """Run ``fn(db)`` in the writer thread inside a savepoint; its result once committed.

        For writes that need an answer (a new row's id, a uniqueness check) or several
        statements that must commit together. ``fn`` must not commit or begin transactions.
        With ``transactional=False`` it runs alone, after the writes queued before it have
        committed, outside any transaction (for ``PRAGMA wal_checkpoint``, ``VACUUM``).
        """
        done: concurrent.futures.Future[T] = concurrent.futures.Future()
        name = label or getattr(fn, "__name__", "call")
        self._put(_Call(fn, done, name, transactional))
        return await asyncio.wrap_future(done)

    def set_size_limit(self, max_size_mb: int | None) -> None:
        """Change the size quota at run time (applied before the next batch)."""
        self._new_limit = (max_size_mb,)

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    def stats(self) -> WriterStats:
        return WriterStats(
            self._queue.qsize(),
            self.committed,
            self.batches,
            self.failed,
            self.writable,
            self.last_commit_s,
        )

    def _alert(
        self,
        severity: AlertSeverity,
        code: str,
        message: str,
        *,
        cleared: bool = False,
    ) -> None:
        alert = Alert(
            station_id=None, severity=severity, code=code, message=message, cleared=cleared
        )
        if severity is AlertSeverity.CRITICAL:
            log.critical(message)
        else:
            log.warning(message)
        if self.on_alert is None or self._loop is None:
            return
        if threading.current_thread() is self._thread:
            # a closed loop: the log line above is all we can do
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.on_alert, alert)
        else:
            self.on_alert(alert)

    # -- the writer thread ---------------------------------------------------------------

    def _run(self, started: concurrent.futures.Future[None]) -> None:
        lower_thread_priority()
        try:
            db = open_writer(self.path, max_size_mb=self.max_size_mb, migrations=self.migrations)
            self._tables = frozenset(db.table_names())
        except BaseException as exc:
            error = exc
            if not isinstance(exc, StoreError):
                error = (StoreUnwritableError if is_unwritable(exc) else StoreError)(
                    f"{self.path}: cannot open the store: {exc}"
                )
                error.__cause__ = exc
            _settle(started, error=error)
            self._finished.set_result(None)
            return
        _settle(started)
        try:
            self._serve(db)
        except BaseException as exc:
            self._crash = exc
            log.critical("the store writer stopped on an error", exc_info=exc)
            self._fail_queued(StoreError(f"the store writer stopped on an error: {exc}"))
        finally:
            db.close()
            self._finished.set_result(None)

    def _fail_queued(self, error: StoreError) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if isinstance(item, _Flush | _Call):
                _settle(item.done, error=error)

    def _serve(self, db: Database) -> None:
        while True:
            batch = self._next_batch()
            self._commit(db, batch)
            if isinstance(batch[-1], _Stop):
                return

    def _next_batch(self) -> list[_Item]:
        first = self._queue.get()
        batch = [first]
        if isinstance(first, _Flush | _Call | _Stop):
            return batch
        # one sleep for the interval (cut short by an urgent put), then what is queued
        self._urgent.wait(self.commit_interval_s)
        self._urgent.clear()
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            batch.append(item)
            if isinstance(item, _Flush | _Call | _Stop):
                break
        return batch

    def _commit(self, db: Database, batch: list[_Item]) -> None:
        last = batch[-1]
        if isinstance(last, _Call) and not last.transactional:
            if len(batch) > 1:
                self._commit(db, batch[:-1])
            self._run_outside(db, last)
            return
        delay = self.retry_s
        while True:
            try:
                if self._new_limit is not None:
                    set_size_limit(db, self._new_limit[0])
                    self._new_limit = None
                started = time.monotonic()
                results = self._write(db, batch)
                self.last_commit_s = time.monotonic() - started
            except Exception as exc:
                if not is_unwritable(exc):
                    raise
                self._unwritable(exc, len(batch))
                if self._stop_requested.is_set():
                    if self._give_up_at is None:
                        self._give_up_at = time.monotonic() + self.close_timeout_s
                    if time.monotonic() >= self._give_up_at:
                        self._abandon(batch, exc)
                        return
                    delay = min(delay, 0.2)
                time.sleep(delay)
                delay = min(delay * 2, self.retry_max_s)
                continue
            break
        if not self.writable:
            self.writable = True
            self._alert(
                AlertSeverity.INFO, "store_unwritable", "the store is writable again", cleared=True
            )
        self.batches += 1
        self._hand_back(batch)
        for item, result in results:
            if isinstance(item, _Flush):
                _settle(item.done)
            elif isinstance(item, _Call):
                if isinstance(result, BaseException):
                    _settle(item.done, error=result)
                else:
                    _settle(item.done, result)
        if self._backlog_alarmed and self._queue.qsize() < self.backlog_alarm // 2:
            self._backlog_alarmed = False
            self._alert(AlertSeverity.INFO, "store_backlog", "the store caught up", cleared=True)

    def _hand_back(self, batch: list[_Item]) -> None:
        """The committed batch's events to ``on_commit``, before any flush of it resolves."""
        listener, loop = self.on_commit, self._loop
        if listener is None or loop is None:
            return
        skipped = self._skipped
        events = [item for item in batch if isinstance(item, Event) and id(item) not in skipped]
        if events:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody left to tell
                loop.call_soon_threadsafe(listener, events)

    def _unwritable(self, exc: BaseException, pending: int) -> None:
        if self.writable:
            self.writable = False
            self._alert(
                AlertSeverity.CRITICAL,
                "store_unwritable",
                f"the store cannot write {describe_unwritable(exc, self.path)}; {pending} "
                "writes are held and retried, stations go to their safe state",
            )

    def _abandon(self, batch: list[_Item], exc: BaseException) -> None:
        lost = sum(1 for item in batch if not isinstance(item, _Flush | _Call | _Stop))
        message = (
            f"closing with the store still unwritable ({exc}): {lost} queued writes were not saved"
        )
        log.critical(message)
        error = StoreUnwritableError(message)
        for item in batch:
            if isinstance(item, _Flush | _Call):
                _settle(item.done, error=error)

    def _write(self, db: Database, batch: list[_Item]) -> list[tuple[_Item, Any]]:
        """One transaction; a wrong write is isolated by replaying item by item."""
        self._skipped.clear()
        try:
            with db.atomic():
                results = self._apply_all(db, batch, isolate=False)
        except Exception as exc:
            if is_unwritable(exc):
                raise
            log.warning("a write in a batch of %d failed (%s); isolating it", len(batch), exc)
            with db.atomic():
                results = self._apply_all(db, batch, isolate=True)
        self.committed += sum(1 for item in batch if not isinstance(item, _Flush | _Call | _Stop))
        return results

    def _apply_all(
        self, db: Database, batch: list[_Item], *, isolate: bool
    ) -> list[tuple[_Item, Any]]:
        results: list[tuple[_Item, Any]] = []
        pending_inserts: list[Insert] = []

        def flush_inserts() -> None:
            if pending_inserts:
                self._insert_group(db, pending_inserts)
                pending_inserts.clear()

        for item in batch:
            if isinstance(item, _Flush | _Stop):
                results.append((item, None))
                continue
            if isinstance(item, _Call):
                flush_inserts()
                results.append((item, self._run_call(db, item)))
                continue
            rows = self._rows(item)
            if isolate:
                written = [self._isolated(db, row) for row in rows]
                if not all(written):
                    self._skipped.add(id(item))
                continue
            for row in rows:
                if isinstance(row, Insert):
                    if pending_inserts and (
                        pending_inserts[0].table,
                        pending_inserts[0].conflict,
                    ) != (row.table, row.conflict):
                        flush_inserts()
                    pending_inserts.append(row)
                else:
                    flush_inserts()
                    db.execute(row.sql, row.params)
        flush_inserts()
        return results

    def _rows(self, item: Event | Insert | Sql | TraceRecord) -> list[Row]:
        if isinstance(item, Insert | Sql):
            return [item]
        if isinstance(item, TraceRecord):
            blob, n, width = traces.encode(item.values)
            return [
                Insert(
                    "traces",
                    {
                        "athlete_id": item.athlete_id,
                        "session_id": item.session_id,
                        "set_id": item.set_id,
                        "device_id": item.device_id,
                        "channel": item.channel,
                        "t0": item.t0,
                        "period": item.period,
                        "n_samples": n,
                        "width": width,
                        "dtype": traces.DTYPE,
                        "codec": traces.CODEC,
                        "data": blob,
                        "ts": item.ts,
                    },
                )
            ]
        return rows_for(item)

    def _insert_group(self, db: Database, rows: list[Insert]) -> None:
        table, conflict = rows[0].table, rows[0].conflict
        if table not in self._tables:
            raise StoreError(f"no table {table!r} in the store")
        columns = tuple(rows[0].row)
        if all(
            tuple(r.row) == columns and all(type(v) in _PLAIN for v in r.row.values()) for r in rows
        ):
            # The bus's rows (reps, states, decisions...): one cached statement and one
            # executemany, without sqlite-utils' per-call table check and value conversion,
            # which the pipeline bench's profile showed as most of this thread's time.
            key = (table, conflict, columns)
            sql = self._insert_sql.get(key)
            if sql is None:
                sql = self._insert_sql[key] = _insert_statement(table, conflict, columns)
            db.conn.executemany(sql, [tuple(r.row.values()) for r in rows])
            return
        if conflict == "ignore":  # sqlite-utils would use OR IGNORE (see _insert_statement)
            for row in rows:
                db.execute(
                    _insert_statement(table, conflict, tuple(row.row)),
                    [_plain(v) for v in row.row.values()],
                )
            return
        db.table(table).insert_all(
            [row.row for row in rows],
            ignore=False,
            replace=conflict == "replace",
            alter=False,
            batch_size=200,
        )

    def _isolated(self, db: Database, row: Row) -> bool:
        """Write one row in its own savepoint; False when it was refused and skipped."""
        try:
            with db.atomic():
                if isinstance(row, Insert):
                    self._insert_group(db, [row])
                else:
                    db.execute(row.sql, row.params)
            return True
        except Exception as exc:
            if is_unwritable(exc):
                raise
            self.failed += 1
            what = row.table if isinstance(row, Insert) else row.label
            self._alert(
                AlertSeverity.WARNING,
                "store_write_failed",
                f"a write to {what} was refused by the database and skipped: {exc}",
            )
            return False

    def _run_outside(self, db: Database, call: _Call) -> None:
        try:
            result = call.fn(db)
        except Exception as exc:
            _settle(call.done, error=exc)
        else:
            _settle(call.done, result)

    def _run_call(self, db: Database, call: _Call) -> Any:
        try:
            with db.atomic():
                return call.fn(db)
        except Exception as exc:
            if is_unwritable(exc):
                raise
            return exc
