"""The live feeds' broadcaster: one task makes every browser's frame, each frame once.

The feeds share the stations' event loop. With a task per browser that woke on every
change, built its own frame and sent it through a streaming response, fifty browsers cost
the loop about 12 ms in one burst after each change (about 230 us each), ten times a
second, and the stations' 50 ms ticks waited behind the burst. Here one task serves the
browsers a slot at a time through each frame period (:class:`FeedHub`); browsers that saw
the same state get the same bytes, built once; and each browser's connection only wakes to
write what it was handed.

A browser still writing its last frame (a slow socket) is skipped at a tick and catches
up at a later one: nothing queues for it, it skips intermediate states.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from web_ui.live import STEP_S, FeedCursor, LiveFloor

KEEPALIVE_S = 15.0
RETRY = b"retry: 2000\n\n"
KEEPALIVE = b": keep-alive\n\n"

_fresh = itertools.count(-1, -1)  # a never-shared sync mark for a browser's first frame


def _copy(cursor: FeedCursor) -> FeedCursor:
    return FeedCursor(
        station_id=cursor.station_id,
        versions=dict(cursor.versions),
        trace=dict(cursor.trace),
        reps=dict(cursor.reps),
        site_version=cursor.site_version,
    )


@dataclass(eq=False, slots=True)
class Viewer:
    """One browser's feed. ``cursor`` is never changed in place (browsers in the same
    state share one); ``synced`` is the frame period that brought it up to date (a
    negative mark of its own until its first)."""

    cursor: FeedCursor
    synced: int = field(default_factory=lambda: next(_fresh))
    due: float = 0.0  #: when it wants waking even if nothing changed (keep-alive, re-auth)
    inbox: asyncio.Future[bytes] | None = None

    async def next_frame(self) -> bytes:
        """Wait for what the hub hands this browser; empty bytes when the feeds close."""
        self.inbox = asyncio.get_running_loop().create_future()
        try:
            return await self.inbox
        finally:
            self.inbox = None


class FeedHub:
    """Every live feed of one panel; :meth:`run` is a task of the panel's runtime.

    The browsers are spread over ``slots`` groups served one after the other through the
    frame period (every 10 ms at 10 frames a second): each still gets ``feed_hz`` frames a
    second, and the loop's stations wait behind a tenth of the writes at a time, not all of
    them. A frame is made once per period for all the browsers that were in the same state
    (every floor browser, once they have had their first frame), by the first slot that
    needs it; the later slots of the period send the same bytes, at most one period old.
    """

    SLOT_S = 0.01

    def __init__(self, live: LiveFloor, feed_hz: float) -> None:
        self.live = live
        self.interval = 1.0 / feed_hz
        self.slots: list[set[Viewer]] = [
            set() for _ in range(max(1, round(self.interval / self.SLOT_S)))
        ]
        self.period = 0  #: frame periods begun (a browser's ``synced``: its last)
        self._made: dict[tuple[str | None, int], tuple[bytes, FeedCursor]] = {}
        self.closed = False

    @property
    def viewers(self) -> set[Viewer]:
        return set().union(*self.slots)

    def join(self, station_id: str | None, due: float) -> tuple[Viewer, bytes]:
        """A new browser and its first frame (the whole current state)."""
        viewer = Viewer(FeedCursor(station_id=station_id), due=due)
        first = self.live.feed_bytes(viewer.cursor)
        min(self.slots, key=len).add(viewer)
        self.live.wake_feeds()  # the broadcaster's next wait counts this one's due time
        return viewer, first

    def leave(self, viewer: Viewer) -> None:
        for slot in self.slots:
            slot.discard(viewer)

    async def run(self) -> None:
        step = self.interval / len(self.slots)
        seen = [-1] * len(self.slots)  # the view's change count each slot was served at
        try:
            k = 0
            while not self.live.closed:
                changes = self.live.changes
                now = time.monotonic()
                if seen[k] != changes or any(now >= v.due for v in self.slots[k]):
                    seen[k] = changes
                    left = self.broadcast(self.slots[k], until=time.perf_counter() + STEP_S)
                    while left:  # the slot's frames in short steps: the stations go on
                        await asyncio.sleep(0)
                        left = self.broadcast(left, until=time.perf_counter() + STEP_S)
                k = (k + 1) % len(self.slots)
                if k == 0:
                    self.new_period()
                await asyncio.sleep(step)
                if all(n == self.live.changes for n in seen):  # all up to date: sleep long
                    due = min((v.due for slot in self.slots for v in slot), default=math.inf)
                    wait = min(KEEPALIVE_S, due - time.monotonic())
                    await self.live.wait_change(self.live.changes, max(0.0, wait))
                    self._made = {}  # made before the wait: too old to hand out now
        finally:
            self.close()

    def new_period(self) -> None:
        """The frames made so far are not handed out again: each browser's next is new."""
        self.period += 1
        self._made = {}

    def broadcast(self, viewers: Iterable[Viewer], *, until: float = math.inf) -> list[Viewer]:
        """Hand each waiting browser of ``viewers`` what it has not seen (or a keep-alive);
        past ``until`` (``time.perf_counter``), stop and return the browsers not served."""
        now = time.monotonic()
        made = self._made
        pending = list(viewers)
        for i, viewer in enumerate(pending):
            if i and time.perf_counter() > until:
                return pending[i:]
            inbox = viewer.inbox
            if inbox is None or inbox.done():
                continue  # still writing: it catches up at a later period
            key = (viewer.cursor.station_id, viewer.synced)
            frame = made.get(key)
            if frame is None:
                cursor = _copy(viewer.cursor)
                frame = made[key] = (self.live.feed_bytes(cursor), cursor)
            data, viewer.cursor = frame
            viewer.synced = self.period
            if data:
                inbox.set_result(data)
            elif now >= viewer.due:
                inbox.set_result(KEEPALIVE)
        return []

    def close(self) -> None:
        """End every feed (the panel is stopping)."""
        self.closed = True
        for slot in self.slots:
            for viewer in slot:
                if viewer.inbox is not None and not viewer.inbox.done():
                    viewer.inbox.set_result(b"")


