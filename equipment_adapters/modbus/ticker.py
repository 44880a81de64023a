"""A poll cadence that skips ticks rather than queueing them.

A poller that falls behind (a slow gateway, a busy process) must not then fire a burst of
requests to catch up: that queues work on a link that is already the bottleneck. The
ticker drops the missed ticks (and counts them); the next poll simply fetches more.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable


def _ignore(missed: int) -> None:
    del missed


class Ticker:
    """``await ticker.wait()`` returns at every tick; late callers skip ticks, never burst.

    ``phase`` delays the first tick (so that many pollers do not tick together);
    ``on_skip`` is told how many ticks were dropped. An interval of 0 ticks back to back,
    yielding to the loop each time. Create it inside the running loop.
    """

    def __init__(
        self, interval: float, *, phase: float = 0.0, on_skip: Callable[[int], None] = _ignore
    ) -> None:
        if interval < 0 or phase < 0:
            raise ValueError("interval and phase must not be negative")
        self._interval = interval
        self._deadline = asyncio.get_running_loop().time() + phase
        self._on_skip = on_skip

    async def wait(self) -> None:
        if self._interval <= 0:
            await asyncio.sleep(0)
            return
        now = asyncio.get_running_loop().time()
        if self._deadline > now:
            await asyncio.sleep(self._deadline - now)
        elif now - self._deadline >= self._interval:
            missed = math.floor((now - self._deadline) / self._interval)
            self._on_skip(missed)
            self._deadline += missed * self._interval
        self._deadline += self._interval
