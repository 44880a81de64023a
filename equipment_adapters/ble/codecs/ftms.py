"""Fitness Machine Service (FTMS 1.0) codecs: Indoor Bike Data, Feature, ranges, Control
Point, Status and Training Status.

Pure functions from bytes to frozen dataclasses and back. Values carry their unit in
their name (``instantaneous_speed_kmh``); a field absent from the payload is ``None``.
Known device quirks are switches of :class:`FtmsProfile`, never special cases in code.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal

from equipment_adapters.ble.codecs._bytes import SIZES, Reader, Writer, from_raw, to_raw
from equipment_adapters.errors import DecodeError

ResistanceForm = Literal["auto", "s16", "u8"]


@dataclass(frozen=True, slots=True)
class FtmsProfile:
    """Device quirks, as switches (the defaults are the specification's behaviour).

    ``resistance_form``: Indoor Bike Data resistance field as s16 (XML form, what real bikes
    send), u8 x 10 (GSS form), or "auto" (whichever makes the payload length add up).
    ``cadence_flag_inverted``: instantaneous cadence is present when flag bit 2 is *clear*
    (one spec table says so; some Life Fitness bikes behave that way).
    ``single_byte_cp_response``: the device answers a control point request with the single
    byte 0x80; it is read as success of the procedure in flight.
    ``cp_resistance_s16``: Set Target Resistance Level takes an s16 (some trainers reject u8).
    """

    resistance_form: ResistanceForm = "auto"
    cadence_flag_inverted: bool = False
    single_byte_cp_response: bool = False
    cp_resistance_s16: bool = False


DEFAULT_PROFILE: Final = FtmsProfile()


# --- Indoor Bike Data 0x2AD2 -------------------------------------------------------------


class IndoorBikeFlags(enum.IntFlag):
    MORE_DATA = 1 << 0
    AVERAGE_SPEED = 1 << 1
    INSTANTANEOUS_CADENCE = 1 << 2
    AVERAGE_CADENCE = 1 << 3
    TOTAL_DISTANCE = 1 << 4
    RESISTANCE_LEVEL = 1 << 5
    INSTANTANEOUS_POWER = 1 << 6
    AVERAGE_POWER = 1 << 7
    EXPENDED_ENERGY = 1 << 8
    HEART_RATE = 1 << 9
    METABOLIC_EQUIVALENT = 1 << 10
    ELAPSED_TIME = 1 << 11
    REMAINING_TIME = 1 << 12


@dataclass(frozen=True, slots=True)
class IndoorBikeData:
    """One Indoor Bike Data record (or one part of a split record, ``more_data=True``).

    Energy fields are ``None`` both when absent and when the device sends "not available"
    (0xFFFF / 0xFF); ``expended_energy_present`` tells the two apart.
    """

    more_data: bool = False
    instantaneous_speed_kmh: float | None = None
    average_speed_kmh: float | None = None
    instantaneous_cadence_rpm: float | None = None
    average_cadence_rpm: float | None = None
    total_distance_m: int | None = None
    resistance_level: float | None = None
    instantaneous_power_w: int | None = None
    average_power_w: int | None = None
    expended_energy_present: bool = False
    total_energy_kcal: int | None = None
    energy_per_hour_kcal: int | None = None
    energy_per_minute_kcal: int | None = None
    heart_rate_bpm: int | None = None
    metabolic_equivalent: float | None = None
    elapsed_time_s: int | None = None
    remaining_time_s: int | None = None

    @property
    def flags(self) -> IndoorBikeFlags:
        f = IndoorBikeFlags(0)
        if self.more_data:
            f |= IndoorBikeFlags.MORE_DATA
        for flag, value in (
            (IndoorBikeFlags.AVERAGE_SPEED, self.average_speed_kmh),
            (IndoorBikeFlags.INSTANTANEOUS_CADENCE, self.instantaneous_cadence_rpm),
            (IndoorBikeFlags.AVERAGE_CADENCE, self.average_cadence_rpm),
            (IndoorBikeFlags.TOTAL_DISTANCE, self.total_distance_m),
            (IndoorBikeFlags.RESISTANCE_LEVEL, self.resistance_level),
            (IndoorBikeFlags.INSTANTANEOUS_POWER, self.instantaneous_power_w),
            (IndoorBikeFlags.AVERAGE_POWER, self.average_power_w),
            (IndoorBikeFlags.HEART_RATE, self.heart_rate_bpm),
            (IndoorBikeFlags.METABOLIC_EQUIVALENT, self.metabolic_equivalent),
            (IndoorBikeFlags.ELAPSED_TIME, self.elapsed_time_s),
            (IndoorBikeFlags.REMAINING_TIME, self.remaining_time_s),
        ):
            if value is not None:
                f |= flag
        if self.expended_energy_present:
            f |= IndoorBikeFlags.EXPENDED_ENERGY
        return f


_PDU_BIKE = "indoor bike data"


def _bike_fields_length(flags: int, cadence_present: bool, resistance_size: int) -> int:
    size = 0 if flags & IndoorBikeFlags.MORE_DATA else 2
    size += 2 * bool(flags & IndoorBikeFlags.AVERAGE_SPEED)
    size += 2 * cadence_present
    size += 2 * bool(flags & IndoorBikeFlags.AVERAGE_CADENCE)
    size += 3 * bool(flags & IndoorBikeFlags.TOTAL_DISTANCE)
    size += resistance_size * bool(flags & IndoorBikeFlags.RESISTANCE_LEVEL)
    size += 2 * bool(flags & IndoorBikeFlags.INSTANTANEOUS_POWER)
    size += 2 * bool(flags & IndoorBikeFlags.AVERAGE_POWER)
    size += 5 * bool(flags & IndoorBikeFlags.EXPENDED_ENERGY)
    size += bool(flags & IndoorBikeFlags.HEART_RATE)
    size += bool(flags & IndoorBikeFlags.METABOLIC_EQUIVALENT)
    size += 2 * bool(flags & IndoorBikeFlags.ELAPSED_TIME)
    size += 2 * bool(flags & IndoorBikeFlags.REMAINING_TIME)
    return size


def decode_indoor_bike_data(
    payload: bytes | bytearray, profile: FtmsProfile = DEFAULT_PROFILE
) -> IndoorBikeData:
    r = Reader(payload, _PDU_BIKE)
    flags = r.read("H", "flags")
    cadence_bit = bool(flags & IndoorBikeFlags.INSTANTANEOUS_CADENCE)
    cadence_present = cadence_bit != profile.cadence_flag_inverted
    resistance_size = 2
    if flags & IndoorBikeFlags.RESISTANCE_LEVEL:
        if profile.resistance_form == "u8":
            resistance_size = 1
        elif profile.resistance_form == "auto":
            body = r.remaining
            if body == _bike_fields_length(flags, cadence_present, 1):
                resistance_size = 1
    values: dict[str, object] = {"more_data": bool(flags & IndoorBikeFlags.MORE_DATA)}
    if not flags & IndoorBikeFlags.MORE_DATA:
        values["instantaneous_speed_kmh"] = r.read("H", "instantaneous_speed") / 100
    if flags & IndoorBikeFlags.AVERAGE_SPEED:
        values["average_speed_kmh"] = r.read("H", "average_speed") / 100
    if cadence_present:
        values["instantaneous_cadence_rpm"] = r.read("H", "instantaneous_cadence") / 2
    if flags & IndoorBikeFlags.AVERAGE_CADENCE:
        values["average_cadence_rpm"] = r.read("H", "average_cadence") / 2
    if flags & IndoorBikeFlags.TOTAL_DISTANCE:
        values["total_distance_m"] = r.read("T", "total_distance")
    if flags & IndoorBikeFlags.RESISTANCE_LEVEL:
        if resistance_size == 1:
            values["resistance_level"] = float(r.read("B", "resistance_level") * 10)
        else:
            values["resistance_level"] = float(r.read("h", "resistance_level"))
    if flags & IndoorBikeFlags.INSTANTANEOUS_POWER:
        values["instantaneous_power_w"] = r.read("h", "instantaneous_power")
    if flags & IndoorBikeFlags.AVERAGE_POWER:
        values["average_power_w"] = r.read("h", "average_power")
    if flags & IndoorBikeFlags.EXPENDED_ENERGY:
        values["expended_energy_present"] = True
        total = r.read("H", "total_energy")
        per_hour = r.read("H", "energy_per_hour")
        per_minute = r.read("B", "energy_per_minute")
        values["total_energy_kcal"] = None if total == 0xFFFF else total
        values["energy_per_hour_kcal"] = None if per_hour == 0xFFFF else per_hour
        values["energy_per_minute_kcal"] = None if per_minute == 0xFF else per_minute
    if flags & IndoorBikeFlags.HEART_RATE:
        values["heart_rate_bpm"] = r.read("B", "heart_rate")
    if flags & IndoorBikeFlags.METABOLIC_EQUIVALENT:
        values["metabolic_equivalent"] = r.read("B", "metabolic_equivalent") / 10
    if flags & IndoorBikeFlags.ELAPSED_TIME:
        values["elapsed_time_s"] = r.read("H", "elapsed_time")
    if flags & IndoorBikeFlags.REMAINING_TIME:
        values["remaining_time_s"] = r.read("H", "remaining_time")
    r.end()
    return IndoorBikeData(**values)  # type: ignore[arg-type]


def encode_indoor_bike_data(data: IndoorBikeData, profile: FtmsProfile = DEFAULT_PROFILE) -> bytes:
    w = Writer(_PDU_BIKE)
    flags = int(data.flags)
    if data.more_data == (data.instantaneous_speed_kmh is not None):
        raise ValueError("instantaneous speed is present exactly when more_data is False")
    if (data.instantaneous_cadence_rpm is not None) != profile.cadence_flag_inverted:
        flags |= IndoorBikeFlags.INSTANTANEOUS_CADENCE
    else:
        flags &= ~IndoorBikeFlags.INSTANTANEOUS_CADENCE
    w.write("H", flags, "flags")
    if data.instantaneous_speed_kmh is not None:
        w.write("H", to_raw(data.instantaneous_speed_kmh, 1, 100), "instantaneous_speed")
    if data.average_speed_kmh is not None:
        w.write("H", to_raw(data.average_speed_kmh, 1, 100), "average_speed")
    if data.instantaneous_cadence_rpm is not None:
        w.write("H", to_raw(data.instantaneous_cadence_rpm, 1, 2), "instantaneous_cadence")
    if data.average_cadence_rpm is not None:
        w.write("H", to_raw(data.average_cadence_rpm, 1, 2), "average_cadence")
    if data.total_distance_m is not None:
        w.write("T", data.total_distance_m, "total_distance")
    if data.resistance_level is not None:
        if profile.resistance_form == "u8":
            w.write("B", to_raw(data.resistance_level, 10, 1), "resistance_level")
        else:
            w.write("h", round(data.resistance_level), "resistance_level")
    if data.instantaneous_power_w is not None:
        w.write("h", data.instantaneous_power_w, "instantaneous_power")
    if data.average_power_w is not None:
        w.write("h", data.average_power_w, "average_power")
    if data.expended_energy_present:
        total, hour, minute = (
            data.total_energy_kcal,
            data.energy_per_hour_kcal,
            data.energy_per_minute_kcal,
        )
        w.write("H", 0xFFFF if total is None else total, "total_energy")
        w.write("H", 0xFFFF if hour is None else hour, "energy_per_hour")
        w.write("B", 0xFF if minute is None else minute, "energy_per_minute")
    if data.heart_rate_bpm is not None:
        w.write("B", data.heart_rate_bpm, "heart_rate")
    if data.metabolic_equivalent is not None:
        w.write("B", to_raw(data.metabolic_equivalent, 1, 10), "metabolic_equivalent")
    if data.elapsed_time_s is not None:
        w.write("H", data.elapsed_time_s, "elapsed_time")
    if data.remaining_time_s is not None:
        w.write("H", data.remaining_time_s, "remaining_time")
    return w.bytes()


class IndoorBikeAssembler:
    """Joins the parts of a record split over several notifications (More Data).

    Parts with ``more_data`` set are held; the part without it completes the record and
    :meth:`feed` returns the merged record (later parts win where fields repeat). An
    unsplit record passes straight through.
    """

    __slots__ = ("_pending",)

    def __init__(self) -> None:
        self._pending: dict[str, object] = {}

    def feed(self, part: IndoorBikeData) -> IndoorBikeData | None:
        present = {
            name: getattr(part, name)
            for name in IndoorBikeData.__dataclass_fields__
            if name not in ("more_data", "expended_energy_present")
            and getattr(part, name) is not None
        }
        if part.expended_energy_present:
            present["expended_energy_present"] = True
        if part.more_data:
            self._pending.update(present)
            return None
        if not self._pending:
            return part
        merged = {**self._pending, **present}
        self._pending = {}
        return IndoorBikeData(**merged)


# --- Fitness Machine Feature 0x2ACC ------------------------------------------------------


class MachineFeature(enum.IntFlag):
    AVERAGE_SPEED = 1 << 0
    CADENCE = 1 << 1
    TOTAL_DISTANCE = 1 << 2
    INCLINATION = 1 << 3
    ELEVATION_GAIN = 1 << 4
    PACE = 1 << 5
    STEP_COUNT = 1 << 6
    RESISTANCE_LEVEL = 1 << 7
    STRIDE_COUNT = 1 << 8
    EXPENDED_ENERGY = 1 << 9
    HEART_RATE_MEASUREMENT = 1 << 10
    METABOLIC_EQUIVALENT = 1 << 11
    ELAPSED_TIME = 1 << 12
    REMAINING_TIME = 1 << 13
    POWER_MEASUREMENT = 1 << 14
    FORCE_ON_BELT_AND_POWER_OUTPUT = 1 << 15
    USER_DATA_RETENTION = 1 << 16


class TargetSettingFeature(enum.IntFlag):
    SPEED_TARGET = 1 << 0
    INCLINATION_TARGET = 1 << 1
    RESISTANCE_TARGET = 1 << 2
    POWER_TARGET = 1 << 3
    HEART_RATE_TARGET = 1 << 4
    TARGETED_EXPENDED_ENERGY = 1 << 5
    TARGETED_STEP_NUMBER = 1 << 6
    TARGETED_STRIDE_NUMBER = 1 << 7
    TARGETED_DISTANCE = 1 << 8
    TARGETED_TRAINING_TIME = 1 << 9
    TARGETED_TIME_IN_TWO_HR_ZONES = 1 << 10
    TARGETED_TIME_IN_THREE_HR_ZONES = 1 << 11
    TARGETED_TIME_IN_FIVE_HR_ZONES = 1 << 12
    INDOOR_BIKE_SIMULATION = 1 << 13
    WHEEL_CIRCUMFERENCE = 1 << 14
    SPIN_DOWN_CONTROL = 1 << 15
    TARGETED_CADENCE = 1 << 16


@dataclass(frozen=True, slots=True)
class FitnessMachineFeature:
    """Raw bit words are kept so reserved bits survive a round trip."""

    machine_bits: int
    target_bits: int

    @property
    def machine(self) -> MachineFeature:
        return MachineFeature(self.machine_bits & ((1 << 17) - 1))

    @property
    def target(self) -> TargetSettingFeature:
        return TargetSettingFeature(self.target_bits & ((1 << 17) - 1))


def decode_feature(payload: bytes | bytearray) -> FitnessMachineFeature:
    r = Reader(payload, "fitness machine feature")
    machine = r.read("I", "fitness_machine_features")
    target = r.read("I", "target_setting_features")
    r.end()
    return FitnessMachineFeature(machine, target)


def encode_feature(feature: FitnessMachineFeature) -> bytes:
    w = Writer("fitness machine feature")
    w.write("I", feature.machine_bits, "fitness_machine_features")
    w.write("I", feature.target_bits, "target_setting_features")
    return w.bytes()


# --- Supported ranges 0x2AD8, 0x2AD6 -----------------------------------------------------


@dataclass(frozen=True, slots=True)
class PowerRange:
    minimum_w: int
    maximum_w: int
    increment_w: int


def decode_power_range(payload: bytes | bytearray) -> PowerRange:
    r = Reader(payload, "supported power range")
    minimum = r.read("h", "minimum_power")
    maximum = r.read("h", "maximum_power")
    increment = r.read("H", "minimum_increment")
    r.end()
    return PowerRange(minimum, maximum, increment)


def encode_power_range(value: PowerRange) -> bytes:
    w = Writer("supported power range")
    w.write("h", value.minimum_w, "minimum_power")
    w.write("h", value.maximum_w, "maximum_power")
    w.write("H", value.increment_w, "minimum_increment")
    return w.bytes()


@dataclass(frozen=True, slots=True)
class ResistanceRange:
    """Resistance levels as the device counts them; ``form`` is how they travel.

    XML form (6 bytes): s16 minimum, s16 maximum, u16 increment, all x 0.1.
    GSS form (3 bytes): three u8, each x 10 (the GSS resolution of a resistance level).
    """

    minimum: float
    maximum: float
    increment: float
    form: Literal["s16", "u8"] = "s16"


def decode_resistance_range(payload: bytes | bytearray) -> ResistanceRange:
    r = Reader(payload, "supported resistance level range")
    if len(payload) == 3:
        lo = r.read("B", "minimum_resistance_level")
        hi = r.read("B", "maximum_resistance_level")
        inc = r.read("B", "minimum_increment")
        return ResistanceRange(float(lo * 10), float(hi * 10), float(inc * 10), "u8")
    lo = r.read("h", "minimum_resistance_level")
    hi = r.read("h", "maximum_resistance_level")
    inc = r.read("H", "minimum_increment")
    r.end()
    return ResistanceRange(lo / 10, hi / 10, inc / 10, "s16")


def encode_resistance_range(value: ResistanceRange) -> bytes:
    w = Writer("supported resistance level range")
    names = ("minimum_resistance_level", "maximum_resistance_level", "minimum_increment")
    numbers = (value.minimum, value.maximum, value.increment)
    if value.form == "u8":
        for name, number in zip(names, numbers, strict=True):
            w.write("B", to_raw(number, 10, 1), name)
    else:
        for code, name, number in zip(("h", "h", "H"), names, numbers, strict=True):
            w.write(code, to_raw(number, 1, 10), name)
    return w.bytes()


# --- Fitness Machine Control Point 0x2AD9 ------------------------------------------------


class ControlOp(enum.IntEnum):
    REQUEST_CONTROL = 0x00
    RESET = 0x01
    SET_TARGET_SPEED = 0x02
    SET_TARGET_INCLINATION = 0x03
    SET_TARGET_RESISTANCE_LEVEL = 0x04
    SET_TARGET_POWER = 0x05
    SET_TARGET_HEART_RATE = 0x06
    START_OR_RESUME = 0x07
    STOP_OR_PAUSE = 0x08
    SET_TARGETED_EXPENDED_ENERGY = 0x09
    SET_TARGETED_NUMBER_OF_STEPS = 0x0A
    SET_TARGETED_NUMBER_OF_STRIDES = 0x0B
    SET_TARGETED_DISTANCE = 0x0C
    SET_TARGETED_TRAINING_TIME = 0x0D
    SET_TARGETED_TIME_IN_TWO_HR_ZONES = 0x0E
    SET_TARGETED_TIME_IN_THREE_HR_ZONES = 0x0F
    SET_TARGETED_TIME_IN_FIVE_HR_ZONES = 0x10
    SET_INDOOR_BIKE_SIMULATION = 0x11
    SET_WHEEL_CIRCUMFERENCE = 0x12
    SPIN_DOWN_CONTROL = 0x13
    SET_TARGETED_CADENCE = 0x14


RESPONSE_CODE: Final = 0x80


class ResultCode(enum.IntEnum):
    SUCCESS = 0x01
    OP_CODE_NOT_SUPPORTED = 0x02
    INVALID_PARAMETER = 0x03
    OPERATION_FAILED = 0x04
    CONTROL_NOT_PERMITTED = 0x05


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter of a procedure: ``value = raw * mul / div`` in ``name``'s unit."""

    name: str
    code: str
    mul: int = 1
    div: int = 1


def _p(name: str, code: str, mul: int = 1, div: int = 1) -> Param:
    return Param(name, code, mul, div)


_SIMULATION = (
    _p("wind_speed_ms", "h", 1, 1000),
    _p("grade_pct", "h", 1, 100),
    _p("crr", "B", 1, 10000),
    _p("cw_kg_per_m", "B", 1, 100),
)

#: The parameters of each control point procedure, in payload order (FTMS 4.16.1).
CONTROL_PARAMS: Final[dict[ControlOp, tuple[Param, ...]]] = {
    ControlOp.REQUEST_CONTROL: (),
    ControlOp.RESET: (),
    ControlOp.SET_TARGET_SPEED: (_p("target_speed_kmh", "H", 1, 100),),
    ControlOp.SET_TARGET_INCLINATION: (_p("target_inclination_pct", "h", 1, 10),),
    ControlOp.SET_TARGET_RESISTANCE_LEVEL: (_p("target_resistance_level", "B", 1, 10),),
    ControlOp.SET_TARGET_POWER: (_p("target_power_w", "h"),),
    ControlOp.SET_TARGET_HEART_RATE: (_p("target_heart_rate_bpm", "B"),),
    ControlOp.START_OR_RESUME: (),
    ControlOp.STOP_OR_PAUSE: (_p("stop_or_pause", "B"),),
    ControlOp.SET_TARGETED_EXPENDED_ENERGY: (_p("targeted_expended_energy_kcal", "H"),),
    ControlOp.SET_TARGETED_NUMBER_OF_STEPS: (_p("targeted_number_of_steps", "H"),),
    ControlOp.SET_TARGETED_NUMBER_OF_STRIDES: (_p("targeted_number_of_strides", "H"),),
    ControlOp.SET_TARGETED_DISTANCE: (_p("targeted_distance_m", "T"),),
    ControlOp.SET_TARGETED_TRAINING_TIME: (_p("targeted_training_time_s", "H"),),
    ControlOp.SET_TARGETED_TIME_IN_TWO_HR_ZONES: tuple(
        _p(f"time_in_zone_{name}_s", "H") for name in ("fat_burn", "fitness")
    ),
    ControlOp.SET_TARGETED_TIME_IN_THREE_HR_ZONES: tuple(
        _p(f"time_in_zone_{name}_s", "H") for name in ("light", "moderate", "hard")
    ),
    ControlOp.SET_TARGETED_TIME_IN_FIVE_HR_ZONES: tuple(
        _p(f"time_in_zone_{name}_s", "H")
        for name in ("very_light", "light", "moderate", "hard", "maximum")
    ),
    ControlOp.SET_INDOOR_BIKE_SIMULATION: _SIMULATION,
    ControlOp.SET_WHEEL_CIRCUMFERENCE: (_p("wheel_circumference_mm", "H", 1, 10),),
    ControlOp.SPIN_DOWN_CONTROL: (_p("spin_down_control", "B"),),
    ControlOp.SET_TARGETED_CADENCE: (_p("targeted_cadence_rpm", "H", 1, 2),),
}
_RESISTANCE_S16 = (_p("target_resistance_level", "h", 1, 10),)


@dataclass(frozen=True, slots=True)
class ControlRequest:
    """A control point request: its procedure and parameter values, in payload order."""

    op: ControlOp
    values: tuple[float, ...] = ()

    @property
    def params(self) -> dict[str, float]:
        spec = CONTROL_PARAMS[self.op]
        if self.op is ControlOp.SET_TARGET_RESISTANCE_LEVEL:
            spec = _RESISTANCE_S16 if len(self.values) == 1 else spec
        return {p.name: v for p, v in zip(spec, self.values, strict=True)}


@dataclass(frozen=True, slots=True)
class ControlResponse:
    """A control point response. ``request_op`` is ``None`` for the single-byte quirk."""

    request_op: ControlOp | None
    result: ResultCode
    parameter: bytes = b""


ControlPointMessage = ControlRequest | ControlResponse
_PDU_CP = "fitness machine control point"


def _read_params(r: Reader, spec: tuple[Param, ...]) -> tuple[float, ...]:
    return tuple(
        from_raw(r.read(p.code, p.name), p.mul, p.div)
        if (p.mul, p.div) != (1, 1)
        # integer-valued parameters stay exact integers
        else float(r.read(p.code, p.name))
        for p in spec
    )


def _write_params(w: Writer, spec: tuple[Param, ...], values: tuple[float, ...]) -> None:
    if len(values) != len(spec):
        raise ValueError(f"expected {len(spec)} parameter values, got {len(values)}")
    for p, v in zip(spec, values, strict=True):
        w.write(p.code, to_raw(v, p.mul, p.div), p.name)


def _op(r: Reader, value: int, field: str) -> ControlOp:
    try:
        return ControlOp(value)
    except ValueError:
        raise r.error(f"unknown op code 0x{value:02X}", field, r.pos - 1) from None


def decode_control_point(
    payload: bytes | bytearray, profile: FtmsProfile = DEFAULT_PROFILE
) -> ControlPointMessage:
    """Decode a request (written by the client) or a response (indicated by the device)."""
    r = Reader(payload, _PDU_CP)
    code = r.read("B", "op_code")
    if code == RESPONSE_CODE:
        if profile.single_byte_cp_response and r.remaining == 0:
            return ControlResponse(None, ResultCode.SUCCESS)
        request_op = _op(r, r.read("B", "request_op_code"), "request_op_code")
        result_raw = r.read("B", "result_code")
        try:
            result = ResultCode(result_raw)
        except ValueError:
            raise r.error(f"unknown result code 0x{result_raw:02X}", "result_code", 2) from None
        return ControlResponse(request_op, result, r.rest())
    op = _op(r, code, "op_code")
    spec = CONTROL_PARAMS[op]
    if op is ControlOp.SET_TARGET_RESISTANCE_LEVEL and r.remaining == 2:
        spec = _RESISTANCE_S16
    values = _read_params(r, spec)
    r.end()
    return ControlRequest(op, values)


def encode_control_request(
    request: ControlRequest, profile: FtmsProfile = DEFAULT_PROFILE
) -> bytes:
    w = Writer(_PDU_CP)
    w.write("B", int(request.op), "op_code")
    spec = CONTROL_PARAMS[request.op]
    if request.op is ControlOp.SET_TARGET_RESISTANCE_LEVEL and profile.cp_resistance_s16:
        spec = _RESISTANCE_S16
    _write_params(w, spec, request.values)
    return w.bytes()


def encode_control_response(
    response: ControlResponse, profile: FtmsProfile = DEFAULT_PROFILE
) -> bytes:
    if response.request_op is None or profile.single_byte_cp_response:
        return bytes([RESPONSE_CODE])
    return bytes([RESPONSE_CODE, int(response.request_op), int(response.result)]) + bytes(
        response.parameter
    )


# --- Fitness Machine Status 0x2ADA -------------------------------------------------------


class StatusOp(enum.IntEnum):
    RESET = 0x01
    STOPPED_OR_PAUSED_BY_USER = 0x02
    STOPPED_BY_SAFETY_KEY = 0x03
    STARTED_OR_RESUMED_BY_USER = 0x04
    TARGET_SPEED_CHANGED = 0x05
    TARGET_INCLINE_CHANGED = 0x06
    TARGET_RESISTANCE_LEVEL_CHANGED = 0x07
    TARGET_POWER_CHANGED = 0x08
    TARGET_HEART_RATE_CHANGED = 0x09
    TARGETED_EXPENDED_ENERGY_CHANGED = 0x0A
    TARGETED_NUMBER_OF_STEPS_CHANGED = 0x0B
    TARGETED_NUMBER_OF_STRIDES_CHANGED = 0x0C
    TARGETED_DISTANCE_CHANGED = 0x0D
    TARGETED_TRAINING_TIME_CHANGED = 0x0E
    TARGETED_TIME_IN_TWO_HR_ZONES_CHANGED = 0x0F
    TARGETED_TIME_IN_THREE_HR_ZONES_CHANGED = 0x10
    TARGETED_TIME_IN_FIVE_HR_ZONES_CHANGED = 0x11
    INDOOR_BIKE_SIMULATION_PARAMETERS_CHANGED = 0x12
    WHEEL_CIRCUMFERENCE_CHANGED = 0x13
    SPIN_DOWN_STATUS = 0x14
    TARGETED_CADENCE_CHANGED = 0x15
    CONTROL_PERMISSION_LOST = 0xFF


STATUS_PARAMS: Final[dict[StatusOp, tuple[Param, ...]]] = {
    StatusOp.RESET: (),
    StatusOp.STOPPED_OR_PAUSED_BY_USER: (_p("stop_or_pause", "B"),),
    StatusOp.STOPPED_BY_SAFETY_KEY: (),
    StatusOp.STARTED_OR_RESUMED_BY_USER: (),
    StatusOp.TARGET_SPEED_CHANGED: CONTROL_PARAMS[ControlOp.SET_TARGET_SPEED],
    StatusOp.TARGET_INCLINE_CHANGED: CONTROL_PARAMS[ControlOp.SET_TARGET_INCLINATION],
    StatusOp.TARGET_RESISTANCE_LEVEL_CHANGED: CONTROL_PARAMS[ControlOp.SET_TARGET_RESISTANCE_LEVEL],
    StatusOp.TARGET_POWER_CHANGED: CONTROL_PARAMS[ControlOp.SET_TARGET_POWER],
    StatusOp.TARGET_HEART_RATE_CHANGED: CONTROL_PARAMS[ControlOp.SET_TARGET_HEART_RATE],
    StatusOp.TARGETED_EXPENDED_ENERGY_CHANGED: CONTROL_PARAMS[
        ControlOp.SET_TARGETED_EXPENDED_ENERGY
    ],
    StatusOp.TARGETED_NUMBER_OF_STEPS_CHANGED: CONTROL_PARAMS[
        ControlOp.SET_TARGETED_NUMBER_OF_STEPS
    ],
    StatusOp.TARGETED_NUMBER_OF_STRIDES_CHANGED: CONTROL_PARAMS[
        ControlOp.SET_TARGETED_NUMBER_OF_STRIDES
    ],
    StatusOp.TARGETED_DISTANCE_CHANGED: CONTROL_PARAMS[ControlOp.SET_TARGETED_DISTANCE],
    StatusOp.TARGETED_TRAINING_TIME_CHANGED: CONTROL_PARAMS[ControlOp.SET_TARGETED_TRAINING_TIME],
    StatusOp.TARGETED_TIME_IN_TWO_HR_ZONES_CHANGED: CONTROL_PARAMS[
        ControlOp.SET_TARGETED_TIME_IN_TWO_HR_ZONES
    ],
    StatusOp.TARGETED_TIME_IN_THREE_HR_ZONES_CHANGED: CONTROL_PARAMS[
        ControlOp.SET_TARGETED_TIME_IN_THREE_HR_ZONES
    ],
    StatusOp.TARGETED_TIME_IN_FIVE_HR_ZONES_CHANGED: CONTROL_PARAMS[
        ControlOp.SET_TARGETED_TIME_IN_FIVE_HR_ZONES
    ],
    StatusOp.INDOOR_BIKE_SIMULATION_PARAMETERS_CHANGED: _SIMULATION,
    StatusOp.WHEEL_CIRCUMFERENCE_CHANGED: CONTROL_PARAMS[ControlOp.SET_WHEEL_CIRCUMFERENCE],
    StatusOp.SPIN_DOWN_STATUS: (_p("spin_down_status", "B"),),
    StatusOp.TARGETED_CADENCE_CHANGED: CONTROL_PARAMS[ControlOp.SET_TARGETED_CADENCE],
    StatusOp.CONTROL_PERMISSION_LOST: (),
}


@dataclass(frozen=True, slots=True)
class MachineStatus:
    op: StatusOp
    values: tuple[float, ...] = ()

    @property
    def params(self) -> dict[str, float]:
        return {p.name: v for p, v in zip(STATUS_PARAMS[self.op], self.values, strict=True)}


def decode_status(payload: bytes | bytearray) -> MachineStatus:
    r = Reader(payload, "fitness machine status")
    code = r.read("B", "op_code")
    try:
        op = StatusOp(code)
    except ValueError:
        raise r.error(f"unknown status op code 0x{code:02X}", "op_code", 0) from None
    values = _read_params(r, STATUS_PARAMS[op])
    r.end()
    return MachineStatus(op, values)


def encode_status(status: MachineStatus) -> bytes:
    w = Writer("fitness machine status")
    w.write("B", int(status.op), "op_code")
    _write_params(w, STATUS_PARAMS[status.op], status.values)
    return w.bytes()


# --- Training Status 0x2AD3 --------------------------------------------------------------


class TrainingStatusCode(enum.IntEnum):
    OTHER = 0x00
    IDLE = 0x01
    WARMING_UP = 0x02
    LOW_INTENSITY_INTERVAL = 0x03
    HIGH_INTENSITY_INTERVAL = 0x04
    RECOVERY_INTERVAL = 0x05
    ISOMETRIC = 0x06
    HEART_RATE_CONTROL = 0x07
    FITNESS_TEST = 0x08
    SPEED_OUTSIDE_CONTROL_REGION_LOW = 0x09
    SPEED_OUTSIDE_CONTROL_REGION_HIGH = 0x0A
    COOL_DOWN = 0x0B
    WATT_CONTROL = 0x0C
    MANUAL_MODE = 0x0D
    PRE_WORKOUT = 0x0E
    POST_WORKOUT = 0x0F


@dataclass(frozen=True, slots=True)
class TrainingStatus:
    status: TrainingStatusCode
    text: str | None = None
    extended_string: bool = False


def decode_training_status(payload: bytes | bytearray) -> TrainingStatus:
    r = Reader(payload, "training status")
    flags = r.read("B", "flags")
    code = r.read("B", "training_status")
    try:
        status = TrainingStatusCode(code)
    except ValueError:
        raise r.error(f"unknown training status 0x{code:02X}", "training_status", 1) from None
    text: str | None = None
    if flags & 0x01:
        raw = r.rest()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise r.error("string is not UTF-8", "training_status_string", 2 + exc.start) from None
    r.end()
    return TrainingStatus(status, text, bool(flags & 0x02))


def encode_training_status(value: TrainingStatus) -> bytes:
    flags = (0x01 if value.text is not None else 0) | (0x02 if value.extended_string else 0)
    text = value.text.encode("utf-8") if value.text is not None else b""
    return bytes([flags, int(value.status)]) + text


__all__ = [
    "CONTROL_PARAMS",
    "DEFAULT_PROFILE",
    "RESPONSE_CODE",
    "SIZES",
    "STATUS_PARAMS",
    "ControlOp",
    "ControlPointMessage",
    "ControlRequest",
    "ControlResponse",
    "DecodeError",
    "FitnessMachineFeature",
    "FtmsProfile",
    "IndoorBikeAssembler",
    "IndoorBikeData",
    "IndoorBikeFlags",
    "MachineFeature",
    "MachineStatus",
    "Param",
    "PowerRange",
    "ResistanceRange",
    "ResultCode",
    "StatusOp",
    "TargetSettingFeature",
    "TrainingStatus",
    "TrainingStatusCode",
    "decode_control_point",
    "decode_feature",
    "decode_indoor_bike_data",
    "decode_power_range",
    "decode_resistance_range",
    "decode_status",
    "decode_training_status",
    "encode_control_request",
    "encode_control_response",
    "encode_feature",
    "encode_indoor_bike_data",
    "encode_power_range",
    "encode_resistance_range",
    "encode_status",
    "encode_training_status",
]
