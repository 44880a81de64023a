"""The compiled IMU rep detector against its reference and against known velocities."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment_adapters.emulators.imu_motion import RepSpec, SensorModel, imu_trace
from kernels import imu_reps
from kernels._imu_reps import vertical_motion
from kernels.errors import InvalidInputError
from kernels.reference import imu_reps as reference

SENSOR = SensorModel()


def trace_imu(
    reps: list[RepSpec], fs: float, seed: int, sensor: SensorModel = SENSOR
) -> npt.NDArray[np.float64]:
    trace = imu_trace(reps, fs, sensor, seed=seed)
    return np.column_stack((trace.accel_ms2, trace.gyro_rads))


def test_kernel_matches_reference_sample_by_sample() -> None:
    imu = trace_imu([RepSpec(0.7), RepSpec(0.5, bottom_start=True)], 100.0, seed=2)
    n = imu.shape[0]
    a, v, s = np.empty(n), np.empty(n), np.empty(n, dtype=np.uint8)
    state = np.zeros(6)
    vertical_motion(
        np.ascontiguousarray(imu[:, :3]),
        np.ascontiguousarray(imu[:, 3:]),
        0.01,
        state,
        a,
        v,
        s,
        0.15,
        0.05,
        25,
        0.05,
    )
    ref_state = [0.0] * 6
    ra, rv, rs = reference.vertical_motion(
        imu[:, :3].tolist(),
        imu[:, 3:].tolist(),
        0.01,
        ref_state,
        accel_tol=0.15,
        gyro_tol=0.05,
        still_samples=25,
        alpha=0.05,
    )
    np.testing.assert_allclose(a, ra, rtol=0, atol=1e-9)
    np.testing.assert_allclose(v, rv, rtol=0, atol=1e-9)
    assert s.tolist() == rs
    np.testing.assert_allclose(state, ref_state, atol=1e-9)


SCENARIOS = {
    "squat_100hz": ([RepSpec(v, rom_m=0.5) for v in (1.0, 0.85, 0.7, 0.55, 0.4)], 100.0),
    "deadlift_200hz": ([RepSpec(v, rom_m=0.45, bottom_start=True) for v in (1.2, 0.6, 0.3)], 200.0),
    "heavy_slow": ([RepSpec(v, rom_m=0.55, eccentric_s=2.0) for v in (0.45, 0.38, 0.32)], 100.0),
    "paused_bottom": ([RepSpec(0.6, pause_bottom_s=0.8), RepSpec(0.5, pause_bottom_s=1.0)], 100.0),
    "band_curl": ([RepSpec(v, rom_m=0.35, eccentric_s=0.9) for v in (0.9, 0.9, 0.8, 0.8)], 50.0),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
@pytest.mark.parametrize("seed", [1, 7, 23])
def test_rep_count_exact_and_velocity_within_8_percent(name: str, seed: int) -> None:
    reps, fs = SCENARIOS[name]
    sensor = SensorModel(roll_rad=0.1 * seed % 0.6, pitch_rad=-0.2 + 0.05 * seed % 0.3)
    found = imu_reps.detect_imu_reps(trace_imu(reps, fs, seed, sensor), fs)
    assert len(found) == len(reps)
    for rep, truth in zip(found, reps, strict=True):
        assert rep.mean_velocity_ms == pytest.approx(truth.mean_velocity_ms, rel=0.08)
        assert rep.rom_m == pytest.approx(truth.rom_m, rel=0.08)
        assert rep.peak_velocity_ms == pytest.approx(2 * truth.mean_velocity_ms, rel=0.1)
        assert rep.eccentric_s == pytest.approx(truth.eccentric_s, abs=0.15)
    assert [r.index for r in found] == list(range(len(reps)))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_wrapper_matches_reference(name: str) -> None:
    reps, fs = SCENARIOS[name]
    imu = trace_imu(reps, fs, seed=4)
    ours = imu_reps.detect_imu_reps(imu, fs, t0=3.0, load_kg=60.0)
    theirs = reference.detect_imu_reps(
        imu[:, :3].tolist(), imu[:, 3:].tolist(), fs, t0=3.0, load_kg=60.0
    )
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        for field in a.__dataclass_fields__:
            x, y = getattr(a, field), getattr(b, field)
            assert x == pytest.approx(y, abs=1e-9), field


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(1, 400), min_size=1, max_size=40))
def test_streaming_in_any_chunks_equals_one_shot(chunks: list[int]) -> None:
    imu = trace_imu([RepSpec(0.8), RepSpec(0.6)], 100.0, seed=9)
    whole = imu_reps.detect_imu_reps(imu, 100.0)
    detector = imu_reps.ImuRepDetector(100.0)
    streamed = []
    pos = 0
    for size in chunks:
        streamed += detector.feed(imu[pos : pos + size])
        pos += size
    streamed += detector.feed(imu[pos:])
    assert len(streamed) == len(whole) == 2
    for a, b in zip(streamed, whole, strict=True):
        assert a.mean_velocity_ms == pytest.approx(b.mean_velocity_ms, abs=1e-9)
        assert a.start_s == pytest.approx(b.start_s, abs=1e-9)


def test_power_from_load_and_no_power_without() -> None:
    imu = trace_imu([RepSpec(0.8)], 100.0, seed=3)
    with_load = imu_reps.detect_imu_reps(imu, 100.0, load_kg=80.0)[0]
    assert with_load.mean_power_w == pytest.approx(80.0 * 9.80665 * 0.8, rel=0.1)
    assert imu_reps.detect_imu_reps(imu, 100.0)[0].mean_power_w is None


def test_still_sensor_gives_no_reps_and_bad_input_is_named() -> None:
    still = trace_imu([], 100.0, seed=1)
    assert imu_reps.detect_imu_reps(still, 100.0) == []
    with pytest.raises(InvalidInputError, match="shape"):
        imu_reps.detect_imu_reps(np.zeros((10, 4)), 100.0)
    bad = still.copy()
    bad[5, 2] = np.nan
    with pytest.raises(InvalidInputError, match="row 5"):
        imu_reps.detect_imu_reps(bad, 100.0)
    with pytest.raises(InvalidInputError, match="sample rate"):
        imu_reps.ImuRepDetector(0.0)
