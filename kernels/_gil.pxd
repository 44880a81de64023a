# cython: language_level=3
"""When a compiled kernel releases the GIL: only for inputs this large.

Releasing it costs nothing alone, but on the stations' event loop it is an opening: a
worker thread waiting for the GIL (a panel read, the store's writer) takes it, and the loop
gets it back only when that thread blocks or after CPython's switch interval (0.5 ms under
``gymctl run``), against the 10 us the kernel needed for a 50-sample batch. The load
benchmark counted the GIL lost for over 0.5 ms in 2 % of the loaded windows' detector
calls (1.4 s of 50). From a few thousand items on, the work itself is a millisecond or
more, and another thread running meanwhile is worth that wait.
"""

cdef enum:
    NOGIL_MIN_ITEMS = 4096
