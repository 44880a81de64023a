"""HR-controlled ERG: the pure law, the closed loop on the rider model in simulated time,
and the runner driving an emulated bike over BLE from an emulated strap's heart rate."""

from __future__ import annotations

import asyncio

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from controller.hr_erg import (
    HrErgConfig,
    HrErgRunner,
    HrErgState,
    hr_erg_step,
    hr_slope,
)
from equipment_adapters.base import LinkState, SetLoad
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.ble import FtmsBikeAdapter, HrStrapAdapter, LinkOptions, VirtualAir
from equipment_adapters.ble._session import Backoff
from equipment_adapters.emulators.athlete import DEMO_ATHLETES, SimulatedAthlete
from equipment_adapters.emulators.bike import BikeEmulator
from equipment_adapters.emulators.hr_strap import HrStrapEmulator
from equipment_adapters.emulators.rider import RiderModel
from kernels.errors import InvalidInputError

BAND = HrErgConfig(low_bpm=140.0, high_bpm=150.0)


def test_config_rejects_a_bad_band() -> None:
    with pytest.raises(InvalidInputError, match="hr band"):
        HrErgConfig(low_bpm=150.0, high_bpm=140.0)
    with pytest.raises(InvalidInputError, match="fallback_power_w"):
        HrErgConfig(low_bpm=120.0, high_bpm=130.0, fallback_power_w=10.0)


def test_holds_inside_band_and_acts_only_once_per_period() -> None:
    state = HrErgState(power_w=180.0, last_update_s=0.0)
    held = hr_erg_step(BAND, state, now_s=10.0, hr_bpm=145.5)
    assert held.power_w == 180.0
    assert held.reason == "in band: hold"
    too_soon = hr_erg_step(BAND, held, now_s=15.0, hr_bpm=120.0)
    assert too_soon is held  # slow: nothing changes within the update period


def test_predicted_heart_rate_damps_the_lag() -> None:
    state = HrErgState(power_w=180.0, last_update_s=0.0)
    # below the band but rising fast: the prediction is in band, so power is held
    rising = hr_erg_step(BAND, state, now_s=10.0, hr_bpm=136.0, hr_slope_bpm_per_s=0.3)
    assert rising.power_w == 180.0
    # inside the band but climbing out of it: power comes down before HR leaves it
    climbing = hr_erg_step(BAND, state, now_s=10.0, hr_bpm=148.0, hr_slope_bpm_per_s=0.3)
    assert climbing.power_w < 180.0


@given(
    power=st.floats(60.0, 350.0),
    hr=st.floats(40.0, 220.0),
    slope=st.floats(-2.0, 2.0),
    elapsed=st.floats(10.0, 120.0),
)
def test_bounded_and_rate_limited(power: float, hr: float, slope: float, elapsed: float) -> None:
    state = HrErgState(power_w=power, last_update_s=0.0)
    new = hr_erg_step(BAND, state, now_s=elapsed, hr_bpm=hr, hr_slope_bpm_per_s=slope)
    assert BAND.min_power_w <= new.power_w <= BAND.max_power_w
    rise = new.power_w - power
    assert rise <= min(BAND.max_step_w, BAND.max_rise_w_per_min * elapsed / 60.0) + 1e-9
    assert rise >= -BAND.max_step_w - 1e-9


def test_missing_heart_rate_falls_back_never_upwards() -> None:
    high = hr_erg_step(BAND, HrErgState(power_w=220.0), now_s=0.0, hr_bpm=None)
    assert high.power_w == BAND.fallback_power_w
    low = hr_erg_step(BAND, HrErgState(power_w=70.0), now_s=0.0, hr_bpm=None)
    assert low.power_w == 70.0
    assert "no heart rate" in low.reason


def test_slope() -> None:
    t = np.arange(20.0)
    assert hr_slope(t, 100.0 + 0.5 * t) == pytest.approx(0.5)
    assert hr_slope(t[:2], t[:2]) == 0.0


def smoothed(hr: npt.NDArray[np.float64], window: int = 15) -> npt.NDArray[np.float64]:
    return np.convolve(hr, np.ones(window) / window, mode="valid")


def assert_enters_and_stays(
    hr: npt.NDArray[np.float64], low: float, high: float, per_s: float = 1.0
) -> None:
    """Smoothed HR (15 s) enters the band and stays there: no exit, no swing across it."""
    hr = smoothed(hr, max(1, round(15 * per_s)))
    inside = (hr >= low) & (hr <= high)
    assert inside.any(), f"never entered {low}..{high}: last {hr[-1]:.1f}"
    first = int(np.argmax(inside))
    settled = hr[first + round(60 * per_s) :]  # a minute after entering
    assert settled.shape[0] > 0
    assert settled.min() >= low - 0.5, f"fell to {settled.min():.1f}"
    assert settled.max() <= high + 0.5, f"rose to {settled.max():.1f}"


