"""The garbage collector of a long-running controller: its pauses are loop stalls.

The stations share one event loop, and CPython's cyclic collector runs inside whatever
callback allocates the object that crosses its threshold: a full collection walks every
tracked object of the process (the imported modules, the panel's app, the site's objects),
hundreds of milliseconds with a hundred stations, during which no station's data is read.
Once the site has started, what exists then lives as long as the process: :func:`settle_heap`
collects once and moves it out of the collector's reach (``gc.freeze``), so later
collections walk only what was allocated since, and the young generation is collected less
often (the stations allocate a few objects per batch, almost all freed by reference count).
"""

from __future__ import annotations

import gc

#: allocations between young-generation collections (CPython's default is 700)
YOUNG_THRESHOLD = 10_000


def settle_heap() -> None:
    """Call once the site is up (``gymctl run``, ``gymctl demo``, the load benchmark)."""
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, older, oldest)
