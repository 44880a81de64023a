"""Login rate limiting: failed attempts per (username, address) and per address.

Sliding windows on the monotonic clock (a wall-clock jump neither unlocks nor locks
anyone). While a key is over its limit, the password is not even checked, so a guesser
learns nothing and costs us no argon2 time. Memory is bounded: at most ``max_keys`` keys
are tracked, the oldest forgotten first.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable


class LoginLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        ip_max_failures: int = 20,
        window_s: float = 300.0,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_failures < 1 or ip_max_failures < 1 or window_s <= 0 or max_keys < 1:
            raise ValueError("limits and window must be positive")
        self.max_failures = max_failures
        self.ip_max_failures = ip_max_failures
        self.window_s = window_s
        self.max_keys = max_keys
        self.clock = clock
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    @staticmethod
    def _keys(username: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return (username.strip().casefold(), address), ("", address)

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if not times:
            del self._failures[key]
        return times

    def retry_after(self, username: str, address: str) -> float | None:
        """Seconds until this username may be tried again from this address; None: now."""
        now = self.clock()
        waits = []
        for key, limit in zip(
            self._keys(username, address), (self.max_failures, self.ip_max_failures), strict=True
        ):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(times[-limit] + self.window_s - now)
        return max(waits) if waits else None

    def failed(self, username: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(username, address):
            times = self._failures.setdefault(key, deque())
            times.append(now)
            self._failures.move_to_end(key)
            if len(times) > self.ip_max_failures:
                times.popleft()
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)

    def succeeded(self, username: str, address: str) -> None:
        """A correct password clears that username's failures (not the address's)."""
        self._failures.pop(self._keys(username, address)[0], None)
