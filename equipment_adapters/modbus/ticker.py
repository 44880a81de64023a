"""A poll cadence that skips ticks rather than queueing them.

A poller that falls behind (a slow gateway, a busy process) must not then fire a burst of
requests to catch up: that queues work on a link that is already the bottleneck. The
ticker drops the missed ticks (and counts them); the next poll simply fetches more.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Awaitable, Callable


def _ignore(missed: int) -> None:
    del missed


class Ticker:
    """``await ticker.wait()`` returns at every tick; late callers skip ticks, never burst.

    Ticks fall on a grid of the loop's clock: multiples of ``interval`` plus ``phase``, so
    tickers of one interval and phase tick together whenever they were created, and a
    random phase per device spreads many devices' polls. ``on_skip`` is told how many
    ticks were dropped. An interval of 0 ticks back to back, yielding to the loop each
    time. Create it inside the running loop. ``clock`` and ``sleep`` default to the loop's
    (tests drive time with their own).
    """

    def __init__(
        self,
        interval: float,
        *,
        phase: float = 0.0,
        on_skip: Callable[[int], None] = _ignore,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if interval < 0 or phase < 0:
            raise ValueError("interval and phase must not be negative")
        self._interval = interval
        self._clock = clock or asyncio.get_running_loop().time
        self._sleep = sleep
        now = self._clock()
        self._deadline = now + phase
        if interval > 0:
            self._deadline = math.ceil((now - phase) / interval) * interval + phase
        self._on_skip = on_skip

    async def wait(self) -> None:
        if self._interval <= 0:
            await self._sleep(0)
            return
        now = self._clock()
        if self._deadline > now:
            await self._sleep(self._deadline - now)
        elif now - self._deadline >= self._interval:
            missed = math.floor((now - self._deadline) / self._interval)
            self._on_skip(missed)
            self._deadline += missed * self._interval
        self._deadline += self._interval
