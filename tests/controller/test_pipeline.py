"""The station's stream processor: batches in, the reps the kernels find out, traces kept."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.traces import Script
from controller.pipeline import (
    CompletedRep,
    StreamProcessor,
    lift_start,
    nominal_rate,
    rep_source,
    two_sided_channels,
)
from equipment_adapters.batch import Channel, SampleBatch
from kernels.errors import InvalidInputError
from kernels.rep_config import DetectorConfig, LiftStart
from kernels.rep_detector import RepDetector

RATE = 1000.0


def squat_set(velocities: list[float], rom: float = 0.5) -> Script:
    script = Script(start_height_m=1.0).pause(0.5)
    for v in velocities:
        script.top_rep(rom, rom / v, top_pause_s=0.6)
    return script.pause(1.0)


def batches(
    values: np.ndarray,
    channel: Channel,
    *,
    size: int = 20,
    device: str = "rack-1-rack",
    period: float = 1.0 / RATE,
    t0: float = 0.0,
) -> list[SampleBatch]:
    return [
        SampleBatch(
            device,
            channel,
            t0 + i * period,
            period,
            np.ascontiguousarray(values[i : i + size]),
            received=0.0,
            seq=i,
        )
        for i in range(0, values.shape[0], size)
    ]


def collector() -> tuple[list[CompletedRep], StreamProcessor]:
    reps: list[CompletedRep] = []
    return reps, StreamProcessor("s1", on_rep=reps.append)


def test_one_sided_position_reps_match_the_kernel_fed_directly() -> None:
    script = squat_set([0.8, 0.7, 0.6, 0.5])
    _, x = script.render(RATE, noise_m=0.0002, seed=3)
    reps, processor = collector()
    processor.arm(set_id="set-1", exercise="back_squat", load_kg=100.0, rep_source="position")
    for batch in batches(x, Channel.POSITION):
        processor.feed(batch)
    direct = RepDetector(DetectorConfig(RATE, start=LiftStart.TOP), load_kg=100.0)
    expected = list(direct.feed(x, 0.0, 1.0 / RATE))
    assert [r.metrics for r in reps] == expected
    assert len(reps) == 4
    assert all(r.source == "position" and r.metrics.mean_power_w for r in reps)
    traces = processor.disarm()
    assert len(traces) == 1
    np.testing.assert_array_equal(traces[0].view(), x)


def test_nothing_is_detected_or_kept_between_sets() -> None:
    _, x = squat_set([0.8, 0.7]).render(RATE, noise_m=0.0002, seed=2)
    reps, processor = collector()
    for batch in batches(x, Channel.POSITION):
        processor.feed(batch)
    assert reps == []
    assert processor.disarm() == []


def test_each_set_is_a_fresh_stream() -> None:
    _, x = squat_set([0.8, 0.7]).render(RATE, noise_m=0.0002, seed=2)
    reps, processor = collector()
    for n in range(2):
        processor.arm(set_id=f"set-{n}", exercise="back_squat", load_kg=None, rep_source="position")
        for batch in batches(x, Channel.POSITION, t0=100.0 * n):
            processor.feed(batch)
        processor.disarm()
    assert [r.metrics.index for r in reps] == [0, 1, 0, 1]
    assert reps[0].metrics.mean_power_w is None  # no load, no power


def test_two_sided_channels_are_matched_by_sequence_and_give_asymmetry() -> None:
    _, x = squat_set([0.7, 0.6, 0.5]).render(RATE, noise_m=0.0001, seed=1)
    left = 0.25 + (x - 1.0) * 1.05
    right = 0.25 + (x - 1.0) * 0.95
    force_left = np.full_like(x, 600.0)
    force_right = np.full_like(x, 480.0)
    channels = two_sided_channels(
        frozenset(
            {Channel.POSITION_LEFT, Channel.POSITION_RIGHT, Channel.FORCE_LEFT, Channel.FORCE_RIGHT}
        )
    )
    reps: list[CompletedRep] = []
    processor = StreamProcessor("s1", on_rep=reps.append, two_sided=channels)
    processor.arm(set_id="s", exercise="back_squat", load_kg=80.0, rep_source="position")
    streams = [
        batches(left, Channel.POSITION_LEFT),
        batches(right, Channel.POSITION_RIGHT),
        batches(force_left, Channel.FORCE_LEFT),
        batches(force_right, Channel.FORCE_RIGHT),
    ]
    for group in zip(*streams, strict=True):  # one FIFO read: four batches, same seq
        for batch in group:
            processor.feed(batch)
    assert len(reps) == 3
    for rep in reps:
        assert rep.asymmetry is not None
        assert rep.asymmetry.force_pct == pytest.approx(20.0, abs=0.5)
        assert rep.asymmetry.rom_pct == pytest.approx((1.05 - 0.95) / 1.05 * 100, abs=1.0)
    assert len(processor.disarm()) == 4


def test_a_read_with_a_missing_channel_is_dropped_not_mixed() -> None:
    _, x = squat_set([0.7, 0.6]).render(RATE, noise_m=0.0002, seed=4)
    reps: list[CompletedRep] = []
    channels = frozenset({Channel.POSITION_LEFT, Channel.POSITION_RIGHT})
    processor = StreamProcessor("s1", on_rep=reps.append, two_sided=channels)
    processor.arm(set_id="s", exercise="back_squat", load_kg=None, rep_source="position")
    lefts = batches(x, Channel.POSITION_LEFT)
    rights = batches(x, Channel.POSITION_RIGHT)
    for k, (left, right) in enumerate(zip(lefts, rights, strict=True)):
        processor.feed(left)
        if k != 10:  # the right batch of read 10 is lost: read 10 is skipped (a 20 ms gap)
            processor.feed(right)
    assert len(reps) == 2


def test_heart_rate_and_power_are_averaged_over_the_armed_set_and_listened_to() -> None:
    _, processor = collector()
    heard: list[SampleBatch] = []
    undo = processor.listen(Channel.HEART_RATE, heard.append)
    processor.feed(SampleBatch("bike", Channel.POWER, 0.0, 1.0, np.array([100.0]), 0.0))
    processor.arm(set_id="i1", exercise="bike_erg", load_kg=None, rep_source=None)
    for watts in (200.0, 210.0, 220.0):
        processor.feed(SampleBatch("bike", Channel.POWER, 0.0, 1.0, np.array([watts]), 0.0))
    processor.feed(SampleBatch("strap", Channel.HEART_RATE, 0.0, 1.0, np.array([140.0]), 0.0))
    assert processor.mean(Channel.POWER) == pytest.approx(210.0)
    assert processor.last[Channel.HEART_RATE] == 140.0
    assert len(heard) == 1
    undo()
    processor.feed(SampleBatch("strap", Channel.HEART_RATE, 0.0, 1.0, np.array([141.0]), 0.0))
    assert len(heard) == 1


def test_rr_batches_reach_the_hrv_processor() -> None:
    fed: list[np.ndarray] = []

    class Rr:
        def feed(self, rr_ms: np.ndarray) -> list[str]:
            fed.append(rr_ms)
            return ["window"] if len(fed) == 2 else []

    windows: list[str] = []
    processor = StreamProcessor("s1", on_rep=lambda rep: None, rr=Rr(), on_hrv=windows.append)
    for _ in range(2):
        processor.feed(SampleBatch("strap", Channel.RR, 0.0, 0.0, np.array([800.0, 810.0]), 0.0))
    assert len(fed) == 2
    assert windows == ["window"]


def test_a_failing_rep_handler_does_not_stop_the_stream() -> None:
    calls: list[CompletedRep] = []

    def broken(rep: CompletedRep) -> None:
        calls.append(rep)
        raise RuntimeError("bug")

    _, x = squat_set([0.8, 0.7]).render(RATE, noise_m=0.0002, seed=2)
    processor = StreamProcessor("s1", on_rep=broken)
    processor.arm(set_id="s", exercise="back_squat", load_kg=None, rep_source="position")
    for batch in batches(x, Channel.POSITION):
        processor.feed(batch)
    assert len(calls) == 2


def test_helpers() -> None:
    assert nominal_rate(1 / 999.7) == 1000.0
    assert nominal_rate(1 / 37.0) == pytest.approx(37.0)
    with pytest.raises(InvalidInputError):
        nominal_rate(0.0)
    assert lift_start("deadlift") is LiftStart.BOTTOM
    assert lift_start("squat") is LiftStart.TOP
    assert lift_start("band_row") is LiftStart.AUTO
    assert rep_source({"band": frozenset({Channel.IMU})}) == "imu"
    assert rep_source({"r": frozenset({Channel.POSITION_LEFT, Channel.POSITION_RIGHT})}) == (
        "position"
    )
    assert rep_source({"bike": frozenset({Channel.POWER})}) is None
    assert two_sided_channels(frozenset({Channel.POSITION})) == frozenset()
    with pytest.raises(ValueError, match="both positions"):
        StreamProcessor("s", on_rep=lambda r: None, two_sided=frozenset({Channel.FORCE_LEFT}))


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=40))
def test_reps_do_not_depend_on_how_the_stream_is_cut(sizes: list[int]) -> None:
    _, x = squat_set([0.75, 0.6]).render(RATE, noise_m=0.0002, seed=7)
    reference, processor = collector()
    processor.arm(set_id="s", exercise="back_squat", load_kg=90.0, rep_source="position")
    for batch in batches(x, Channel.POSITION, size=50):
        processor.feed(batch)
    got, other = collector()
    other.arm(set_id="s", exercise="back_squat", load_kg=90.0, rep_source="position")
    start, k = 0, 0
    while start < x.shape[0]:
        size = sizes[k % len(sizes)]
        other.feed(
            SampleBatch("r", Channel.POSITION, start / RATE, 1 / RATE, x[start : start + size], 0.0)
        )
        start += size
        k += 1
    assert [r.metrics for r in got] == [r.metrics for r in reference]
    trace = other.disarm()[0]
    np.testing.assert_array_equal(trace.view(), x)
