"""The loop thread's scheduling while the site runs: short_timeslice (the slice asked of the
kernel, the default given back after; read back with sched_getattr) and realtime_priority
(SCHED_FIFO when permitted, read back with sched_getscheduler; refused as another user)."""

from __future__ import annotations

import ctypes
import os
import platform
import resource
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from controller.timeslice import (
    LOOP_SLICE_NS,
    RealtimeRequest,
    SliceRequest,
    _SchedAttr,
    _syscalls,
    describe,
    loop_scheduling,
    realtime_priority,
    short_timeslice,
)
from kernels.errors import InvalidInputError

T = TypeVar("T")


def _kernel_at_least(major: int, minor: int) -> bool:
    parts = platform.release().split(".")
    return (int(parts[0]), int(parts[1].split("-")[0])) >= (major, minor)


def _in_thread(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread of its own: the slice and nice value are per thread, and the
    test process's other threads must not be touched."""
    out: list[T] = []
    errors: list[BaseException] = []

    def target() -> None:
        try:
            out.append(fn())
        except BaseException as exc:  # re-raised in the test's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="timeslice-test")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
    return out[0]


def _runtime_ns() -> int:
    calls = _syscalls()
    assert calls is not None
    return int(calls.get().sched_runtime)


def test_the_struct_is_the_kernels_first_version() -> None:
    assert ctypes.sizeof(_SchedAttr) == 48


def test_the_slice_is_granted_inside_and_the_default_is_back_after() -> None:
    def probe() -> tuple[SliceRequest, int, int, int]:
        before = _runtime_ns()
        with short_timeslice() as request:
            inside = _runtime_ns()
        return request, before, inside, _runtime_ns()

    request, before, inside, after = _in_thread(probe)
    if _syscalls() is None or not _kernel_at_least(6, 12):
        # nothing to grant here: the request says why, and nothing changed
        assert not request.granted
        assert request.reason
        assert "default time slice" in describe(request)
        return
    assert request == SliceRequest(LOOP_SLICE_NS, True, "")
    assert inside == LOOP_SLICE_NS
    assert before != LOOP_SLICE_NS
    assert after == before
    assert "0.1 ms" in describe(request)


def test_the_threads_nice_value_is_kept() -> None:
    def probe() -> tuple[int, int]:
        os.setpriority(os.PRIO_PROCESS, 0, 5)  # raising one's own nice needs no privilege
        with short_timeslice():
            inside = os.getpriority(os.PRIO_PROCESS, 0)
        return inside, os.getpriority(os.PRIO_PROCESS, 0)

    assert _in_thread(probe) == (5, 5)


def test_the_default_is_back_when_the_site_fails() -> None:
    def probe() -> int:
        before = _runtime_ns()
        with pytest.raises(RuntimeError, match="the site failed"), short_timeslice():
            raise RuntimeError("the site failed")
        assert _runtime_ns() == before
        return before

    _in_thread(probe)


@pytest.mark.parametrize("slice_ns", [0, 99_999, 100_000_001, -1])
def test_a_slice_the_kernel_cannot_grant_is_refused(slice_ns: int) -> None:
    refused = pytest.raises(InvalidInputError, match=r"time slice: .* outside the kernel's")
    with refused, short_timeslice(slice_ns):
        pass


def test_another_machine_keeps_the_default_and_says_why(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("platform.machine", lambda: "riscv64")
    with short_timeslice() as request:
        assert not request.granted
        assert "no sched_setattr" in request.reason


# -- SCHED_FIFO --------------------------------------------------------------------------


def _fifo_permitted() -> bool:
    """Whether this process may use SCHED_FIFO (root, CAP_SYS_NICE or RLIMIT_RTPRIO)."""

    def probe() -> bool:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
        except PermissionError:
            return False
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
        return True

    return _in_thread(probe)


def test_realtime_priority_runs_the_thread_under_fifo_and_gives_it_back() -> None:
    def probe() -> tuple[RealtimeRequest, int, int, int, int]:
        started: list[int] = []
        with realtime_priority(10) as request:
            policy = os.sched_getscheduler(0)
            priority = os.sched_getparam(0).sched_priority
            # a thread the loop starts (an executor's worker) is a normal one
            worker = threading.Thread(target=lambda: started.append(os.sched_getscheduler(0)))
            worker.start()
            worker.join()
        return request, policy, priority, started[0], os.sched_getscheduler(0)

    request, policy, priority, worker, after = _in_thread(probe)
    if not _fifo_permitted():
        assert request == RealtimeRequest(10, False, request.reason)
        assert "CAP_SYS_NICE" in request.reason
        assert policy == after == os.SCHED_OTHER
        return
    assert request == RealtimeRequest(10, True, "")
    assert policy == os.SCHED_FIFO | os.SCHED_RESET_ON_FORK
    assert priority == 10
    assert worker == os.SCHED_OTHER
    assert after == os.SCHED_OTHER
    assert describe(request) == "the loop's thread runs under SCHED_FIFO at priority 10"


def test_the_loop_keeps_the_short_slice_when_fifo_is_not_permitted() -> None:
    """In a child without the privilege (no RLIMIT_RTPRIO; user nobody when the tests run as
    root) SCHED_FIFO is refused with the way to allow it, and the short slice is taken."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: only this thread, no lock of another thread touched
        code = 1
        try:
            os.close(read)
            resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
            if os.geteuid() == 0:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
            with loop_scheduling(10) as scheduling:
                line = f"{scheduling.refused}|{scheduling.timeslice is not None}|"
                line += scheduling.describe()
            os.write(write, line.encode())
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    refused, has_slice, line = out.split("|")
    assert refused == "True"
    assert has_slice == "True"
    assert "does not run under SCHED_FIFO: not permitted (give the service CAP_SYS_NICE" in line


def test_loop_scheduling_takes_fifo_alone_when_granted() -> None:
    def probe() -> tuple[bool, bool, int]:
        with loop_scheduling(5) as scheduling:
            return scheduling.refused, scheduling.timeslice is None, os.sched_getscheduler(0)

    refused, no_slice, policy = _in_thread(probe)
    if not _fifo_permitted():
        assert refused
        return
    assert not refused
    assert no_slice
    assert policy & ~os.SCHED_RESET_ON_FORK == os.SCHED_FIFO


@pytest.mark.parametrize("priority", [0, 100, -1])
def test_a_priority_outside_fifos_range_is_refused(priority: int) -> None:
    refused = pytest.raises(InvalidInputError, match=r"realtime priority: .* outside 1\.\.99")
    with refused, realtime_priority(priority):
        pass
