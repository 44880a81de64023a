"""The poll cadence, with time driven by the test: a grid, skipped ticks, never a burst."""

from __future__ import annotations

import pytest

from equipment_adapters.modbus.ticker import Ticker


class FakeTime:
    """A clock that moves only when the code under test sleeps or the test says so."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_ticks_fall_on_the_grid_of_the_interval_and_phase() -> None:
    time = FakeTime(now=100.013)
    ticker = Ticker(0.02, phase=0.005, clock=time.clock, sleep=time.sleep)
    ticks = []
    for _ in range(3):
        await ticker.wait()
        ticks.append(round(time.now, 6))
    assert ticks == [100.025, 100.045, 100.065]
    # a ticker made later, of the same interval and phase, ticks at the same instants
    later = Ticker(0.02, phase=0.005, clock=time.clock, sleep=time.sleep)
    await later.wait()
    assert round(time.now, 6) == 100.065


async def test_a_late_caller_skips_ticks_instead_of_bursting() -> None:
    time = FakeTime(now=0.0)
    skipped: list[int] = []
    ticker = Ticker(0.01, on_skip=skipped.append, clock=time.clock, sleep=time.sleep)
    await ticker.wait()  # t = 0
    time.now += 0.0555  # a poll that took five and a half ticks
    await ticker.wait()  # the late tick runs at once...
    assert time.sleeps == []
    assert skipped == [4]
    await ticker.wait()  # ...and the next one waits for its slot on the grid
    assert time.sleeps == [pytest.approx(0.0045)]
    assert time.now == pytest.approx(0.06)


async def test_a_slightly_late_tick_is_not_a_skip() -> None:
    time = FakeTime(now=0.0)
    skipped: list[int] = []
    ticker = Ticker(0.01, on_skip=skipped.append, clock=time.clock, sleep=time.sleep)
    await ticker.wait()
    time.now += 0.015  # late by half a tick: run it now, keep the grid
    await ticker.wait()
    await ticker.wait()
    assert skipped == []
    assert time.now == pytest.approx(0.02)


async def test_interval_zero_is_back_to_back_and_negatives_are_refused() -> None:
    time = FakeTime(now=5.0)
    ticker = Ticker(0.0, clock=time.clock, sleep=time.sleep)
    for _ in range(3):
        await ticker.wait()
    assert time.sleeps == [0, 0, 0]
    with pytest.raises(ValueError, match="must not be negative"):
        Ticker(-1.0, clock=time.clock)
