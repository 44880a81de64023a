from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import emg
from kernels.errors import InvalidInputError
from kernels.reference import emg as ref


@given(st.integers(0, 1000), st.floats(0.005, 0.05))
@settings(max_examples=25, deadline=None)
def test_rms_envelope_matches_reference(seed: int, window_s: float) -> None:
    x = np.random.default_rng(seed).normal(size=300)
    np.testing.assert_allclose(
        emg.rms_envelope(x, 1000.0, window_s), ref.rms_envelope(x.tolist(), 1000.0, window_s)
    )


@given(st.integers(0, 1000))
@settings(max_examples=10, deadline=None)
def test_window_frequencies_match_reference(seed: int) -> None:
    x = np.random.default_rng(seed).normal(size=256) * 0.1 + 0.5
    got = emg.fatigue_windows(x, 512.0, 0.125)
    for i in range(got.rms.size):
        median, mean = ref.window_median_frequency(x[i * 64 : (i + 1) * 64].tolist(), 512.0)
        assert got.median_hz[i] == pytest.approx(median)
        assert got.mean_hz[i] == pytest.approx(mean)


def test_fatigue_shows_as_falling_median_frequency() -> None:
    fs = 1000.0
    t = np.arange(0, 10, 1 / fs)
    # A sine whose frequency drifts from 120 to 60 Hz and whose amplitude grows.
    freq = 120 - 6 * t
    x = (1 + 0.1 * t) * np.sin(2 * np.pi * np.cumsum(freq) / fs)
    got = emg.fatigue_windows(x, fs, 1.0)
    assert np.all(np.diff(got.median_hz) < 0)
    assert np.all(np.diff(got.rms) > 0)
    assert got.median_hz[0] == pytest.approx(117, abs=3)


def test_bad_signal() -> None:
    with pytest.raises(InvalidInputError, match=r"signal\[2\]"):
        emg.fatigue_windows([0.0, 1.0, float("nan")] * 100, 100.0)
    with pytest.raises(InvalidInputError, match="one window"):
        emg.fatigue_windows(np.zeros(10), 100.0, 1.0)
