"""Cycling Power Service (CPS 1.1): the Cycling Power Measurement characteristic 0x2A63."""

from __future__ import annotations

from dataclasses import dataclass

from equipment_adapters.ble.codecs._bytes import Reader, Writer


@dataclass(frozen=True, slots=True)
class CyclingPowerMeasurement:
    """Event times keep their exact binary fractions (1/2048 s wheel, 1/1024 s crank)."""

    instantaneous_power_w: int
    pedal_power_balance_pct: float | None = None
    pedal_power_balance_left: bool = False  #: flag bit 1: the balance refers to the left pedal
    accumulated_torque_nm: float | None = None
    accumulated_torque_from_crank: bool = False  #: flag bit 3
    cumulative_wheel_revolutions: int | None = None
    last_wheel_event_time_s: float | None = None
    cumulative_crank_revolutions: int | None = None
    last_crank_event_time_s: float | None = None
    maximum_force_n: int | None = None
    minimum_force_n: int | None = None
    maximum_torque_nm: float | None = None
    minimum_torque_nm: float | None = None
    maximum_angle_deg: int | None = None
    minimum_angle_deg: int | None = None
    top_dead_spot_angle_deg: int | None = None
    bottom_dead_spot_angle_deg: int | None = None
    accumulated_energy_kj: int | None = None
    offset_compensation: bool = False  #: flag bit 12


_PDU = "cycling power measurement"


def decode_cycling_power(payload: bytes | bytearray) -> CyclingPowerMeasurement:
    r = Reader(payload, _PDU)
    flags = r.read("H", "flags")
    v: dict[str, object] = {
        "instantaneous_power_w": r.read("h", "instantaneous_power"),
        "pedal_power_balance_left": bool(flags & 0x0002),
        "accumulated_torque_from_crank": bool(flags & 0x0008),
        "offset_compensation": bool(flags & 0x1000),
    }
    if flags & 0x0001:
        v["pedal_power_balance_pct"] = r.read("B", "pedal_power_balance") / 2
    if flags & 0x0004:
        v["accumulated_torque_nm"] = r.read("H", "accumulated_torque") / 32
    if flags & 0x0010:
        v["cumulative_wheel_revolutions"] = r.read("I", "cumulative_wheel_revolutions")
        v["last_wheel_event_time_s"] = r.read("H", "last_wheel_event_time") / 2048
    if flags & 0x0020:
        v["cumulative_crank_revolutions"] = r.read("H", "cumulative_crank_revolutions")
        v["last_crank_event_time_s"] = r.read("H", "last_crank_event_time") / 1024
    if flags & 0x0040:
        v["maximum_force_n"] = r.read("h", "maximum_force_magnitude")
        v["minimum_force_n"] = r.read("h", "minimum_force_magnitude")
    if flags & 0x0080:
        v["maximum_torque_nm"] = r.read("h", "maximum_torque_magnitude") / 32
        v["minimum_torque_nm"] = r.read("h", "minimum_torque_magnitude") / 32
    if flags & 0x0100:
        packed = r.read("T", "extreme_angles")
        v["maximum_angle_deg"] = packed & 0xFFF
        v["minimum_angle_deg"] = packed >> 12
    if flags & 0x0200:
        v["top_dead_spot_angle_deg"] = r.read("H", "top_dead_spot_angle")
    if flags & 0x0400:
        v["bottom_dead_spot_angle_deg"] = r.read("H", "bottom_dead_spot_angle")
    if flags & 0x0800:
        v["accumulated_energy_kj"] = r.read("H", "accumulated_energy")
    r.end()
    return CyclingPowerMeasurement(**v)  # type: ignore[arg-type]


def encode_cycling_power(m: CyclingPowerMeasurement) -> bytes:
    present = (
        (0x0001, m.pedal_power_balance_pct),
        (0x0004, m.accumulated_torque_nm),
        (0x0010, m.cumulative_wheel_revolutions),
        (0x0020, m.cumulative_crank_revolutions),
        (0x0040, m.maximum_force_n),
        (0x0080, m.maximum_torque_nm),
        (0x0100, m.maximum_angle_deg),
        (0x0200, m.top_dead_spot_angle_deg),
        (0x0400, m.bottom_dead_spot_angle_deg),
        (0x0800, m.accumulated_energy_kj),
    )
    flags = sum(bit for bit, value in present if value is not None)
    flags |= 0x0002 if m.pedal_power_balance_left else 0
    flags |= 0x0008 if m.accumulated_torque_from_crank else 0
    flags |= 0x1000 if m.offset_compensation else 0
    w = Writer(_PDU)
    w.write("H", flags, "flags")
    w.write("h", m.instantaneous_power_w, "instantaneous_power")
    if m.pedal_power_balance_pct is not None:
        w.write("B", round(m.pedal_power_balance_pct * 2), "pedal_power_balance")
    if m.accumulated_torque_nm is not None:
        w.write("H", round(m.accumulated_torque_nm * 32), "accumulated_torque")
    if m.cumulative_wheel_revolutions is not None:
        w.write("I", m.cumulative_wheel_revolutions, "cumulative_wheel_revolutions")
        w.write("H", round((m.last_wheel_event_time_s or 0.0) * 2048), "last_wheel_event_time")
    if m.cumulative_crank_revolutions is not None:
        w.write("H", m.cumulative_crank_revolutions, "cumulative_crank_revolutions")
        w.write("H", round((m.last_crank_event_time_s or 0.0) * 1024), "last_crank_event_time")
    if m.maximum_force_n is not None:
        w.write("h", m.maximum_force_n, "maximum_force_magnitude")
        w.write("h", m.minimum_force_n or 0, "minimum_force_magnitude")
    if m.maximum_torque_nm is not None:
        w.write("h", round(m.maximum_torque_nm * 32), "maximum_torque_magnitude")
        w.write("h", round((m.minimum_torque_nm or 0.0) * 32), "minimum_torque_magnitude")
    if m.maximum_angle_deg is not None:
        lo, hi = m.maximum_angle_deg, m.minimum_angle_deg or 0
        if not (0 <= lo < 4096 and 0 <= hi < 4096):
            raise ValueError("extreme angles are 12-bit values (0..4095)")
        w.write("T", lo | (hi << 12), "extreme_angles")
    if m.top_dead_spot_angle_deg is not None:
        w.write("H", m.top_dead_spot_angle_deg, "top_dead_spot_angle")
    if m.bottom_dead_spot_angle_deg is not None:
        w.write("H", m.bottom_dead_spot_angle_deg, "bottom_dead_spot_angle")
    if m.accumulated_energy_kj is not None:
        w.write("H", m.accumulated_energy_kj, "accumulated_energy")
    return w.bytes()
