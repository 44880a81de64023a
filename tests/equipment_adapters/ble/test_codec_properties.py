"""Round trips, agreement with an independent decoder (pycycling) and random-bytes fuzzing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from pycycling.cycling_power_service import _parse_cycling_power_measurement
from pycycling.cycling_speed_cadence_service import _parse_csc_measurement
from pycycling.ftms_parsers.indoor_bike_data import parse_indoor_bike_data
from pycycling.heart_rate_service import _parse_hr_measurement

from equipment_adapters.ble.codecs import band, cps, csc, ftms, hrs
from equipment_adapters.ble.codecs.describe import CHARACTERISTICS, describe
from equipment_adapters.errors import DecodeError

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
s16 = st.integers(-0x8000, 0x7FFF)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


@st.composite
def indoor_bike(draw: st.DrawFn, resistance_form: str = "s16") -> ftms.IndoorBikeData:
    more = draw(st.booleans())
    energy = draw(st.booleans())
    resistance = draw(
        opt(u8.map(lambda r: r * 10.0) if resistance_form == "u8" else s16.map(float))
    )
    return ftms.IndoorBikeData(
        more_data=more,
        instantaneous_speed_kmh=None if more else draw(u16) / 100,
        average_speed_kmh=draw(opt(u16.map(lambda r: r / 100))),
        instantaneous_cadence_rpm=draw(opt(u16.map(lambda r: r / 2))),
        average_cadence_rpm=draw(opt(u16.map(lambda r: r / 2))),
        total_distance_m=draw(opt(st.integers(0, 0xFFFFFF))),
        resistance_level=resistance,
        instantaneous_power_w=draw(opt(s16)),
        average_power_w=draw(opt(s16)),
        expended_energy_present=energy,
        total_energy_kcal=draw(opt(st.integers(0, 0xFFFE))) if energy else None,
        energy_per_hour_kcal=draw(opt(st.integers(0, 0xFFFE))) if energy else None,
        energy_per_minute_kcal=draw(opt(st.integers(0, 0xFE))) if energy else None,
        heart_rate_bpm=draw(opt(u8)),
        metabolic_equivalent=draw(opt(u8.map(lambda r: r / 10))),
        elapsed_time_s=draw(opt(u16)),
        remaining_time_s=draw(opt(u16)),
    )


@given(indoor_bike(), st.booleans())
def test_indoor_bike_round_trip(data: ftms.IndoorBikeData, inverted: bool) -> None:
    profile = ftms.FtmsProfile(resistance_form="s16", cadence_flag_inverted=inverted)
    payload = ftms.encode_indoor_bike_data(data, profile)
    assert ftms.decode_indoor_bike_data(payload, profile) == data
    assert (
        ftms.encode_indoor_bike_data(ftms.decode_indoor_bike_data(payload, profile), profile)
        == payload
    )


@given(indoor_bike("u8"))
def test_indoor_bike_round_trip_u8_resistance(data: ftms.IndoorBikeData) -> None:
    profile = ftms.FtmsProfile(resistance_form="u8")
    assert (
        ftms.decode_indoor_bike_data(ftms.encode_indoor_bike_data(data, profile), profile) == data
    )


@given(indoor_bike())
def test_indoor_bike_agrees_with_pycycling(data: ftms.IndoorBikeData) -> None:
    payload = ftms.encode_indoor_bike_data(data)
    ours = ftms.decode_indoor_bike_data(payload, ftms.FtmsProfile(resistance_form="s16"))
    theirs = parse_indoor_bike_data(payload)
    assert theirs.instant_speed == ours.instantaneous_speed_kmh
    assert theirs.average_speed == ours.average_speed_kmh
    assert theirs.instant_cadence == ours.instantaneous_cadence_rpm
    assert theirs.average_cadence == ours.average_cadence_rpm
    assert theirs.total_distance == ours.total_distance_m
    assert theirs.resistance_level == ours.resistance_level
    assert theirs.instant_power == ours.instantaneous_power_w
    assert theirs.average_power == ours.average_power_w
    assert theirs.heart_rate == ours.heart_rate_bpm
    assert theirs.metabolic_equivalent == ours.metabolic_equivalent
    assert theirs.elapsed_time == ours.elapsed_time_s
    assert theirs.remaining_time == ours.remaining_time_s
    if ours.expended_energy_present:
        assert theirs.total_energy == (
            ours.total_energy_kcal if ours.total_energy_kcal is not None else 0xFFFF
        )


heart_rates = st.builds(
    hrs.HeartRateMeasurement,
    heart_rate_bpm=u16,
    sensor_contact=st.sampled_from(list(hrs.SensorContact)),
    energy_expended_kj=opt(u16),
    rr_intervals=opt(st.lists(u16, max_size=9).map(tuple)),
)


@given(heart_rates)
def test_heart_rate_round_trip_and_pycycling(m: hrs.HeartRateMeasurement) -> None:
    payload = hrs.encode_heart_rate(m)
    assert hrs.decode_heart_rate(payload) == m
    theirs = _parse_hr_measurement(payload)
    assert theirs.bpm == m.heart_rate_bpm
    assert theirs.energy_expended == m.energy_expended_kj
    assert theirs.rr_interval == list(m.rr_intervals or ())
    assert theirs.sensor_contact == (m.sensor_contact is not hrs.SensorContact.NOT_SUPPORTED)


@st.composite
def cycling_power(draw: st.DrawFn, pycycling_safe: bool = False) -> cps.CyclingPowerMeasurement:
    wheel = draw(st.booleans())
    crank = draw(st.booleans())
    force = draw(st.booleans())
    torque = draw(st.booleans())
    angles = draw(st.booleans()) and not pycycling_safe
    nonneg = st.integers(0, 0x7FFF) if pycycling_safe else s16
    return cps.CyclingPowerMeasurement(
        instantaneous_power_w=draw(nonneg),
        pedal_power_balance_pct=draw(opt(u8.map(lambda r: r / 2))),
        pedal_power_balance_left=draw(st.booleans()),
        accumulated_torque_nm=draw(opt(u16.map(lambda r: r / 32))),
        accumulated_torque_from_crank=draw(st.booleans()),
        cumulative_wheel_revolutions=draw(st.integers(0, 2**32 - 1)) if wheel else None,
        last_wheel_event_time_s=draw(u16) / 2048 if wheel else None,
        cumulative_crank_revolutions=draw(u16) if crank else None,
        last_crank_event_time_s=draw(u16) / 1024 if crank else None,
        maximum_force_n=draw(nonneg) if force else None,
        minimum_force_n=draw(nonneg) if force else None,
        maximum_torque_nm=draw(nonneg) / 32 if torque else None,
        minimum_torque_nm=draw(nonneg) / 32 if torque else None,
        maximum_angle_deg=draw(st.integers(0, 4095)) if angles else None,
        minimum_angle_deg=draw(st.integers(0, 4095)) if angles else None,
        top_dead_spot_angle_deg=draw(opt(u16)),
        bottom_dead_spot_angle_deg=draw(opt(u16)),
        accumulated_energy_kj=draw(opt(u16)),
        offset_compensation=draw(st.booleans()),
    )


@given(cycling_power())
def test_cycling_power_round_trip(m: cps.CyclingPowerMeasurement) -> None:
    payload = cps.encode_cycling_power(m)
    assert cps.decode_cycling_power(payload) == m
    assert cps.encode_cycling_power(cps.decode_cycling_power(payload)) == payload


@given(cycling_power(pycycling_safe=True))
def test_cycling_power_agrees_with_pycycling(m: cps.CyclingPowerMeasurement) -> None:
    payload = cps.encode_cycling_power(m)
    ours = cps.decode_cycling_power(payload)
    theirs = _parse_cycling_power_measurement(payload)
    assert theirs.instantaneous_power == ours.instantaneous_power_w
    assert theirs.cumulative_crank_revs == ours.cumulative_crank_revolutions
    assert theirs.cumulative_wheel_revs == ours.cumulative_wheel_revolutions
    if ours.last_crank_event_time_s is not None:
        assert theirs.last_crank_event_time == ours.last_crank_event_time_s * 1024
    if ours.last_wheel_event_time_s is not None:
        assert theirs.last_wheel_event_time == ours.last_wheel_event_time_s * 2048
    if ours.pedal_power_balance_pct is not None:
        assert theirs.pedal_power_balance == ours.pedal_power_balance_pct * 2
    if ours.accumulated_torque_nm is not None:
        assert theirs.accumulated_torque == ours.accumulated_torque_nm * 32
    assert theirs.top_dead_spot_angle == ours.top_dead_spot_angle_deg
    assert theirs.bottom_dead_spot_angle == ours.bottom_dead_spot_angle_deg
    assert theirs.maximum_force_magnitude == ours.maximum_force_n


@given(opt(st.tuples(st.integers(0, 2**32 - 1), u16)), opt(st.tuples(u16, u16)))
def test_csc_round_trip_and_pycycling(
    wheel: tuple[int, int] | None, crank: tuple[int, int] | None
) -> None:
    m = csc.CscMeasurement(
        wheel[0] if wheel else None,
        wheel[1] / 1024 if wheel else None,
        crank[0] if crank else None,
        crank[1] / 1024 if crank else None,
    )
    payload = csc.encode_csc(m)
    assert csc.decode_csc(payload) == m
    theirs = _parse_csc_measurement(payload)
    assert theirs.cumulative_wheel_revs == m.cumulative_wheel_revolutions
    assert theirs.cumulative_crank_revs == m.cumulative_crank_revolutions
    assert theirs.last_crank_event_time == (crank[1] if crank else None)


RAW_RANGES = {"B": (0, 255), "H": (0, 65535), "h": (-32768, 32767), "T": (0, 2**24 - 1)}


def scaled(p: ftms.Param) -> st.SearchStrategy[float]:
    """Values a payload carries exactly: a raw integer times the field's scale."""
    return st.integers(*RAW_RANGES[p.code]).map(lambda raw: raw * p.mul / p.div)


