from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import training_load as tl
from kernels.errors import InvalidInputError
from kernels.reference import training_load as ref


def test_session_rpe_load() -> None:
    assert tl.session_rpe_load(7, 60) == 420
    with pytest.raises(InvalidInputError, match="rpe"):
        tl.session_rpe_load(11, 60)


def test_banister_trimp_by_hand() -> None:
    hrr = (150 - 60) / (190 - 60)
    assert tl.banister_trimp(30, 150, 60, 190, "male") == pytest.approx(
        30 * hrr * 0.64 * math.exp(1.92 * hrr)
    )
    assert tl.banister_trimp(30, 150, 60, 190, tl.Sex.FEMALE) == pytest.approx(
        30 * hrr * 0.86 * math.exp(1.67 * hrr)
    )
    with pytest.raises(InvalidInputError):
        tl.banister_trimp(30, 150, 200, 190, "male")


@given(st.lists(st.floats(40, 200), min_size=1, max_size=300), st.sampled_from(list(tl.Sex)))
@settings(max_examples=50, deadline=None)
def test_stream_trimp_matches_reference(hr: list[float], sex: tl.Sex) -> None:
    a, b = tl.TRIMP_WEIGHTS[sex]
    assert tl.trimp_from_stream(hr, 1.0, 55, 190, sex) == pytest.approx(
        ref.trimp_from_stream(hr, 1.0, 55, 190, a=a, b=b)
    )


def test_constant_stream_equals_session_average() -> None:
    assert tl.trimp_from_stream([150.0] * 1800, 1.0, 60, 190, "male") == pytest.approx(
        tl.banister_trimp(30, 150, 60, 190, "male")
    )


@given(
    st.lists(st.one_of(st.floats(0, 1500), st.just(math.nan)), min_size=1, max_size=120),
    st.integers(1, 60),
)
@settings(max_examples=60, deadline=None)
def test_ewma_matches_textbook_sum(daily: list[float], days: int) -> None:
    np.testing.assert_allclose(tl.ewma(daily, days), ref.ewma(daily, days), rtol=1e-9, atol=1e-9)


def test_acute_chronic_ratio_rises_with_a_load_spike() -> None:
    daily = [400.0] * 120 + [800.0] * 7
    series = tl.acute_chronic(daily)
    assert series.ratio[119] == pytest.approx(1.0, abs=0.01)
    assert series.ratio[-1] > 1.3
    assert np.isnan(tl.acute_chronic([0.0, 0.0]).ratio).all()
    with pytest.raises(InvalidInputError):
        tl.acute_chronic(daily, acute_days=28, chronic_days=7)
    with pytest.raises(InvalidInputError, match="negative"):
        tl.ewma([-1.0], 7)
