"""Worker threads run below the event loop's thread: the stations' loop comes first.

The store's writer and readers share the machine's cores with the loop that runs every
station. When they are busy (a commit, the panel's reads under load) and the loop's thread
wakes, the kernel may leave it waiting for a core: the load benchmark measured the loop's
thread runnable but not running for 4 % of a loaded window, in waits of up to tens of
milliseconds. A worker thread with a higher nice value yields its core to the loop at
once and still gets every cycle the loop leaves idle (most of them).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger(__name__)

#: the nice value of worker threads (the loop's thread keeps the process's own, usually 0)
WORKER_NICE = 10


def lower_thread_priority(nice: int = WORKER_NICE) -> None:
    """Called by a worker thread as it starts: its own nice value goes up to ``nice`` (never
    down). A no-op where threads have no nice value of their own (not Linux)."""
    if not hasattr(os, "setpriority"):
        return
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:  # a sandbox that refuses it: the thread runs as it was
        log.debug("cannot lower the priority of thread %s: %s", tid, exc)