def param_values(spec: tuple[ftms.Param, ...]) -> st.SearchStrategy[tuple[float, ...]]:
    return st.tuples(*[scaled(p) for p in spec]).map(lambda vs: tuple(float(v) for v in vs))


def control_request(op: ftms.ControlOp) -> st.SearchStrategy[ftms.ControlRequest]:
    return param_values(ftms.CONTROL_PARAMS[op]).map(lambda v: ftms.ControlRequest(op, v))


def machine_status(op: ftms.StatusOp) -> st.SearchStrategy[ftms.MachineStatus]:
    return param_values(ftms.STATUS_PARAMS[op]).map(lambda v: ftms.MachineStatus(op, v))


control_requests = st.sampled_from(list(ftms.ControlOp)).flatmap(control_request)
statuses = st.sampled_from(list(ftms.StatusOp)).flatmap(machine_status)


@given(control_requests)
def test_control_request_round_trip(request: ftms.ControlRequest) -> None:
    payload = ftms.encode_control_request(request)
    assert ftms.decode_control_point(payload) == request


@given(
    st.sampled_from(list(ftms.ControlOp)),
    st.sampled_from(list(ftms.ResultCode)),
    st.binary(max_size=4),
)
def test_control_response_round_trip(
    op: ftms.ControlOp, result: ftms.ResultCode, extra: bytes
) -> None:
    response = ftms.ControlResponse(op, result, extra)
    assert ftms.decode_control_point(ftms.encode_control_response(response)) == response


