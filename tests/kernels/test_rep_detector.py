"""The compiled position rep detector against its references, its streaming contract, errors."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.traces import (
    Script,
    bench_set,
    deadlift_set,
    squat_set,
    with_dropouts,
    with_time_gaps,
)
from equipment_adapters.batch import Channel, SampleBatch
from kernels.errors import InvalidInputError
from kernels.reference.rep_detector import ReferenceRepDetector
from kernels.reference.rep_detector_numpy import NumpyRepDetector
from kernels.rep_config import MAX_POSITION_M, DetectorConfig, G, LiftStart
from kernels.rep_detector import RepDetector
from kernels.reps import RepMetrics

SETS = {"squat": squat_set(), "bench": bench_set(), "deadlift": deadlift_set()}


def _trace(name: str, rate: float, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    t, x = SETS[name].render(rate, noise_m=0.0002, quantum_m=0.0001, seed=seed)
    # a bridged dropout, a stream break and a NaN at the very start of a rep's pause
    return t, with_dropouts(x, t, [(5.0, 5.03), (11.0, 11.5), (15.2, 15.21)])


def _run_regular(
    detector: RepDetector | ReferenceRepDetector, x: np.ndarray, rate: float
) -> list[RepMetrics]:
    return [*detector.feed(x, 0.0, 1.0 / rate), *detector.finish()]


@pytest.mark.parametrize("rate", [50.0, 100.0, 1000.0, 2000.0])
@pytest.mark.parametrize("name", sorted(SETS))
def test_compiled_matches_reference_bit_for_bit(name: str, rate: float) -> None:
    _t, x = _trace(name, rate)
    config = DetectorConfig(rate)
    reference = ReferenceRepDetector(config, load_kg=90.0)
    compiled = RepDetector(config, load_kg=90.0)
    expected = _run_regular(reference, x, rate)
    assert expected, "the trace must produce reps for the comparison to mean something"
    assert _run_regular(compiled, x, rate) == expected
    assert compiled.partial_reps == reference.partial_reps
    assert compiled.start == reference.mode


@pytest.mark.parametrize("rate", [100.0, 1000.0])
@pytest.mark.parametrize("name", sorted(SETS))
def test_numpy_version_matches_reference_bit_for_bit(name: str, rate: float) -> None:
    _t, x = _trace(name, rate, seed=2)
    config = DetectorConfig(rate)
    reference = ReferenceRepDetector(config)
    vectorised = NumpyRepDetector(config)
    expected = _run_regular(reference, x, rate)
    got: list[RepMetrics] = []
    for start in range(0, x.size, 997):  # batches that do not line up with anything
        got += vectorised.feed(x[start : start + 997], start / rate, 1.0 / rate)
    got += vectorised.finish()
    assert got == expected
    assert vectorised.partial_reps == reference.partial_reps


@pytest.mark.parametrize("name", sorted(SETS))
def test_explicit_timestamps_with_gaps_match_reference(name: str) -> None:
    t, x = _trace(name, 200.0, seed=3)
    t, x = with_time_gaps(t, x, [(3.0, 3.04), (9.0, 9.3), (20.0, 20.012)])
    t = t + 1.7e9  # device clocks count from the epoch
    config = DetectorConfig(200.0)
    reference = ReferenceRepDetector(config)
    expected = [*reference.feed_timed(t, x), *reference.finish()]
    compiled = RepDetector(config)
    assert [*compiled.feed_timed(t, x), *compiled.finish()] == expected
    vectorised = NumpyRepDetector(config)
    assert [*vectorised.feed_timed(t, x), *vectorised.finish()] == expected
    assert all(rep.start_s > 1.7e9 for rep in expected)


@st.composite
def _splits(draw: st.DrawFn, n: int) -> list[int]:
    cuts = draw(st.lists(st.integers(min_value=1, max_value=n - 1), max_size=40, unique=True))
    return [0, *sorted(cuts), n]


_SQUAT_T, _SQUAT_X = squat_set().render(200.0, noise_m=0.0003, quantum_m=0.0001, seed=9)
_SQUAT_X = with_dropouts(_SQUAT_X, _SQUAT_T, [(7.0, 7.04), (13.0, 13.4)])
_WHOLE: list[RepMetrics] = []


def _whole() -> list[RepMetrics]:
    if not _WHOLE:
        detector = RepDetector(DetectorConfig(200.0), load_kg=100.0)
        _WHOLE.extend([*detector.feed(_SQUAT_X, 0.0, 0.005), *detector.finish()])
    return _WHOLE


@settings(max_examples=60, deadline=None)
@given(cuts=_splits(_SQUAT_X.size))
def test_regular_stream_gives_the_same_reps_however_split(cuts: list[int]) -> None:
    detector = RepDetector(DetectorConfig(200.0), load_kg=100.0)
    reps: list[RepMetrics] = []
    for a, b in itertools.pairwise(cuts):
        # an adapter's t0 comes from the device clock: within a hair of a * period, not equal
        t0 = a * 0.005 + (1e-9 if a % 2 else -1e-9) if a else 0.0
        reps += detector.feed(_SQUAT_X[a:b], t0, 0.005)
    reps += detector.finish()
    assert reps == _whole()


@settings(max_examples=60, deadline=None)
@given(cuts=_splits(_SQUAT_X.size))
def test_timed_stream_gives_the_same_reps_however_split(cuts: list[int]) -> None:
    whole_detector = RepDetector(DetectorConfig(200.0))
    whole = [*whole_detector.feed_timed(_SQUAT_T, _SQUAT_X), *whole_detector.finish()]
    detector = RepDetector(DetectorConfig(200.0))
    reps: list[RepMetrics] = []
    for a, b in itertools.pairwise(cuts):
        reps += detector.feed_timed(_SQUAT_T[a:b], _SQUAT_X[a:b])
    reps += detector.finish()
    assert reps == whole
    assert len(whole) == len(SETS["squat"].reps) - 1  # the 0.4 s dropout broke one rep


def test_power_needs_the_load_and_follows_it() -> None:
    _t, x = SETS["bench"].render(500.0, noise_m=0.0002, seed=4)
    without = RepDetector(DetectorConfig(500.0))
    reps = [*without.feed(x, 0.0, 0.002), *without.finish()]
    assert reps
    assert all(r.mean_power_w is None and r.peak_power_w is None for r in reps)
    with_load = RepDetector(DetectorConfig(500.0), load_kg=60.0)
    assert with_load.load_kg == 60.0
    loaded = [*with_load.feed(x, 0.0, 0.002), *with_load.finish()]
    for rep in loaded:
        assert rep.mean_power_w == pytest.approx(60.0 * G * rep.mean_velocity_ms)
        assert rep.peak_power_w is not None
        assert rep.mean_power_w is not None
        assert rep.peak_power_w > rep.mean_power_w
    with_load.load_kg = None
    assert with_load.load_kg is None
    with pytest.raises(InvalidInputError, match="load_kg"):
        with_load.load_kg = -1.0


@pytest.mark.parametrize(
    ("name", "expected"),
    [("squat", LiftStart.TOP), ("bench", LiftStart.TOP), ("deadlift", LiftStart.BOTTOM)],
)
def test_auto_start_is_decided_by_the_first_full_movement(name: str, expected: LiftStart) -> None:
    _t, x = SETS[name].render(200.0, noise_m=0.0002, seed=5)
    detector = RepDetector(DetectorConfig(200.0))
    assert detector.start is LiftStart.AUTO
    reps = [*detector.feed(x, 0.0, 0.005), *detector.finish()]
    assert detector.start is expected
    assert len(reps) == len(SETS[name].reps)
    forced = RepDetector(DetectorConfig(200.0, start=expected))
    assert [*forced.feed(x, 0.0, 0.005), *forced.finish()] == reps


def test_top_start_rep_spans_descent_and_ascent() -> None:
    script = SETS["squat"]
    _t, x = script.render(1000.0, noise_m=0.0002, seed=6)
    detector = RepDetector(DetectorConfig(1000.0))
    reps = [*detector.feed(x, 0.0, 0.001), *detector.finish()]
    for rep, truth in zip(reps, script.reps, strict=True):
        assert rep.start_s == pytest.approx(truth.start_s, abs=0.03)
        assert rep.eccentric_s == pytest.approx(truth.eccentric_s, abs=0.05)
        assert rep.concentric_start_s - rep.eccentric_s >= rep.start_s - 1e-9
        assert rep.end_s == rep.concentric_end_s
        assert 0.0 < rep.time_to_peak_s < rep.concentric_s
    assert [rep.index for rep in reps] == list(range(len(reps)))


def test_rest_noise_sway_and_walking_make_no_reps() -> None:
    rate = 500.0
    t = np.arange(int(300 * rate)) / rate
    rng = np.random.default_rng(0)
    sway = 1.3 + 0.004 * np.sin(2 * np.pi * t / 7.0) + 0.008 * np.sin(2 * np.pi * 0.9 * t)
    x = np.round((sway + rng.normal(0.0, 0.0005, t.size)) / 0.001) * 0.001
    detector = RepDetector(DetectorConfig(rate))
    assert [*detector.feed(x, 0.0, 1.0 / rate), *detector.finish()] == []
    assert detector.partial_reps == 0


def test_a_long_dropout_mid_rep_drops_that_rep_only() -> None:
    script = Script(1.3).pause(1.0)
    for _ in range(4):
        script.top_rep(0.5, 0.7)
    t, x = script.render(1000.0, noise_m=0.0002, seed=2)
    middle = script.reps[1].concentric_start_s + 0.3
    # the bar moves 10 cm while the sensor is silent: the jump must not look like a rep
    x = with_dropouts(x, t, [(middle, middle + 0.35)])
    detector = RepDetector(DetectorConfig(1000.0))
    reps = [*detector.feed(x, 0.0, 0.001), *detector.finish()]
    assert len(reps) == 3
    assert [round(r.concentric_start_s, 1) for r in reps] == [
        round(script.reps[i].concentric_start_s, 1) for i in (0, 2, 3)
    ]


def test_short_dropouts_are_bridged() -> None:
    script = Script(1.3).pause(1.0)
    for _ in range(3):
        script.top_rep(0.5, 0.7)
    t, x = script.render(1000.0, noise_m=0.0002, seed=3)
    spans = [(r.concentric_start_s + 0.2, r.concentric_start_s + 0.26) for r in script.reps]
    detector = RepDetector(DetectorConfig(1000.0))
    reps = [*detector.feed(with_dropouts(x, t, spans), 0.0, 0.001), *detector.finish()]
    assert len(reps) == 3
    for rep, truth in zip(reps, script.reps, strict=True):
        assert rep.mean_velocity_ms == pytest.approx(truth.mean_velocity_ms, rel=0.03)


def test_finish_ends_the_stream_and_feeding_can_go_on() -> None:
    script = Script(1.3).pause(1.0).top_rep(0.5, 0.6).top_rep(0.5, 0.7)
    _t, x = script.render(500.0, noise_m=0.0002, seed=3)
    detector = RepDetector(DetectorConfig(500.0))
    first = [*detector.feed(x, 0.0, 0.002), *detector.finish()]
    second = [*detector.feed(x, 100.0, 0.002), *detector.finish()]
    assert len(first) == len(second) == 2
    assert [r.index for r in first + second] == [0, 1, 2, 3]
    assert second[0].start_s == pytest.approx(first[0].start_s + 100.0)
    assert detector.reps_completed == 4


def test_sample_batches_feed_directly() -> None:
    script = Script(1.3).pause(1.0).top_rep(0.5, 0.6).top_rep(0.5, 0.7).pause(1.0)
    _, x = script.render(1000.0, noise_m=0.0002, seed=3)
    whole = RepDetector(DetectorConfig(1000.0))
    expected = [*whole.feed(x, 50.0, 0.001), *whole.finish()]
    detector = RepDetector(DetectorConfig(1000.0))
    reps: list[RepMetrics] = []
    for start in range(0, x.size, 125):
        batch = SampleBatch(
            "rack-1",
            Channel.POSITION,
            50.0 + start * 0.001,
            0.001,
            x[start : start + 125],
            received=0.0,
        )
        reps += detector.feed_batch(batch)
    assert [*reps, *detector.finish()] == expected
    assert len(expected) == 2


def test_array_likes_are_converted() -> None:
    detector = RepDetector(DetectorConfig(100.0))
    assert detector.feed([1.0, 1.0, 1.0], 0.0, 0.01) == ()
    assert detector.feed(np.ones(3, dtype=np.float32), 0.03, 0.01) == ()
    assert detector.feed(np.ones(6)[::2], 0.06, 0.01) == ()
    assert detector.feed_timed([0.09, 0.1], (1.0, 1.0)) == ()


@pytest.mark.parametrize(
    ("call", "where", "problem"),
    [
        (lambda d: d.feed(np.ones((2, 2)), 0.0, 0.01), "values", "one-dimensional"),
        (lambda d: d.feed(["a", "b"], 0.0, 0.01), "values", "not an array of numbers"),
        (lambda d: d.feed(np.array([1.0, math.inf]), 0.0, 0.01), "sample 1", "infinite"),
        (lambda d: d.feed(np.array([1.0, 0.5, -1e308]), 0.0, 0.01), "sample 2", "beyond"),
        (
            lambda d: d.feed_timed(np.array([0.0, 0.01]), np.array([1.0, 1000.5])),
            "sample 1",
            "1000.5 m is beyond",
        ),
        (lambda d: d.feed(np.ones(3), 0.0, 0.0), "batch", "period > 0"),
        (lambda d: d.feed(np.ones(3), math.nan, 0.01), "batch", "finite"),
        (lambda d: d.feed(np.ones(3), 0.0, 0.001), "batch", "does not match"),
        (lambda d: d.feed_timed(np.array([0.0, 0.01]), np.ones(3)), "batch", "2 timestamps for 3"),
        (
            lambda d: d.feed_timed(np.array([0.0, 0.01, 0.01]), np.ones(3)),
            "sample 2",
            "does not increase",
        ),
        (lambda d: d.feed_timed(np.array([0.0, math.nan]), np.ones(2)), "sample 1", "not a finite"),
    ],
)
def test_bad_input_names_the_problem_and_place(call, where: str, problem: str) -> None:
    detector = RepDetector(DetectorConfig(100.0))
    with pytest.raises(InvalidInputError, match=problem) as info:
        call(detector)
    assert info.value.where == where


@pytest.mark.parametrize("implementation", [RepDetector, ReferenceRepDetector, NumpyRepDetector])
def test_positions_beyond_a_kilometre_are_refused_alike(implementation) -> None:
    """1e308 m is finite, but its velocities overflow to infinity: every version refuses
    it the same way, and accepts the largest position it allows."""
    detector = implementation(DetectorConfig(100.0))
    detector.feed(np.array([MAX_POSITION_M, -MAX_POSITION_M, math.nan]), 0.0, 0.01)
    with pytest.raises(InvalidInputError, match=r"1e\+308 m is beyond") as info:
        detector.feed(np.array([0.0, 1e308]), 0.03, 0.01)
    assert info.value.where == "sample 1"
    with pytest.raises(InvalidInputError, match="beyond") as info:
        detector.feed_timed(np.array([1.0, 1.01]), np.array([-2000.0, 0.0]))
    assert info.value.where == "sample 0"


@pytest.mark.parametrize("implementation", [RepDetector, ReferenceRepDetector, NumpyRepDetector])
def test_a_concentric_without_a_velocity_sample_is_no_rep(implementation) -> None:
    """Found by fuzzing: a rise over a single sample at the end of a stream closed as a rep
    with a peak velocity of -inf and a time to peak of NaN. It is a partial now."""
    x = [1.09998169, -1.0, math.nan, math.nan, 1.09549561, 0.95644531, math.nan, 1.09998169,
         -0.053125, 1.09998169, -0.05294189]  # fmt: skip
    detector = implementation(DetectorConfig(50.0))
    reps = [*detector.feed(np.array(x), -1.8118896484375, 0.02), *detector.finish()]
    for rep in reps:
        assert all(
            v is None or math.isfinite(v) for v in (getattr(rep, f) for f in rep.__slots__)
        ), rep
    assert len(reps) == 1
    assert detector.partial_reps >= 1


def test_batches_must_not_go_back_in_time() -> None:
    detector = RepDetector(DetectorConfig(100.0))
    detector.feed(np.ones(10), 5.0, 0.01)
    with pytest.raises(InvalidInputError, match="before the previous batch ended"):
        detector.feed(np.ones(10), 5.02, 0.01)
    detector.feed(np.ones(10), 5.1, 0.01)  # contiguous: accepted after the refused batch
    detector.feed_timed(np.array([5.3, 5.31]), np.ones(2))
    with pytest.raises(InvalidInputError, match="does not increase"):
        detector.feed_timed(np.array([5.31, 5.32]), np.ones(2))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sample_rate_hz": 5.0}, "sample_rate_hz"),
        ({"sample_rate_hz": 100.0, "settle_s": 0.0}, "settle_s"),
        ({"sample_rate_hz": 100.0, "min_rom_m": math.nan}, "min_rom_m"),
        ({"sample_rate_hz": 100.0, "significant_m": 0.05}, "reversal_m"),
        ({"sample_rate_hz": 100.0, "partial_min_m": 0.2}, "partial_min_m"),
        ({"sample_rate_hz": 1000.0, "smooth_s": 0.05}, "smooth_s"),
        ({"sample_rate_hz": 100.0, "band_low_ms": 0.2}, "band_high_ms"),
    ],
)
def test_bad_config_names_the_field(kwargs: dict[str, float], field: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        DetectorConfig(**kwargs)  # type: ignore[arg-type]
    assert info.value.where == f"DetectorConfig.{field}"
