from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kernels import bike
from kernels.errors import InvalidInputError
from kernels.reference import bike as ref


def test_acsm_by_hand() -> None:
    # 150 W for 75 kg: 1.8 x 918 / 75 + 7
    assert bike.acsm_leg_cycling_vo2(150, 75) == pytest.approx(1.8 * 918 / 75 + 7)


def test_vo2max_from_an_exact_linear_ramp() -> None:
    powers = [75, 100, 125, 150, 175]
    hr = [100 + 0.4 * p for p in powers]  # 190 bpm at 225 W
    est = bike.vo2max_from_ramp(powers, hr, body_mass_kg=70, hr_max_bpm=190)
    assert est.max_power_w == pytest.approx(225)
    assert est.r_squared == pytest.approx(1.0)
    assert est.vo2max_ml_kg_min == pytest.approx(bike.acsm_leg_cycling_vo2(225, 70))


def test_predicted_hr_max_is_tanaka() -> None:
    est = bike.vo2max_from_ramp([80, 120, 160], [110, 126, 142], body_mass_kg=80, age_years=40)
    assert est.hr_max_bpm == pytest.approx(180)


@pytest.mark.parametrize(
    ("powers", "hr", "kwargs", "match"),
    [
        ([80, 120], [110, 126], {"hr_max_bpm": 190}, "3 stages"),
        ([80, 90, 100], [110, 115, 120], {"hr_max_bpm": 190}, "30 W"),
        ([80, 120, 160], [150, 140, 130], {"hr_max_bpm": 190}, "rise"),
        ([80, 120, 160], [110, 150, 195], {"hr_max_bpm": 190}, "submaximal"),
        ([80, 120, 160], [110, 130, 150], {}, "hr_max_bpm or age"),
    ],
)
def test_ramp_errors(
    powers: list[float], hr: list[float], kwargs: dict[str, float], match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        bike.vo2max_from_ramp(powers, hr, body_mass_kg=70, **kwargs)


def test_zones() -> None:
    zones = bike.hr_zones(190, 50)
    assert [z.number for z in zones] == [1, 2, 3, 4, 5]
    assert zones[1].low_bpm == pytest.approx(50 + 0.6 * 140)
    assert zones[-1].high_bpm == pytest.approx(190)
    assert bike.hr_zones(200)[0].low_bpm == pytest.approx(100)
    with pytest.raises(InvalidInputError):
        bike.hr_zones(190, 200)


@given(
    st.lists(st.floats(60, 250), min_size=3, max_size=8, unique=True),
    st.floats(0.25, 0.35),
    st.floats(60, 100),
    st.lists(st.floats(-3, 3), min_size=8, max_size=8),
    st.floats(50, 110),
)
@settings(max_examples=60, deadline=None)
def test_ramp_matches_reference(
    powers: list[float], slope: float, intercept: float, noise: list[float], mass: float
) -> None:
    assume(max(powers) - min(powers) >= 30)
    hr = [intercept + slope * p + e for p, e in zip(powers, noise, strict=False)]
    est = bike.vo2max_from_ramp(powers, hr, body_mass_kg=mass, hr_max_bpm=195)
    want = ref.vo2max_from_ramp(powers, hr, mass, 195)
    assert est.vo2max_ml_kg_min == pytest.approx(want, rel=1e-6)


@given(st.floats(150, 220), st.floats(35, 80))
@settings(max_examples=30, deadline=None)
def test_zones_match_reference(hr_max: float, hr_rest: float) -> None:
    for zone, (_, lo, hi) in zip(bike.hr_zones(hr_max, hr_rest), bike.ZONE_BOUNDS, strict=True):
        assert (zone.low_bpm, zone.high_bpm) == pytest.approx(
            ref.karvonen_zone(hr_max, hr_rest, lo, hi)
        )