@pytest.mark.parametrize(
    ("athlete", "low", "high"),
    [
        (DEMO_ATHLETES[3], 140.0, 150.0),
        (DEMO_ATHLETES[0], 130.0, 140.0),
        (DEMO_ATHLETES[1], 150.0, 160.0),
        (DEMO_ATHLETES[2], 120.0, 130.0),
    ],
)
def test_closed_loop_on_the_rider_model(athlete: SimulatedAthlete, low: float, high: float) -> None:
    """An hour in simulated time, one-second steps, the runner's smoothing and trend."""
    config = HrErgConfig(low_bpm=low, high_bpm=high)
    rider = RiderModel(athlete)
    state = HrErgState(power_w=config.start_power_w)
    times: list[float] = []
    values: list[float] = []
    trace = []
    for k in range(3600):
        now = float(k)
        rider.step(1.0, state.power_w)
        times.append(now)
        values.append(rider.heart_rate_bpm)
        t = np.array(times[-20:])
        v = np.array(values[-20:])
        state = hr_erg_step(
            config,
            state,
            now_s=now,
            hr_bpm=float(v[-10:].mean()),
            hr_slope_bpm_per_s=hr_slope(t, v),
        )
        trace.append(rider.heart_rate_bpm)
    assert_enters_and_stays(np.array(trace), low, high)


FAST = LinkOptions(
    scan_timeout_s=1.0,
    connect_timeout_s=2.0,
    freshness_timeout_s=3.0,
    backoff=Backoff(initial_s=0.05, maximum_s=0.3),
)
TIME_SCALE = 120.0  # one real second is two simulated minutes


async def sim_time(bike: BikeEmulator, t: float) -> None:
    """Wait until the emulator's simulated clock reaches ``t``."""
    while bike.sim_time_s < t:  # noqa: ASYNC110 - the simulated clock has no event to wait on
        await asyncio.sleep(0.05)


async def test_runner_drives_the_emulated_bike_from_the_strap() -> None:
    """Strap -> HR batches -> law -> SetLoad -> bike over BLE; the rider answers the bike's
    power with heart rate. 20 simulated minutes in about 10 s."""
    config = HrErgConfig(low_bpm=140.0, high_bpm=150.0, hr_timeout_s=15.0)
    rider = RiderModel(DEMO_ATHLETES[3])
    hr_trace: list[float] = []
    async with (
        VirtualAir() as air,
        BikeEmulator(
            air, name="Bike 1", rider=rider, tick_s=0.025, time_scale=TIME_SCALE, erg_tau_s=2.0
        ) as bike,
        HrStrapEmulator(
            air, name="HR 1", rider=rider, tick_s=0.025, time_scale=TIME_SCALE
        ) as strap_emulator,
    ):
        runner_box: list[HrErgRunner] = []

        def on_hr(batch: SampleBatch) -> None:
            if batch.channel is Channel.HEART_RATE:
                hr_trace.append(float(batch.values[0]))
                runner_box[0].feed(batch)

        bike_adapter = FtmsBikeAdapter(
            device_id="bike", on_batch=lambda b: None, backend=air.backend, options=FAST
        )
        strap = HrStrapAdapter(device_id="hr", on_batch=on_hr, backend=air.backend, options=FAST)

        async def apply(command: SetLoad) -> None:
            await bike_adapter.apply(command)

        runner = HrErgRunner(config, apply=apply, clock=lambda: bike.sim_time_s, poll_s=0.05)
        runner_box.append(runner)
        async with bike_adapter, strap, runner:
            assert bike_adapter.link is LinkState.CONNECTED
            await sim_time(bike, 20 * 60)
            assert runner.decisions
            # the strap goes silent (off the chest, battery out): the runner falls back
            await strap_emulator.set_available(False)
            await strap_emulator.disconnect()
            fallback_at = bike.sim_time_s
            await sim_time(bike, fallback_at + 60)
            assert bike.state.target_power_w == config.fallback_power_w
            assert "no heart rate" in runner.decisions[-1].reason
    # HR samples arrive every 3 simulated seconds here
    assert_enters_and_stays(np.array(hr_trace), 140.0, 150.0, per_s=1 / 3)
