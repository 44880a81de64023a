"""The control loop's first lane: what a drive schedules runs before the panel's work."""

from __future__ import annotations

import asyncio
import logging

import pytest

from controller import control_loop
from controller.control_loop import ControlLoop, first


async def test_the_suite_runs_on_the_sites_loop() -> None:
    assert isinstance(asyncio.get_running_loop(), ControlLoop)


async def test_a_task_woken_first_runs_before_the_ready_callbacks() -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []
    event = asyncio.Event()

    async def drive() -> None:
        await event.wait()
        order.append("drive")

    task = asyncio.create_task(drive(), name="drive")
    await asyncio.sleep(0)  # the drive waits on its event

    def tick() -> None:
        order.append("tick")
        loop.call_soon(order.append, "panel after")
        with first(loop):
            event.set()
            loop.call_soon(order.append, "first 2")
        loop.call_soon(order.append, "panel last")

    loop.call_soon(tick)
    loop.call_soon(order.append, "panel before")
    await task
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    # the lane keeps its own order and goes ahead; the rest keeps first come, first served
    assert order == ["tick", "drive", "first 2", "panel before", "panel after", "panel last"]


async def test_a_cancelled_handle_in_the_lane_is_skipped_and_an_error_is_reported(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []

    def boom() -> None:
        raise RuntimeError("a drive's bug")

    with first(loop):
        cancelled = loop.call_soon(order.append, "cancelled")
        loop.call_soon(boom)
        loop.call_soon(order.append, "after the error")
    cancelled.cancel()
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        await asyncio.sleep(0)
    assert order == ["after the error"]
    assert "a drive's bug" in caplog.text


def test_first_is_plain_call_soon_on_another_loop() -> None:
    order: list[str] = []

    async def main() -> None:
        loop = asyncio.get_running_loop()
        loop.call_soon(order.append, "before")
        with first(loop):
            loop.call_soon(order.append, "inside")
        await asyncio.sleep(0)

    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        runner.run(main())
    assert order == ["before", "inside"]


def test_run_returns_the_result_on_a_control_loop() -> None:
    async def main() -> str:
        return type(asyncio.get_running_loop()).__name__

    assert control_loop.run(main()) == "ControlLoop"
