"""The GIL's hand-over to the event loop: worker threads must not hold the stations back.

The store's writer and the panel's reads run in worker threads. When the loop's thread
wakes (a station's timer due, a socket readable) while one of them runs Python code (rows
into dicts, a list compared or encoded), it waits for the GIL until that thread blocks or
CPython's switch interval forces a hand-over: 5 ms by default, during which every station
on the loop waits. The load benchmark (``gymctl bench panel-load``, ``benchmarks/
RESULTS.md``) measured the loaded loop lag's p99 at 7-9 ms with the default and 5-6 ms with
0.5 ms. The cost is more hand-overs between threads that both run Python, rare here: the
workers mostly wait in SQLite or zlib, which release the GIL.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator

#: the longest a worker thread running Python holds the GIL from a waiting loop
LOOP_SWITCH_INTERVAL_S = 0.0005


@contextlib.contextmanager
def prompt_gil_handover(interval_s: float = LOOP_SWITCH_INTERVAL_S) -> Iterator[None]:
    """Enter for as long as the site runs (``gymctl run``, the load benchmark); leaving
    restores the interval (a process that goes on, such as a test run, gets it back)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(interval_s)
    try:
        yield
    finally:
        sys.setswitchinterval(before)