class FeedResponse(Response):
    """A server-sent event stream written from what a :class:`FeedHub` hands it.

    ``still_allowed`` is asked every ``reauth_s``: a browser whose session ended is told
    ``signed_out`` and its stream ends.
    """

    media_type = "text/event-stream"

    def __init__(
        self,
        hub: FeedHub,
        station_id: str | None,
        *,
        still_allowed: Callable[[], Awaitable[bool]],
        reauth_s: float,
        on_open: Callable[[], None] = lambda: None,
        on_close: Callable[[], None] = lambda: None,
    ) -> None:
        # no ``Response.__init__``: without a body, no content-length (the stream is chunked)
        self.status_code = 200
        self.background = None
        self.init_headers({"X-Accel-Buffering": "no"})
        self.hub = hub
        self.station_id = station_id
        self.still_allowed = still_allowed
        self.reauth_s = reauth_s
        self.on_open = on_open
        self.on_close = on_close

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        self.on_open()
        try:
            async with asyncio.TaskGroup() as group:
                writer = group.create_task(self._write(send), name="panel-feed-writer")
                listener = group.create_task(
                    _until_disconnect(receive), name="panel-feed-disconnect"
                )
                # whichever ends first (the client gone, the feed over) ends the other
                writer.add_done_callback(lambda _: listener.cancel())
                listener.add_done_callback(lambda _: writer.cancel())
        finally:
            self.on_close()

    async def _write(self, send: Send) -> None:
        hub = self.hub
        last_auth = time.monotonic()
        viewer, first = hub.join(self.station_id, last_auth + min(KEEPALIVE_S, self.reauth_s))
        try:
            await _body(send, RETRY + first)
            while not hub.closed:
                data = await viewer.next_frame()
                if not data:
                    break
                now = time.monotonic()
                if now - last_auth >= self.reauth_s:
                    last_auth = now
                    if not await self.still_allowed():
                        await _body(send, b"event: signed_out\ndata: {}\n\n")
                        break
                await _body(send, data)
                viewer.due = min(now + KEEPALIVE_S, last_auth + self.reauth_s)
        finally:
            hub.leave(viewer)
        await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _body(send: Send, data: bytes) -> None:
    message: Message = {"type": "http.response.body", "body": data, "more_body": True}
    await send(message)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
