from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.errors import InvalidInputError
from kernels.hrv_baseline import BaselineParams, rolling_baseline
from kernels.reference import hrv_baseline as ref

days = st.lists(st.one_of(st.floats(2.5, 5.0), st.just(math.nan)), min_size=1, max_size=120)


@given(days, st.integers(3, 10), st.integers(5, 40), st.floats(0.0, 0.2))
@settings(max_examples=80, deadline=None)
def test_matches_reference(values: list[float], recent: int, base: int, floor: float) -> None:
    params = BaselineParams(
        recent_days=recent,
        baseline_days=base,
        min_recent=min(3, recent),
        min_baseline=min(5, base),
        sd_floor=floor,
    )
    got = rolling_baseline(values, params)
    want = ref.rolling_baseline(
        values,
        recent_days=recent,
        baseline_days=base,
        min_recent=params.min_recent,
        min_baseline=params.min_baseline,
        sd_floor=floor,
    )
    for t, row in enumerate(want):
        for key, value in row.items():
            assert getattr(got, key)[t] == pytest.approx(value, rel=1e-7, abs=1e-9, nan_ok=True), (
                t,
                key,
            )


def test_three_nights_give_no_z_score() -> None:
    got = rolling_baseline([4.1, 4.1001, 4.1002, 3.2], BaselineParams())
    assert np.all(np.isnan(got.z))


def test_floor_bounds_z_for_a_flat_baseline() -> None:
    values = [4.0] * 40 + [3.8] * 7
    got = rolling_baseline(values, BaselineParams(min_baseline=14, sd_floor=0.1))
    assert got.z[-1] == pytest.approx(-2.0)


def test_bad_parameters() -> None:
    with pytest.raises(InvalidInputError, match="min_recent"):
        BaselineParams(recent_days=3, min_recent=4)
    with pytest.raises(InvalidInputError):
        rolling_baseline(np.zeros((2, 2)))
