"""Worker threads run below the loop's thread: their own nice value, never lowered."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from controller.priority import WORKER_NICE, lower_thread_priority
from controller.store import Store

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice is Linux's")


def _nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def _in_thread(*steps: object) -> list[int]:
    seen: list[int] = []

    def run() -> None:
        for step in steps:
            if callable(step):
                step()
            seen.append(_nice())

    thread = threading.Thread(target=run, name="test-worker")
    thread.start()
    thread.join()
    return seen


def test_a_worker_thread_goes_below_the_loops_thread_and_only_it() -> None:
    main = _nice()
    assert main < WORKER_NICE
    assert _in_thread(None, lower_thread_priority) == [main, WORKER_NICE]
    assert _nice() == main  # the calling thread (the loop's) keeps its priority


def test_a_thread_already_lower_is_not_raised() -> None:
    def lowest() -> None:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)

    assert _in_thread(lowest, lower_thread_priority) == [19, 19]


async def test_the_stores_writer_and_readers_run_below_the_loop(tmp_path: Path) -> None:
    async with Store(tmp_path / "gym.db") as store:
        assert await store.reader.read(lambda conn: _nice()) == WORKER_NICE
        assert await store.writer.call(lambda db: _nice()) == WORKER_NICE
    assert _nice() < WORKER_NICE