@given(statuses)
def test_status_round_trip(status: ftms.MachineStatus) -> None:
    assert ftms.decode_status(ftms.encode_status(status)) == status


@given(st.sampled_from(list(ftms.TrainingStatusCode)), opt(st.text(max_size=12)))
def test_training_status_round_trip(code: ftms.TrainingStatusCode, text: str | None) -> None:
    value = ftms.TrainingStatus(code, text)
    assert ftms.decode_training_status(ftms.encode_training_status(value)) == value


@given(st.integers(-0x8000, 0x7FFF), st.integers(-0x8000, 0x7FFF), u16, st.booleans())
def test_ranges_round_trip(lo: int, hi: int, inc: int, gss: bool) -> None:
    power = ftms.PowerRange(lo, hi, inc)
    assert ftms.decode_power_range(ftms.encode_power_range(power)) == power
    if gss:
        value = ftms.ResistanceRange(
            (lo & 0xFF) * 10.0, (hi & 0xFF) * 10.0, (inc & 0xFF) * 10.0, "u8"
        )
    else:
        value = ftms.ResistanceRange(lo / 10, hi / 10, inc / 10, "s16")
    assert ftms.decode_resistance_range(ftms.encode_resistance_range(value)) == value


@given(st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))
def test_feature_round_trip(machine: int, target: int) -> None:
    f = ftms.FitnessMachineFeature(machine, target)
    assert ftms.decode_feature(ftms.encode_feature(f)) == f


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFFFFFF),
    st.integers(1, 0xFFFF),
    st.integers(1, 17).flatmap(
        lambda n: st.lists(st.integers(-0x8000, 0x7FFF), min_size=7 * n, max_size=7 * n)
    ),
)
def test_band_samples_round_trip(seq: int, t0_us: int, period_us: int, raw: list[int]) -> None:
    samples = np.asarray(raw, dtype=np.float64).reshape(-1, 7)
    payload = band.encode_band_samples(
        seq,
        t0_us * 1e-6,
        period_us * 1e-6,
        tension_n=samples[:, 0] * 0.1,
        accel_ms2=samples[:, 1:4] * 0.01,
        gyro_rads=samples[:, 4:7] * 0.001,
    )
    b = band.decode_band_samples(payload)
    assert (b.sequence, len(b)) == (seq, samples.shape[0])
    assert round(b.t0_s * 1e6) == t0_us
    assert round(b.period_s * 1e6) == period_us
    again = band.encode_band_samples(
        b.sequence,
        b.t0_s,
        b.period_s,
        tension_n=b.tension_n,
        accel_ms2=b.accel_ms2,
        gyro_rads=b.gyro_rads,
    )
    assert again == payload


