"""short_timeslice: the loop thread's slice asked of the kernel while the site runs, the
default given back after; read back from the kernel with sched_getattr."""

from __future__ import annotations

import ctypes
import os
import platform
import threading
from collections.abc import Callable
from typing import TypeVar

import pytest

from controller.timeslice import (
    LOOP_SLICE_NS,
    SliceRequest,
    _SchedAttr,
    _syscalls,
    describe,
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
