"""Left/right asymmetry: the index, the compiled side track, two-sided reps, the flag."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.traces import Script
from kernels._asymmetry import SideTrackCore
from kernels.asymmetry import (
    RepAsymmetry,
    TwoSidedRepDetector,
    asymmetry_index,
    persistent_asymmetry,
)
from kernels.errors import InvalidInputError
from kernels.reference import asymmetry as reference
from kernels.rep_config import DetectorConfig


@given(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4))
def test_index_matches_reference_and_is_antisymmetric(left: float, right: float) -> None:
    value = asymmetry_index(left, right)
    assert value == reference.asymmetry_index(left, right)
    assert asymmetry_index(right, left) == -value
    assert -200.0 <= value <= 200.0


def test_index_values() -> None:
    assert asymmetry_index(110.0, 100.0) == pytest.approx(100 * 10 / 110)
    assert asymmetry_index(90.0, 100.0) == pytest.approx(-10.0)
    assert asymmetry_index(0.0, 0.0) == 0.0


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 1000),
    stride=st.integers(1, 7),
    cuts=st.lists(st.integers(1, 1999), max_size=12, unique=True),
)
def test_side_track_matches_reference(seed: int, stride: int, cuts: list[int]) -> None:
    rng = np.random.default_rng(seed)
    n = 2000
    x = np.cumsum(rng.normal(0.0, 0.001, n))
    force = rng.normal(500.0, 50.0, n)
    force[rng.integers(0, n, 40)] = np.nan
    compiled = SideTrackCore(stride, 150)
    plain = reference.SideTrack(stride, 150)
    bounds = [0, *sorted(cuts), n]
    for a, b in itertools.pairwise(bounds):
        compiled.feed(x[a:b], force[a:b], 12.0 + a * 0.002, 0.002)
        plain.feed(x[a:b].tolist(), force[a:b].tolist(), 12.0 + a * 0.002, 0.002)
    assert compiled.origin == plain.origin == 12.0
    for t in np.linspace(-0.1, n * 0.002 + 0.1, 97):
        got = compiled.at(float(t))
        want = plain.at(float(t))
        assert got == pytest.approx(want, nan_ok=True, rel=0, abs=0)


def _two_sided(scale_left: float, scale_right: float, f_left: float, f_right: float):
    script = Script(1.3).pause(1.0)
    for con_s in (0.6, 0.7, 0.8, 0.9):
        script.top_rep(0.5, con_s)
    _t, x = script.render(1000.0, seed=2)
    base = script.start_height_m
    rng = np.random.default_rng(3)
    left = base + (x - base) * scale_left + rng.normal(0.0, 0.0002, x.size)
    right = base + (x - base) * scale_right + rng.normal(0.0, 0.0002, x.size)
    return (
        script,
        left,
        right,
        f_left + rng.normal(0.0, 20.0, x.size),
        f_right + rng.normal(0.0, 20.0, x.size),
    )


def test_two_sided_reps_measure_each_side() -> None:
    script, left, right, fl, fr = _two_sided(1.05, 0.95, 540.0, 440.0)
    detector = TwoSidedRepDetector(DetectorConfig(1000.0), load_kg=100.0)
    reps: list[RepAsymmetry] = []
    for start in range(0, left.size, 64):  # FIFO reads of 64 samples
        s = slice(start, start + 64)
        reps += detector.feed(
            start * 0.001, 0.001, left=left[s], right=right[s], left_force=fl[s], right_force=fr[s]
        )
    reps += detector.finish()
    assert len(reps) == len(script.reps)
    for rep, truth in zip(reps, script.reps, strict=True):
        assert rep.rep.rom_m == pytest.approx(truth.rom_m, abs=0.01)
        assert rep.left.rom_m == pytest.approx(1.05 * truth.rom_m, abs=0.01)
        assert rep.right.rom_m == pytest.approx(0.95 * truth.rom_m, abs=0.01)
        assert rep.left.mean_velocity_ms == pytest.approx(1.05 * truth.mean_velocity_ms, rel=0.05)
        assert rep.left.mean_force_n == pytest.approx(540.0, rel=0.01)
        assert rep.right.mean_force_n == pytest.approx(440.0, rel=0.01)
        assert rep.rom_pct == pytest.approx(100 * 0.1 / 1.05, abs=1.0)
        assert rep.velocity_pct == pytest.approx(100 * 0.1 / 1.05, abs=1.0)
        assert rep.force_pct == pytest.approx(100 * 100 / 540, abs=1.0)
        assert rep.rep.mean_power_w is not None


def test_two_sided_without_force_and_symmetric() -> None:
    script, left, right, _, _ = _two_sided(1.0, 1.0, 0.0, 0.0)
    detector = TwoSidedRepDetector(DetectorConfig(1000.0))
    reps = [*detector.feed(0.0, 0.001, left=left, right=right), *detector.finish()]
    assert len(reps) == len(script.reps)
    for rep in reps:
        assert rep.left.mean_force_n is None
        assert rep.force_pct is None
        assert rep.rom_pct is not None
        assert abs(rep.rom_pct) < 1.0


def test_two_sided_bad_batches() -> None:
    detector = TwoSidedRepDetector(DetectorConfig(1000.0))
    with pytest.raises(InvalidInputError) as info:
        detector.feed(0.0, 0.001, left=np.ones(10), right=np.ones(9))
    assert info.value.where == "right"
    with pytest.raises(InvalidInputError):
        TwoSidedRepDetector(DetectorConfig(1000.0), window_s=1.0)


def test_persistent_asymmetry_needs_a_steady_difference() -> None:
    assert not persistent_asymmetry([14.0, 15.0]).flagged
    assert "not enough data: 2 of the 6" in persistent_asymmetry([14.0, 15.0]).reason
    steady = persistent_asymmetry([3.0, 12.0, 14.0, 11.5, 13.0, 15.0, 12.5, 16.0, 14.0])
    assert steady.flagged
    assert steady.side == "left"
    assert steady.over_threshold == 8
    assert steady.reason.startswith("persistent asymmetry: left side higher by 13.0 %")
    right = persistent_asymmetry([-12.0] * 8, threshold_pct=10.0)
    assert right.flagged
    assert right.side == "right"
    one_bad_rep = persistent_asymmetry([2.0, 3.0, 40.0, 1.0, 2.5, 3.0, 2.0])
    assert not one_bad_rep.flagged
    mixed = persistent_asymmetry([15.0, -15.0] * 5)
    assert not mixed.flagged
    # only the last ``window`` values count: an old asymmetry has healed
    healed = persistent_asymmetry([15.0] * 12 + [2.0] * 12, window=12)
    assert not healed.flagged
    with_gaps = persistent_asymmetry([12.0, None, math.nan, 13.0, 12.0, 14.0, 12.5, 11.0])
    assert with_gaps.flagged
    assert with_gaps.considered == 6


def test_persistent_asymmetry_over_sessions() -> None:
    sessions = [[4.0, 6.0, 5.0], [11.0, 12.0, 14.0], [12.0, 13.0, 15.0], [13.0, 11.0, 12.0]]
    medians = [float(np.median(s)) for s in sessions]
    flag = persistent_asymmetry(medians, window=4, min_values=3, threshold_pct=10.0)
    assert flag.flagged
    assert flag.considered == 4
    assert flag.over_threshold == 3


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"threshold_pct": 0.0}, "threshold_pct"),
        ({"window": 3, "min_values": 6}, "window"),
        ({"min_share": 0.0}, "min_share"),
    ],
)
def test_persistent_asymmetry_bad_arguments(kwargs: dict[str, float], where: str) -> None:
    with pytest.raises(InvalidInputError) as info:
        persistent_asymmetry([1.0] * 10, **kwargs)  # type: ignore[arg-type]
    assert info.value.where == where


def test_side_track_refuses_forces_that_do_not_match_the_positions() -> None:
    with pytest.raises(InvalidInputError, match="batch: 3 forces for 4 positions"):
        SideTrackCore(2, 10).feed(np.zeros(4), np.zeros(3), 0.0, 0.001)
