"""Fixtures shared by the whole suite, among them the leak checks every test runs under."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping

import pytest

from controller.control_loop import ControlLoop

#: Threads that libraries start once per process and keep on purpose.
PERSISTENT_THREAD_PREFIXES: tuple[str, ...] = ("asyncio_", "ThreadPoolExecutor")


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> Mapping[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test runs on the kind of loop the site runs on (``gymctl run``)."""
    del config, item
    return {"control": ControlLoop}


def _foreign_threads(before: set[threading.Thread]) -> list[threading.Thread]:
    return [
        t
        for t in threading.enumerate()
        if t not in before and t.is_alive() and not t.name.startswith(PERSISTENT_THREAD_PREFIXES)
    ]


@pytest.fixture(autouse=True)
def no_thread_leaks() -> Iterator[None]:
    """Fail a test that leaves a thread running (after a short grace period)."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while (leaked := _foreign_threads(before)) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not leaked, f"threads left running: {[t.name for t in leaked]}"


@pytest.fixture(autouse=True)
async def no_task_leaks() -> AsyncIterator[None]:
    """Fail a test that leaves an asyncio task pending on its loop."""
    yield
    current = asyncio.current_task()
    for _ in range(20):
        pending = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        if not pending:
            return
        await asyncio.sleep(0.01)
    names = [t.get_name() for t in pending]
    for task in pending:
        task.cancel()
    raise AssertionError(f"tasks left pending: {names}")
