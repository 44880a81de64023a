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

A site that may (``CAP_SYS_NICE``, or an ``RLIMIT_RTPRIO`` as high: systemd's
``LimitRTPRIO=``) can go further with ``site.realtime_priority``: :func:`loop_scheduling`
puts the loop's thread under ``SCHED_FIFO``, so it runs the moment it wakes, ahead of every
normal thread on the machine; with the panel in its own process the load benchmark then
measured no wait for a core at all, and every station's rep-to-cue p99 within 1.7x of its
unloaded one. ``SCHED_RESET_ON_FORK`` keeps the threads and processes the loop starts
normal, and Linux's real-time throttling leaves other threads 5 % of each CPU should the
loop ever spin. Refused, the loop falls back to the short slice.
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


def describe(request: SliceRequest | RealtimeRequest) -> str:
    """One line for the log."""
    if isinstance(request, RealtimeRequest):
        if request.granted:
            return f"the loop's thread runs under SCHED_FIFO at priority {request.priority}"
        return f"the loop's thread does not run under SCHED_FIFO: {request.reason}"
    if request.granted:
        return f"the loop's thread runs with a {request.requested_ns / 1e6:g} ms time slice"
    return f"the loop's thread keeps the default time slice: {request.reason}"


@dataclass(frozen=True, slots=True)
class RealtimeRequest:
    """What came of asking for ``SCHED_FIFO`` for the calling thread."""

    priority: int
    granted: bool
    reason: str = ""


def _policy_now() -> int:
    return os.sched_getscheduler(0) & ~getattr(os, "SCHED_RESET_ON_FORK", 0)


@contextlib.contextmanager
def realtime_priority(priority: int) -> Iterator[RealtimeRequest]:
    """Enter from the loop's thread: ``SCHED_FIFO`` at ``priority`` (1-99) while inside, the
    thread's normal policy after. A thread under another policy than the normal one (an
    administrator's choice) is left alone; without the privilege nothing changes."""
    if not 1 <= priority <= 99:
        raise InvalidInputError(f"{priority} is outside 1..99", where="realtime priority")
    if not (sys.platform.startswith("linux") and hasattr(os, "SCHED_FIFO")):
        yield RealtimeRequest(priority, False, f"no SCHED_FIFO on {sys.platform}")
        return
    policy = _policy_now()
    if policy != os.SCHED_OTHER:
        yield RealtimeRequest(priority, False, f"the thread runs under policy {policy}")
        return
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO | os.SCHED_RESET_ON_FORK, os.sched_param(priority))
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EINVAL):
            raise
        reason = (
            f"not permitted (give the service CAP_SYS_NICE or an RLIMIT_RTPRIO of {priority})"
            if exc.errno == errno.EPERM
            else str(exc)
        )
        yield RealtimeRequest(priority, False, reason)
        return
    try:
        yield RealtimeRequest(priority, True)
    finally:
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))


@dataclass(frozen=True, slots=True)
class LoopScheduling:
    """How the loop's thread ended up scheduled."""

    realtime: RealtimeRequest | None  #: None: not asked for
    timeslice: SliceRequest | None  #: None: not needed (``SCHED_FIFO`` was granted)

    @property
    def refused(self) -> bool:
        """``SCHED_FIFO`` was asked for and not granted (worth a warning)."""
        return self.realtime is not None and not self.realtime.granted

    def describe(self) -> str:
        requests = [r for r in (self.realtime, self.timeslice) if r is not None]
        return "; ".join(describe(r) for r in requests)


@contextlib.contextmanager
def loop_scheduling(realtime: int | None = None) -> Iterator[LoopScheduling]:
    """How the site's loop thread is scheduled while the site runs (``gymctl run``, the load
    benchmark): ``SCHED_FIFO`` at ``realtime`` when given and permitted, else the short
    slice."""
    with contextlib.ExitStack() as stack:
        request = None
        if realtime is not None:
            request = stack.enter_context(realtime_priority(realtime))
            if request.granted:
                yield LoopScheduling(request, None)
                return
        yield LoopScheduling(request, stack.enter_context(short_timeslice()))
