from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.rr_data import simulate_rr
from equipment_adapters.batch import Channel, SampleBatch
from kernels import hrv
from kernels.errors import InvalidInputError
from kernels.hrv_stream import RRProcessor, summarize_recording


@given(st.lists(st.integers(1, 40), min_size=1, max_size=60), st.integers(0, 1000))
@settings(max_examples=60, deadline=None)
def test_windows_do_not_depend_on_batching(cuts: list[int], seed: int) -> None:
    rr = simulate_rr(600, seed=seed)
    whole = RRProcessor(window_s=60.0).feed(rr)
    streamed = RRProcessor(window_s=60.0)
    got = []
    edges = np.cumsum(cuts)
    for chunk in np.split(rr, edges[edges < rr.size]):
        got.extend(streamed.feed(chunk))
    assert [(w.n_beats, w.n_corrected, w.metrics) for w in got] == [
        (w.n_beats, w.n_corrected, w.metrics) for w in whole
    ]
    assert [w.start_s for w in got] == pytest.approx([w.start_s for w in whole])
    # A window closes on the beat that reaches 60 s; count them the slow way.
    expected, acc = 0, 0.0
    for value in rr.tolist():
        acc += value
        if acc >= 60000.0:
            expected, acc = expected + 1, 0.0
    assert len(whole) == expected


def test_window_boundaries_and_metrics() -> None:
    rr = simulate_rr(300, seed=1)
    processor = RRProcessor(window_s=60.0, correct=False)
    windows = processor.feed(rr)
    assert windows[0].start_s == 0.0
    for a, b in itertools.pairwise(windows):
        assert b.start_s == pytest.approx(a.end_s)
    first = windows[0]
    k = first.n_beats
    assert rr[:k].sum() >= 60000.0 > rr[: k - 1].sum()
    assert first.metrics == hrv.time_domain(rr[:k])
    tail = processor.finish()
    assert tail is not None
    assert tail.start_s == pytest.approx(windows[-1].end_s)
    assert sum(w.n_beats for w in windows) + tail.n_beats == rr.size


def test_fed_by_strap_sample_batches() -> None:
    rr = simulate_rr(200, seed=6)
    processor = RRProcessor(window_s=60.0)
    windows = []
    for i, chunk in enumerate(np.array_split(rr, 100)):  # a notification carries 1-2 RRs
        batch = SampleBatch(
            "strap-1", Channel.RR, t0=float(i), period=0.0, values=chunk, received=float(i)
        )
        windows.extend(processor.feed_batch(batch))
    assert [w.metrics for w in windows] == [w.metrics for w in RRProcessor(window_s=60.0).feed(rr)]
    hr = SampleBatch("strap-1", Channel.HEART_RATE, 0.0, 1.0, np.array([60.0]), 0.0)
    with pytest.raises(InvalidInputError, match="channel 'rr'"):
        processor.feed_batch(hr)


def test_strap_glitches_are_dropped_and_counted() -> None:
    processor = RRProcessor(window_s=30.0)
    processor.feed([900.0, 0.0, 905.0, 63999.0, float("nan")])
    assert processor.n_dropped == 3
    assert processor.n_beats == 2
    assert processor.heart_rate_bpm == pytest.approx(60000 / 905.0)


def test_artifacts_are_corrected_per_window() -> None:
    rr = simulate_rr(120, seed=2).tolist()
    rr[50:52] = [rr[50] + rr[51]]  # a missed beat
    window = summarize_recording(rr)
    assert window.n_corrected >= 1
    assert window.metrics.n_intervals == len(rr) + 1


def test_too_short_recording_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="at least"):
        summarize_recording([900.0, 910.0])
    with pytest.raises(InvalidInputError):
        RRProcessor(window_s=0)
