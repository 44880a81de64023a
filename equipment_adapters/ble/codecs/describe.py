"""Decoded payloads as plain JSON-ready dicts, for ``gymctl decode`` and makers' tools.

Keys are snake_case with the unit in the name; fields absent from the payload are absent
from the dict; characteristics with a flags field get ``flags`` (its value and the names
of the bits that are set).
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import fields
from typing import Any, Final

from equipment_adapters.ble.codecs import band, cps, csc, ftms, hrs


def _flag_names(value: int, flag_type: type[enum.IntFlag], width: int) -> dict[str, Any]:
    names = [f.name.lower() for f in flag_type if f.name is not None and value & f.value]
    return {"value": value, "hex": f"0x{value:0{width}X}", "set": names}


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def _present(obj: object, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if f.name in skip or value is None:
            continue
        out[f.name] = value
    return out


def _indoor_bike(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    data = ftms.decode_indoor_bike_data(payload, profile)
    out: dict[str, Any] = {
        "flags": _flag_names(int.from_bytes(payload[:2], "little"), ftms.IndoorBikeFlags, 4)
    }
    out.update(_present(data, skip=("expended_energy_present", "more_data")))
    if data.expended_energy_present:
        for name in ("total_energy_kcal", "energy_per_hour_kcal", "energy_per_minute_kcal"):
            out[name] = getattr(data, name)  # None (null): the device says "not available"
    return out


def _heart_rate(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    m = hrs.decode_heart_rate(payload)
    flags = payload[0]
    out: dict[str, Any] = {
        "flags": {
            "value": flags,
            "hex": f"0x{flags:02X}",
            "heart_rate_u16": bool(flags & 0x01),
            "energy_expended_present": bool(flags & 0x08),
            "rr_intervals_present": bool(flags & 0x10),
        },
        "heart_rate_bpm": m.heart_rate_bpm,
        "sensor_contact": m.sensor_contact.value,
    }
    if m.energy_expended_kj is not None:
        out["energy_expended_kj"] = m.energy_expended_kj
    if m.rr_intervals is not None:
        out["rr_intervals_ms"] = [round(v * 1000 / 1024, 3) for v in m.rr_intervals]
    return out


class _CpsFlags(enum.IntFlag):
    PEDAL_POWER_BALANCE = 1 << 0
    PEDAL_POWER_BALANCE_REFERENCE_LEFT = 1 << 1
    ACCUMULATED_TORQUE = 1 << 2
    ACCUMULATED_TORQUE_SOURCE_CRANK = 1 << 3
    WHEEL_REVOLUTION_DATA = 1 << 4
    CRANK_REVOLUTION_DATA = 1 << 5
    EXTREME_FORCE_MAGNITUDES = 1 << 6
    EXTREME_TORQUE_MAGNITUDES = 1 << 7
    EXTREME_ANGLES = 1 << 8
    TOP_DEAD_SPOT_ANGLE = 1 << 9
    BOTTOM_DEAD_SPOT_ANGLE = 1 << 10
    ACCUMULATED_ENERGY = 1 << 11
    OFFSET_COMPENSATION_INDICATOR = 1 << 12


class _CscFlags(enum.IntFlag):
    WHEEL_REVOLUTION_DATA = 1 << 0
    CRANK_REVOLUTION_DATA = 1 << 1


def _cycling_power(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    m = cps.decode_cycling_power(payload)
    out: dict[str, Any] = {
        "flags": _flag_names(int.from_bytes(payload[:2], "little"), _CpsFlags, 4)
    }
    out.update(
        _present(
            m,
            skip=(
                "pedal_power_balance_left",
                "accumulated_torque_from_crank",
                "offset_compensation",
            ),
        )
    )
    return out


def _csc(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    m = csc.decode_csc(payload)
    return {"flags": _flag_names(payload[0], _CscFlags, 2), **_present(m)}


def _feature(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    f = ftms.decode_feature(payload)
    return {
        "fitness_machine_features": _flag_names(f.machine_bits, ftms.MachineFeature, 8),
        "target_setting_features": _flag_names(f.target_bits, ftms.TargetSettingFeature, 8),
    }


def _params(spec: tuple[ftms.Param, ...], values: tuple[float, ...]) -> dict[str, Any]:
    return {p.name: _number(v) for p, v in zip(spec, values, strict=True)}


def _control_point(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    message = ftms.decode_control_point(payload, profile)
    if isinstance(message, ftms.ControlResponse):
        out: dict[str, Any] = {
            "op": "response",
            "request_op": (
                message.request_op.name.lower() if message.request_op is not None else None
            ),
            "result": message.result.name.lower(),
        }
        if message.parameter:
            out["response_parameter_hex"] = message.parameter.hex()
        return out
    return {"op": message.op.name.lower(), **{k: _number(v) for k, v in message.params.items()}}


def _status(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    status = ftms.decode_status(payload)
    return {
        "op": status.op.name.lower(),
        **_params(ftms.STATUS_PARAMS[status.op], status.values),
    }


def _training_status(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    t = ftms.decode_training_status(payload)
    flags = payload[0]
    out: dict[str, Any] = {
        "flags": {
            "value": flags,
            "hex": f"0x{flags:02X}",
            "training_status_string_present": bool(flags & 0x01),
            "extended_string_present": bool(flags & 0x02),
        },
        "training_status": t.status.name.lower(),
    }
    if t.text is not None:
        out["training_status_string"] = t.text
    return out


def _power_range(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    r = ftms.decode_power_range(payload)
    return {
        "minimum_power_w": r.minimum_w,
        "maximum_power_w": r.maximum_w,
        "minimum_increment_w": r.increment_w,
    }


def _resistance_range(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    r = ftms.decode_resistance_range(payload)
    return {
        "form": r.form,
        "minimum_resistance_level": _number(r.minimum),
        "maximum_resistance_level": _number(r.maximum),
        "minimum_increment": _number(r.increment),
    }


def _band_samples(payload: bytes, profile: ftms.FtmsProfile) -> dict[str, Any]:
    b = band.decode_band_samples(payload)
    return {
        "version": payload[0],
        "sequence": b.sequence,
        "count": len(b),
        "t0_s": b.t0_s,
        "period_s": b.period_s,
        "tension_n": [round(float(v), 1) for v in b.tension_n],
        "accel_ms2": [[round(float(v), 2) for v in row] for row in b.accel_ms2],
        "gyro_rads": [[round(float(v), 3) for v in row] for row in b.gyro_rads],
    }


Describer = Callable[[bytes, ftms.FtmsProfile], dict[str, Any]]

#: Characteristic names accepted by ``gymctl decode``, with their describers.
CHARACTERISTICS: Final[dict[str, Describer]] = {
    "indoor_bike_data": _indoor_bike,
    "heart_rate_measurement": _heart_rate,
    "cycling_power_measurement": _cycling_power,
    "csc_measurement": _csc,
    "fitness_machine_feature": _feature,
    "ftms_control_point": _control_point,
    "fitness_machine_status": _status,
    "training_status": _training_status,
    "supported_power_range": _power_range,
    "supported_resistance_level_range": _resistance_range,
    "band_samples": _band_samples,
}


def describe(
    characteristic: str, payload: bytes, profile: ftms.FtmsProfile = ftms.DEFAULT_PROFILE
) -> dict[str, Any]:
    """Decode ``payload`` as ``characteristic`` into a JSON-ready dict (DecodeError if not)."""
    try:
        describer = CHARACTERISTICS[characteristic]
    except KeyError:
        raise ValueError(f"unknown characteristic {characteristic!r}") from None
    return describer(bytes(payload), profile)
