"""The one timing rule of the HRV benchmark, used in-process and inside peer environments.

Standard library only: the peer environments run it without gymctl installed.
"""

from __future__ import annotations

import time
from collections.abc import Callable


def best_per_call(fn: Callable[[], object], *, repeat: int = 5, min_time_s: float = 0.05) -> float:
    """Seconds per call: the best of ``repeat`` rounds, each long enough to time well.

    One warm-up call first (imports, JIT compilation, caches), then the number of calls per
    round is doubled until a round lasts ``min_time_s``. The minimum is the figure least
    disturbed by other processes on a shared machine.
    """
    fn()
    number = 1
    while True:
        start = time.perf_counter()
        for _ in range(number):
            fn()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time_s:
            break
        number *= 2
    best = elapsed / number
    for _ in range(repeat - 1):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        best = min(best, (time.perf_counter() - start) / number)
    return best