DECODERS: dict[str, Callable[[bytes], object]] = {
    "indoor_bike_data": ftms.decode_indoor_bike_data,
    "indoor_bike_data_u8": lambda p: ftms.decode_indoor_bike_data(
        p, ftms.FtmsProfile(resistance_form="u8")
    ),
    "indoor_bike_data_inverted": lambda p: ftms.decode_indoor_bike_data(
        p, ftms.FtmsProfile(cadence_flag_inverted=True)
    ),
    "feature": ftms.decode_feature,
    "power_range": ftms.decode_power_range,
    "resistance_range": ftms.decode_resistance_range,
    "control_point": ftms.decode_control_point,
    "control_point_quirk": lambda p: ftms.decode_control_point(
        p, ftms.FtmsProfile(single_byte_cp_response=True)
    ),
    "status": ftms.decode_status,
    "training_status": ftms.decode_training_status,
    "heart_rate": hrs.decode_heart_rate,
    "cycling_power": cps.decode_cycling_power,
    "csc": csc.decode_csc,
    "band_samples": band.decode_band_samples,
    "band_cue": band.decode_band_cue,
    "band_info": band.decode_band_info,
}


@settings(max_examples=300)
@given(st.sampled_from(sorted(DECODERS)), st.binary(max_size=40))
def test_random_bytes_decode_or_raise_decode_error(name: str, payload: bytes) -> None:
    error: DecodeError | None = None
    try:
        DECODERS[name](payload)
    except DecodeError as exc:
        error = exc
    if error is not None:
        assert 0 <= error.offset <= len(payload)
        assert error.field


@settings(max_examples=200)
@given(st.sampled_from(sorted(CHARACTERISTICS)), st.binary(max_size=40))
def test_describe_is_total_and_json_ready(name: str, payload: bytes) -> None:
    import json

    with contextlib.suppress(DecodeError):
        json.dumps(describe(name, payload), allow_nan=False)
