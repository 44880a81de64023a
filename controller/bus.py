"""The in-process event bus: stations publish, the store, MQTT and the panel consume.

The rule it exists for: **a slow consumer never blocks the station loop, and nothing
reliable is lost silently.** :meth:`EventBus.publish` is a plain synchronous call that
appends to each subscriber's queues and returns; it never awaits and never raises because of
a consumer. What happens when a consumer falls behind depends on the event's delivery:

* ``Delivery.LATEST`` (telemetry): each subscriber keeps at most ``latest_bound`` of them;
  the oldest is dropped for the newest and counted in :attr:`Subscription.dropped`.
* ``Delivery.RELIABLE`` (reps, sets, decisions, cues, state changes, commands, alerts):
  never dropped. Past ``reliable_bound`` queued events the subscription is *overflowing*:
  the bus publishes a critical ``bus_overflow`` alert and calls ``on_overflow`` once (the
  site puts every station in its safe state, which stops the production of reps, so the
  backlog stops growing while data is kept). When the consumer has caught up to half the
  bound, a cleared alert follows and ``on_recovered`` is called. Only a consumer that is
  hopelessly stuck (``cutoff_factor`` x the bound behind, i.e. it is not reading at all)
  is cut off: its queue is released, and its next read raises ``BusOverflowError`` with
  the number of events it did not get, next to a critical ``bus_subscriber_cut_off``
  alert. The store does not depend on this path for durability: its writer drains its
  subscription into its own queue at once and raises ``store_unwritable`` if SQLite stalls.

Within one subscription events come out in the order they were published, across both
kinds. The bus lives on one event loop: call :meth:`EventBus.publish` from the loop's
thread (other threads use ``loop.call_soon_threadsafe(bus.publish, event)``).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from controller.errors import BusOverflowError, SubscriptionClosedError
from controller.events import Alert, AlertSeverity, Delivery, Event

log = logging.getLogger(__name__)

DEFAULT_RELIABLE_BOUND = 10_000
DEFAULT_LATEST_BOUND = 256
DEFAULT_CUTOFF_FACTOR = 10

OverflowHook = Callable[["Subscription"], None]


@dataclass(frozen=True, slots=True)
class SubscriptionStats:
    name: str
    backlog: int
    dropped: int  #: telemetry dropped oldest-first, by policy
    overflowing: bool
    cut_off: bool
    lost: int  #: reliable events this subscriber did not get because it was cut off


class Subscription:
    """One consumer's view of the bus: an ordered, bounded queue with an async reader.

    Use it as a context manager (``with bus.subscribe(...) as sub``) so it is removed from
    the bus when the consumer stops, and read with ``await sub.get()`` or ``async for``.
    """

    def __init__(
        self,
        bus: EventBus,
        name: str,
        *,
        types: tuple[type[Event], ...] | None,
        station_id: str | None,
        reliable_bound: int,
        latest_bound: int,
        cutoff_factor: int,
    ) -> None:
        if reliable_bound < 1 or latest_bound < 1 or cutoff_factor < 2:
            raise ValueError("bounds must be >= 1 and cutoff_factor >= 2")
        self.name = name
        self._bus = bus
        self._types = types
        self._station_id = station_id
        self.reliable_bound = reliable_bound
        self.cutoff = reliable_bound * cutoff_factor
        self._reliable: deque[tuple[int, Event]] = deque()
        self._latest: deque[tuple[int, Event]] = deque(maxlen=latest_bound)
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0
        self.lost = 0
        self.overflowing = False
        self.cut_off = False
        self.closed = False

    # -- bus side -------------------------------------------------------------------

    def wants(self, event: Event) -> bool:
        if self._types is not None and not isinstance(event, self._types):
            return False
        return self._station_id is None or event.station_id in (self._station_id, None)

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _cut(self) -> int:
        lost = len(self._reliable)
        self.lost += lost
        self._reliable.clear()
        self._latest.clear()
        self.cut_off = True
        self._wake()
        return lost

    # -- consumer side --------------------------------------------------------------

    @property
    def backlog(self) -> int:
        return len(self._reliable) + len(self._latest)

    def stats(self) -> SubscriptionStats:
        return SubscriptionStats(
            self.name, self.backlog, self.dropped, self.overflowing, self.cut_off, self.lost
        )

    def get_nowait(self) -> Event | None:
        """The next event, or None when the queue is empty."""
        if self.cut_off:
            raise BusOverflowError(
                f"bus subscriber {self.name!r} fell {self.cutoff} events behind and was cut "
                f"off; {self.lost} events were not delivered to it"
            )
        if self._reliable and (not self._latest or self._reliable[0][0] < self._latest[0][0]):
            event = self._reliable.popleft()[1]
            if self.overflowing and len(self._reliable) <= self.reliable_bound // 2:
                self._bus._recovered(self)
            return event
        if self._latest:
            return self._latest.popleft()[1]
        return None

    async def get(self) -> Event:
        """Wait for the next event; raises ``BusOverflowError`` if this subscriber was cut off."""
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                raise SubscriptionClosedError(f"bus subscription {self.name!r} is closed")
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def drain(self, limit: int | None = None) -> list[Event]:
        """Everything queued now (up to ``limit``), without waiting."""
        out: list[Event] = []
        while limit is None or len(out) < limit:
            event = self.get_nowait()
            if event is None:
                break
            out.append(event)
        return out

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        try:
            return await self.get()
        except SubscriptionClosedError:
            raise StopAsyncIteration from None

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus._remove(self)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class EventBus:
    """Fan-out of events to bounded subscriptions; see the module docstring for the policy."""

    def __init__(
        self,
        *,
        on_overflow: OverflowHook | None = None,
        on_recovered: OverflowHook | None = None,
    ) -> None:
        self._subscriptions: list[Subscription] = []
        self._snapshot: tuple[Subscription, ...] = ()  # iterated by publish, rebuilt on change
        self._seq = 0
        self._pending: deque[Event] = deque()
        self._publishing = False
        self.on_overflow = on_overflow
        self.on_recovered = on_recovered
        self.published = 0

    def subscribe(
        self,
        name: str,
        *,
        types: Iterable[type[Event]] | None = None,
        station_id: str | None = None,
        reliable_bound: int = DEFAULT_RELIABLE_BOUND,
        latest_bound: int = DEFAULT_LATEST_BOUND,
        cutoff_factor: int = DEFAULT_CUTOFF_FACTOR,
    ) -> Subscription:
        """A new subscription to events of ``types`` (all if None) of one station (or all).

        Site-wide events (``station_id`` None) reach every station filter.
        """
        sub = Subscription(
            self,
            name,
            types=tuple(types) if types is not None else None,
            station_id=station_id,
            reliable_bound=reliable_bound,
            latest_bound=latest_bound,
            cutoff_factor=cutoff_factor,
        )
        self._subscriptions.append(sub)
        self._snapshot = tuple(self._subscriptions)
        return sub

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)

    def publish(self, event: Event) -> None:
        """Hand ``event`` to every interested subscriber; never blocks, never drops reliably."""
        if self._publishing:  # an alert raised while fanning out: delivered right after
            self._pending.append(event)
            return
        self._publishing = True
        try:
            self._fan_out(event)
            while self._pending:
                self._fan_out(self._pending.popleft())
        finally:
            self._publishing = False

    def _fan_out(self, event: Event) -> None:
        self._seq += 1
        self.published += 1
        item = (self._seq, event)  # one tuple shared by every subscriber's queue
        reliable = event.DELIVERY is Delivery.RELIABLE
        for sub in self._snapshot:
            if sub.cut_off or not sub.wants(event):
                continue
            if reliable:
                queue = sub._reliable
                queue.append(item)
                if len(queue) > sub.reliable_bound:
                    if len(queue) > sub.cutoff:
                        self._cut_off(sub)
                    elif not sub.overflowing:
                        self._overflowing(sub)
            else:
                latest = sub._latest
                if len(latest) == latest.maxlen:
                    sub.dropped += 1
                latest.append(item)
            if sub._waiter is not None:
                sub._wake()

    def _overflowing(self, sub: Subscription) -> None:
        sub.overflowing = True
        message = (
            f"bus subscriber {sub.name!r} is {sub.reliable_bound} events behind; "
            "stations go to their safe state until it catches up"
        )
        log.error(message)
        self._pending.append(
            Alert(
                station_id=None,
                severity=AlertSeverity.CRITICAL,
                code="bus_overflow",
                message=message,
            )
        )
        if self.on_overflow is not None:
            self.on_overflow(sub)

    def _recovered(self, sub: Subscription) -> None:
        sub.overflowing = False
        message = f"bus subscriber {sub.name!r} caught up"
        log.warning(message)
        self.publish(
            Alert(
                station_id=None,
                severity=AlertSeverity.INFO,
                code="bus_overflow",
                message=message,
                cleared=True,
            )
        )
        if self.on_recovered is not None:
            self.on_recovered(sub)

    def _cut_off(self, sub: Subscription) -> None:
        lost = sub._cut()
        message = (
            f"bus subscriber {sub.name!r} stopped reading and was cut off after {lost} "
            "undelivered events"
        )
        log.critical(message)
        self._pending.append(
            Alert(
                station_id=None,
                severity=AlertSeverity.CRITICAL,
                code="bus_subscriber_cut_off",
                message=message,
            )
        )

    def _remove(self, sub: Subscription) -> None:
        if sub in self._subscriptions:
            self._subscriptions.remove(sub)
            self._snapshot = tuple(self._subscriptions)
        if sub.overflowing:
            sub.overflowing = False
            if self.on_recovered is not None:
                self.on_recovered(sub)
        sub._wake()

    def stats(self) -> list[SubscriptionStats]:
        return [sub.stats() for sub in self._subscriptions]
