"""Which cue is on show at a station, and where it goes.

One cue is on show at a time. A new cue replaces it when its priority is at least as high,
or when the one on show has expired (its time to live has passed); otherwise the new cue is
not shown. A cue on show is sent to the station's displays (through the drive, as
``ShowCue`` commands) and published on the bus as a ``CueEvent`` (the MQTT bridge and the
panel take it from there). When it expires, the displays are blanked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self

from controller.cues import Cue, CueKind
from controller.events import CueEvent, Event


class CueRouter:
    """The cue arbiter of one station; an async context manager (its task blanks expired cues).

    ``show`` sends a cue to the displays (``ResistanceDrive.show_cue``; None blanks them),
    ``publish`` puts the ``CueEvent`` on the bus.
    """

    def __init__(
        self,
        *,
        station_id: str,
        show: Callable[[Cue | None], None],
        publish: Callable[[Event], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.station_id = station_id
        self.show = show
        self.publish = publish
        self.clock = clock
        self.current: Cue | None = None
        self._shown_at = 0.0
        self._changed: asyncio.Event | None = None
        self._group: asyncio.TaskGroup | None = None
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Self:
        self._changed = asyncio.Event()
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._task = self._group.create_task(self._expire(), name=f"cues:{self.station_id}")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
        assert self._group is not None
        await self._group.__aexit__(None, None, None)

    def expires_at(self) -> float | None:
        if self.current is None or self.current.ttl_s is None:
            return None
        return self._shown_at + self.current.ttl_s

    def _expired(self, now: float) -> bool:
        at = self.expires_at()
        return at is not None and now >= at

    def offer(self, cue: Cue) -> bool:
        """Show ``cue`` unless a cue of higher priority is on show; True when shown."""
        now = self.clock()
        current = self.current
        if current is not None and not self._expired(now) and current.priority > cue.priority:
            return False
        self.current = cue
        self._shown_at = now
        self.show(cue)
        self.publish(CueEvent(station_id=self.station_id, cue=cue))
        if self._changed is not None:
            self._changed.set()
        return True

    def clear(self, kind: CueKind | None = None) -> None:
        """Take the cue on show down (only if it is of ``kind``, when given)."""
        if self.current is None or (kind is not None and self.current.kind is not kind):
            return
        self.current = None
        self.show(None)
        if self._changed is not None:
            self._changed.set()

    async def _expire(self) -> None:
        assert self._changed is not None
        while True:
            self._changed.clear()
            at = self.expires_at()
            if at is not None and self.clock() >= at:
                self.current = None
                self.show(None)
                continue
            wait = None if at is None else max(0.0, at - self.clock())
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._changed.wait()
