"""The garbage collector of a long-running controller: its pauses are loop stalls.

The stations share one event loop, and CPython's cyclic collector runs inside whatever
callback allocates the object that crosses its threshold: a full collection walks every
tracked object of the process (the imported modules, the panel's app, the site's objects),
200-500 ms with a hundred stations (measured by the load benchmark), during which no
station's data is read. Once the site has started, what exists then lives as long as the
process: :func:`settled_heap` collects once and moves it out of the collector's reach
(``gc.freeze``), so later collections walk only what was allocated since, and the young
generation is collected less often (the stations allocate a few objects per batch, almost
all freed by reference count, not by the collector).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

#: allocations between young-generation collections (CPython's default is 700)
YOUNG_THRESHOLD = 10_000


@contextlib.contextmanager
def settled_heap() -> Iterator[None]:
    """Enter once the site is up (``gymctl run``, the load benchmark); leaving undoes it
    (a process that goes on, such as a test run, gets its collector back as it was)."""
    before = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, before[1], before[2])
    try:
        yield
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
