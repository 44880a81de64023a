"""Streams with impossible values through the public kernel APIs: a real squat set or RR
series with NaN, infinities, absurd magnitudes, repeated or reversed timestamps put in at
random places. Each call either refuses with ``InvalidInputError`` naming the sample or
batch, or returns results whose every number is finite."""

from __future__ import annotations

import math
from dataclasses import fields

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.traces import position_at, squat_set
from kernels.errors import InvalidInputError
from kernels.hrv_stream import RRProcessor, summarize_recording
from kernels.rep_config import DetectorConfig, LiftStart
from kernels.rep_detector import RepDetector
from kernels.reps import RepMetrics

RATE = 200.0
T = np.arange(0.0, 30.0, 1.0 / RATE)
X = position_at(squat_set(), T)
BAD = st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0.0, 1e4])


def finite_rep(rep: RepMetrics) -> None:
    for f in fields(rep):
        value = getattr(rep, f.name)
        assert value is None or math.isfinite(value), (f.name, value)
    assert rep.rom_m > 0
    assert rep.end_s >= rep.start_s


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, T.size - 1), BAD), max_size=6),
    st.integers(1, 40),
)
def test_positions_with_impossible_values(spots: list[tuple[int, float]], batches: int) -> None:
    x = X.copy()
    for i, value in spots:
        x[i] = value
    detector = RepDetector(DetectorConfig(RATE, start=LiftStart.TOP), load_kg=100.0)
    reps: list[RepMetrics] = []
    refused: list[tuple[InvalidInputError, int]] = []
    for chunk in np.array_split(np.arange(T.size), batches):
        try:
            reps += detector.feed(x[chunk], float(T[chunk[0]]) if chunk.size else 0.0, 1 / RATE)
        except InvalidInputError as exc:
            refused.append((exc, int(chunk[0])))
    for error, first in refused:
        assert error.where is not None
        assert error.where.startswith("sample ")
        bad = int(error.where.split()[1]) + first
        assert not (abs(x[bad]) <= 1000.0), "a refused sample must be the bad one"
    reps += detector.finish()
    for rep in reps:
        finite_rep(rep)
    if all(math.isnan(v) or abs(v) <= 1000 for _, v in spots):
        assert not refused  # NaN is a dropout, a large finite value a glitch: no refusal


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1, T.size - 1),
            st.sampled_from(["repeat", "back", "nan", "inf", "jump"]),
        ),
        max_size=4,
    )
)
def test_timestamps_repeated_reversed_or_not_numbers(edits: list[tuple[int, str]]) -> None:
    t = T.copy()
    for i, kind in edits:
        t[i] = {
            "repeat": t[i - 1],
            "back": t[i - 1] - 0.5,
            "nan": math.nan,
            "inf": math.inf,
            "jump": t[i] + 60.0,
        }[kind]
    detector = RepDetector(DetectorConfig(RATE, start=LiftStart.TOP))
    refused: InvalidInputError | None = None
    reps: list[RepMetrics] = []
    try:
        reps += detector.feed_timed(t, X)
    except InvalidInputError as exc:
        refused = exc
    if refused is not None:
        assert refused.where is not None
        i = int(refused.where.split()[1])
        assert refused.problem in ("time does not increase", "timestamp is not a finite number")
        assert not (math.isfinite(t[i]) and t[i] > np.max(t[:i]))
        return
    assert all(kind == "jump" for _, kind in edits) or not edits
    reps += detector.finish()
    for rep in reps:
        finite_rep(rep)


RR = 800.0 + 40.0 * np.sin(np.arange(400) / 7.0)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, RR.size - 1),
            st.sampled_from([math.nan, math.inf, -math.inf, -800.0, 0.0, 1.0, 65535.0, 1e308]),
        ),
        max_size=30,
    )
)
def test_rr_series_with_impossible_values(spots: list[tuple[int, float]]) -> None:
    rr = RR.copy()
    for i, value in spots:
        rr[i] = value
    processor = RRProcessor(window_s=30.0)
    windows = []
    for chunk in np.array_split(rr, 9):
        windows += processor.feed(chunk)
    last = processor.finish()
    windows += [last] if last is not None else []
    assert processor.n_dropped == len({i for i, _ in spots})
    assert processor.n_beats == RR.size - processor.n_dropped
    for window in windows:
        for name, value in window.metrics._asdict().items():
            assert math.isfinite(value), (name, value)
        assert window.end_s > window.start_s
    summary = summarize_recording(rr)
    assert math.isfinite(summary.metrics.rmssd_ms)


def test_an_rr_series_of_nothing_but_glitches_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="at least 8 plausible"):
        summarize_recording([0.0, 65535.0, math.nan, -1.0] * 10)
