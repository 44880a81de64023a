"""The loop thread's time slice: a station's timer that fires should run now, not after the
slice of whatever else holds the CPU.

Linux's scheduler (EEVDF, 6.6 and later) runs the runnable thread with the earliest virtual
deadline, its eligible time plus its time slice: 0.7 ms times 1 + log2(CPUs), 1.4 ms on two
cores. Since 6.12 a normal (``SCHED_OTHER``) thread may ask for a shorter slice through
``sched_setattr``'s ``sched_runtime`` (0.1 to 100 ms, no privilege needed): its deadlines
come earlier, and when it wakes it preempts a thread with a longer slice instead of waiting
for that slice to end. The stations' loop is that thread: it wakes 2000 times a second for
callbacks well under a slice, while the panel's worker threads, the load on the machine and
other processes run long. The load benchmark, with the slice asked for and not in
alternate rounds of one run, counted cues later than 1.8 ms at 0.11 % of unloaded reps
instead of 0.45 %, 0.48 % of loaded ones instead of 0.63 %, and the loaded loop lag's p99
at 5.1 ms instead of 7.5 ms (``benchmarks/RESULTS.md``).

A kernel before 6.12 takes the field and ignores it; another system has no such call; a
sandbox may refuse it. Then nothing changes and :class:`SliceRequest` says why: the site runs
as before, only with the default slice.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import platform
import sys
from collections.abc import Iterator
from dataclasses import dataclass

from kernels.errors import InvalidInputError

#: the slice the loop's thread asks for: the shortest the kernel grants
LOOP_SLICE_NS = 100_000
MIN_SLICE_NS = 100_000
MAX_SLICE_NS = 100_000_000
SCHED_OTHER = 0
#: ``sched_setattr`` and ``sched_getattr`` by machine (the C library has no wrapper)
_SYSCALLS = {"x86_64": (314, 315), "aarch64": (274, 275)}


class _SchedAttr(ctypes.Structure):
    """``struct sched_attr`` as of its first version (``SCHED_ATTR_SIZE_VER0``, 48 bytes)."""

    _fields_ = [
        ("size", ctypes.c_uint32),
        ("sched_policy", ctypes.c_uint32),
        ("sched_flags", ctypes.c_uint64),
        ("sched_nice", ctypes.c_int32),
        ("sched_priority", ctypes.c_uint32),
        ("sched_runtime", ctypes.c_uint64),
        ("sched_deadline", ctypes.c_uint64),
        ("sched_period", ctypes.c_uint64),
    ]


@dataclass(frozen=True, slots=True)
class SliceRequest:
    """What came of asking for a slice for the calling thread."""

    requested_ns: int
    granted: bool  #: the kernel reports the requested slice back
    reason: str = ""  #: why not, when not granted


class _Syscalls:
    def __init__(self, numbers: tuple[int, int]) -> None:
        self.set_nr, self.get_nr = numbers
        self.libc = ctypes.CDLL(None, use_errno=True)

    def get(self) -> _SchedAttr:
        attr = _SchedAttr()
        if self.libc.syscall(self.get_nr, 0, ctypes.byref(attr), ctypes.sizeof(attr), 0) != 0:
            raise _errno_error("sched_getattr")
        return attr

    def set_runtime(self, policy: int, runtime_ns: int) -> None:
        attr = _SchedAttr(
            size=ctypes.sizeof(_SchedAttr),
            sched_policy=policy,
            # the thread's own nice value (on Linux, getpriority of 0 is the calling thread)
            sched_nice=os.getpriority(os.PRIO_PROCESS, 0),
            sched_runtime=runtime_ns,
        )
        if self.libc.syscall(self.set_nr, 0, ctypes.byref(attr), 0) != 0:
            raise _errno_error("sched_setattr")


def _errno_error(call: str) -> OSError:
    code = ctypes.get_errno()
    return OSError(code, f"{call}: {os.strerror(code)}")


def _syscalls() -> _Syscalls | None:
    numbers = _SYSCALLS.get(platform.machine())
    if not sys.platform.startswith("linux") or numbers is None:
        return None
    return _Syscalls(numbers)


def _ask(calls: _Syscalls | None, slice_ns: int) -> tuple[SliceRequest, bool]:
    """The request's outcome, and whether the thread's attributes were changed."""
    if calls is None:
        where = f"{sys.platform} {platform.machine()}"
        return SliceRequest(slice_ns, False, f"no sched_setattr on {where}"), False
    try:
        policy = calls.get().sched_policy
        if policy != SCHED_OTHER:
            # an administrator's real-time or batch policy is left as it is
            return SliceRequest(slice_ns, False, f"the thread runs under policy {policy}"), False
        calls.set_runtime(SCHED_OTHER, slice_ns)
        granted = calls.get().sched_runtime == slice_ns
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.ENOSYS, errno.EINVAL, errno.E2BIG):
            raise
        return SliceRequest(slice_ns, False, str(exc)), False
    reason = "" if granted else "the kernel ignores the slice (before 6.12)"
    return SliceRequest(slice_ns, granted, reason), True


@contextlib.contextmanager
def short_timeslice(slice_ns: int = LOOP_SLICE_NS) -> Iterator[SliceRequest]:
    """Enter from the event loop's thread for as long as the site runs (``gymctl run``, the
    load benchmark); leaving gives the thread the kernel's default slice back."""
    if not MIN_SLICE_NS <= slice_ns <= MAX_SLICE_NS:
        raise InvalidInputError(
            f"{slice_ns} ns is outside the kernel's {MIN_SLICE_NS}..{MAX_SLICE_NS} ns",
            where="time slice",
        )
    calls = _syscalls()
    request, changed = _ask(calls, slice_ns)
    try:
        yield request
    finally:
        if changed and calls is not None:
            with contextlib.suppress(OSError):
                calls.set_runtime(SCHED_OTHER, 0)  # 0: the kernel's default slice again


def describe(request: SliceRequest) -> str:
    """One line for the log."""
    if request.granted:
        return f"the loop's thread runs with a {request.requested_ns / 1e6:g} ms time slice"
    return f"the loop's thread keeps the default time slice: {request.reason}"
