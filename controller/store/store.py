"""The site's store as one object: the writer, the recorder of bus events, retention, reads
and data-subject requests. The runtime holds one ``Store``; the panel and the CLI use its
``reader`` and its export and erase methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Self

from controller.bus import EventBus, Subscription
from controller.config import StoreConfig
from controller.errors import StoreError
from controller.events import Event
from controller.store import subjects
from controller.store.reader import StoreReader
from controller.store.records import RECORDED
from controller.store.retention import Purged, purge
from controller.store.settings import apply_overrides, read_overrides
from controller.store.writer import StoreWriter

log = logging.getLogger(__name__)

#: the store's bus subscription never drops; its bound only raises the overflow alarm
RECORDER_BOUND = 200_000
#: how long one checkpoint attempt may wait for readers (the writer thread waits with it)
CHECKPOINT_TRY_MS = 200
#: threads of the store's reader (see ``StoreReader``: few, for the event loop's GIL)
READ_THREADS = 2


class Store:
    """An async context manager: opens (and migrates) the database, records the bus.

    With a ``bus``, every event type in ``records.RECORDED`` is written as it is published,
    and the writer's alerts (``store_unwritable``, ...) are published on it. Without one
    (the CLI), it is a writer and a reader on the file. :meth:`on_committed` listeners get
    the recorded events back once they are committed (the MQTT bridge publishes from there).
    """

    def __init__(
        self,
        path: Path,
        *,
        bus: EventBus | None = None,
        settings: StoreConfig | None = None,
        retention: bool = True,
        retention_every_s: float = 6 * 3600.0,
        erase_checkpoint_s: float = 60.0,
    ) -> None:
        self.path = path
        self.bus = bus
        #: the site config's store settings; ``settings`` adds staff's stored overrides
        self.config_settings = settings or StoreConfig()
        self.settings = self.config_settings
        self.retention = retention
        self.retention_every_s = retention_every_s
        self.erase_checkpoint_s = erase_checkpoint_s
        self.reader = StoreReader(path, threads=READ_THREADS)
        self.writer = StoreWriter(
            path,
            on_alert=bus.publish if bus is not None else None,
            on_commit=self._committed,
            commit_interval_s=self.settings.commit_interval_ms / 1000.0,
            max_size_mb=self.settings.max_size_mb,
        )
        self._stack = contextlib.AsyncExitStack()
        self._subscription: Subscription | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.last_purge: Purged | None = None
        self._listeners: list[Callable[[Sequence[Event]], None]] = []

    async def __aenter__(self) -> Self:
        try:
            self._stack.callback(self.reader.close)  # last: the readers' kept connections
            await self._stack.enter_async_context(self.writer)
            self._stack.push_async_callback(self._drain)
            if self.bus is not None:
                self._subscription = self.bus.subscribe(
                    "store", types=RECORDED, reliable_bound=RECORDER_BOUND
                )
            # the group is left without the body's error: handed to a task group, the
            # caller's own exception would come back wrapped in an ExceptionGroup
            group = asyncio.TaskGroup()
            await group.__aenter__()
            self._stack.push_async_callback(group.__aexit__, None, None, None)
            if self._subscription is not None:
                self._tasks.append(group.create_task(self._record(), name="store-recorder"))
            if self.retention:
                self._tasks.append(group.create_task(self._retention(), name="store-retention"))
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for task in self._tasks:
            task.cancel()
        await self._stack.__aexit__(exc_type, exc, tb)

    def on_committed(self, listener: Callable[[Sequence[Event]], None]) -> Callable[[], None]:
        """Call ``listener`` on the loop with each committed batch's recorded events, in the
        order they were published; returns the function that stops it."""
        self._listeners.append(listener)

        def stop() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return stop

    def _committed(self, events: Sequence[Event]) -> None:
        for listener in tuple(self._listeners):
            try:
                listener(events)
            except Exception:
                log.exception("a listener of committed events failed")

    async def flush(self) -> None:
        """Return once every event the bus has delivered to the store so far is committed
        (and handed to the :meth:`on_committed` listeners)."""
        if self._subscription is not None and not self._subscription.closed:
            self.writer.record_many(self._subscription.drain())
        await self.writer.flush()

    async def _record(self) -> None:
        assert self._subscription is not None
        sub = self._subscription
        while True:
            self.writer.record(await sub.get())
            self.writer.record_many(sub.drain())

    async def _drain(self) -> None:
        """On the way out: what the bus delivered but the recorder had not taken yet."""
        if self._subscription is not None:
            self.writer.record_many(self._subscription.drain())
            self._subscription.close()

    async def _retention(self) -> None:
        while True:
            try:
                self.last_purge = await self.purge_expired()
                log.info("retention: %s", self.last_purge)
            except StoreError as exc:  # unwritable: the writer has alerted; try again later
                log.warning("retention purge failed: %s", exc)
            await asyncio.sleep(self.retention_every_s)

    async def apply_stored_settings(self) -> StoreConfig:
        """Put the settings staff changed at run time (``site_settings``) into force."""
        overrides = await self.reader.read(read_overrides)
        self.settings = apply_overrides(self.config_settings, overrides)
        return self.settings

    async def purge_expired(self, *, now: float | None = None) -> Purged:
        """Delete raw traces and readiness inputs past their retention (and old web
        sessions), then checkpoint so the deleted bytes leave the write-ahead log too.

        The retention in force is read from the store each time: the site config's, with
        what staff set in the panel on top, whether or not the panel runs.
        """
        await self.apply_stored_settings()
        purged = await self.writer.call(
            partial(
                purge,
                trace_days=self.settings.trace_retention_days,
                readiness_days=self.settings.readiness_retention_days,
                now=now,
            ),
            label="retention purge",
        )
        try:
            await self.checkpoint(within_s=5.0)
        except StoreError as exc:
            log.warning("retention: %s", exc)
        return purged

    async def export_athlete(
        self, athlete_id: str, dest: Path, *, passphrase: str | None = None
    ) -> Path:
        """Everything about one athlete as a zip of JSON and CSV (see ``subjects``),
        AES-256 encrypted with ``passphrase`` when one is given."""
        if passphrase is not None:
            subjects.check_passphrase(passphrase)
        await self.writer.flush()
        data = await self.reader.read(partial(subjects.collect, athlete_id=athlete_id))
        return await asyncio.to_thread(subjects.write_export, data, dest, passphrase=passphrase)

    async def erase_athlete(self, athlete_id: str, *, actor: str) -> dict[str, int]:
        """Hard-delete one athlete from every table; returns rows deleted per table.

        Returns once the deleted bytes are gone from the file and its write-ahead log: the
        checkpoint that copies the overwritten pages home is retried while readers hold old
        snapshots (each try holds the writer at most ``CHECKPOINT_TRY_MS``), for up to
        ``erase_checkpoint_s``; past that it raises ``StoreError`` (the rows are gone, the
        bytes go at the next checkpoint, which every retention run also attempts).
        """
        await self.writer.flush()
        counts = await self.writer.call(
            partial(subjects.erase, athlete_id=athlete_id, actor=actor), label="erase athlete"
        )
        await self.checkpoint(within_s=self.erase_checkpoint_s)
        return counts

    async def checkpoint(self, *, within_s: float) -> None:
        """Truncate the write-ahead log into the file, retrying while readers hold it."""
        deadline = time.monotonic() + within_s
        tries = 0
        while True:
            tries += 1
            busy, _, _ = await self.writer.call(
                partial(subjects.checkpoint, wait_ms=CHECKPOINT_TRY_MS),
                transactional=False,
                label="checkpoint",
            )
            if not busy:
                if tries > 1:
                    log.info("checkpoint completed after %d tries (readers held the log)", tries)
                return
            if time.monotonic() >= deadline:
                raise StoreError(
                    f"readers held the write-ahead log for {within_s:g} s: erased rows are "
                    "gone, their bytes are overwritten at the next checkpoint"
                )
            await asyncio.sleep(0.05)
