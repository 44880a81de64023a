"""Fuzz targets: functions of one byte string that hold gymctl's bad-input contract.

Each target feeds its bytes to the code that meets untrusted input (a BLE notification, a
Modbus answer, an MQTT command, a config or plan file, a recorded trace) and returns
normally when the code either accepted the input or refused it with the project's own
error (``DecodeError``, ``InvalidInputError`` and its branches), carrying a place. Any
other exception, or a broken invariant (an accepted value that does not survive a second
encode/decode, a non-finite number in a delivered batch or a rep), propagates: that is a
finding. The same targets run under hypothesis in the test suite (short) and under
atheris for the long run (``python -m benchmarks.fuzz``).
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Final, TypeVar, cast

import numpy as np
import numpy.typing as npt
from pymodbus.exceptions import ModbusException
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU

from controller.config import parse_config
from controller.errors import CommandRejectedError, ConfigError
from controller.mqtt.commands import ReplayGuard, parse_command
from controller.mqtt.topics import Topics
from equipment_adapters.base import DeviceEvent
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.ble.band import BandAdapter
from equipment_adapters.ble.codecs import band, cps, csc, ftms, hrs
from equipment_adapters.ble.codecs.describe import CHARACTERISTICS, describe
from equipment_adapters.ble.cycling import PowerMeterAdapter, SpeedCadenceAdapter
from equipment_adapters.ble.ftms_bike import FtmsBikeAdapter
from equipment_adapters.ble.hr_strap import HrStrapAdapter
from equipment_adapters.errors import DecodeError, RegisterMapError
from equipment_adapters.modbus.blocks import compile_blocks
from equipment_adapters.modbus.codec import decode_raw, encode_raw
from equipment_adapters.modbus.device import MapDevice
from equipment_adapters.modbus.link import TcpEndpoint
from equipment_adapters.modbus.mapfile import load_map, parse_text
from equipment_adapters.modbus.rack import RackAdapter
from equipment_adapters.modbus.regmap import (
    DataType,
    Encoding,
    Fifo,
    RegisterMap,
    Swap,
    Table,
    Value,
)
from kernels.errors import InvalidInputError
from kernels.hrv_stream import RRProcessor
from kernels.imu_reps import ImuRepDetector
from kernels.rep_config import DetectorConfig, LiftStart
from kernels.rep_detector import RepDetector
from plans.errors import PlanValidationError
from plans.plan_io import Format, parse_plan

Run = Callable[[bytes], None]
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Target:
    """One fuzz target: ``run(data)`` returns or raises a finding."""

    name: str
    run: Run
    doc: str
    #: valid inputs the long run starts from (atheris mutates them)
    seeds: Callable[[], Sequence[bytes]] = field(default=lambda: ())
    max_len: int = 256


class ContractError(AssertionError):
    """A broken contract (raised explicitly: ``python -O`` must not turn checks off)."""


def expect(condition: object, what: object) -> None:
    if not condition:
        raise ContractError(what)


def check_error(exc: InvalidInputError, data: bytes | None = None) -> None:
    """A refusal must say what is wrong and where."""
    expect(str(exc), "an error without a message")
    expect(exc.problem, "an error without a problem")
    if isinstance(exc, DecodeError):
        expect(exc.field, "a decode error without a field")
        if data is not None:
            expect(0 <= exc.offset <= len(data), (exc.offset, len(data)))


# -- BLE codecs ---------------------------------------------------------------------------


def _decoder(decode: Callable[[bytes], Any], encode: Callable[[Any], bytes] | None = None) -> Run:
    """Decode or refuse; an accepted value encodes back to bytes that decode to it again."""

    def run(data: bytes) -> None:
        try:
            value = decode(data)
        except DecodeError as exc:
            check_error(exc, data)
            return
        if encode is not None:
            again = decode(encode(value))
            expect(again == value, (value, again))

    return run


def _bike(profile: ftms.FtmsProfile) -> Run:
    return _decoder(
        lambda p: ftms.decode_indoor_bike_data(p, profile),
        lambda v: ftms.encode_indoor_bike_data(v, profile),
    )


def _control_point(profile: ftms.FtmsProfile) -> Run:
    def run(data: bytes) -> None:
        try:
            message = ftms.decode_control_point(data, profile)
        except DecodeError as exc:
            check_error(exc, data)
            return
        if isinstance(message, ftms.ControlRequest):
            wide = message.op is ftms.ControlOp.SET_TARGET_RESISTANCE_LEVEL and len(data) == 3
            out = ftms.encode_control_request(message, ftms.FtmsProfile(cp_resistance_s16=wide))
            expect(ftms.decode_control_point(out, profile) == message, (message, out))
        elif not profile.single_byte_cp_response:
            out = ftms.encode_control_response(message, profile)
            expect(ftms.decode_control_point(out, profile) == message, (message, out))

    return run


def _describe(characteristic: str) -> Run:
    def run(data: bytes) -> None:
        try:
            described = describe(characteristic, data)
        except DecodeError as exc:
            check_error(exc, data)
            return
        json.dumps(described, allow_nan=False)

    return run


def _band_seeds() -> list[bytes]:
    rng = np.random.default_rng(1)
    rows = rng.normal(0.0, 1.0, (4, 7))
    return [
        band.encode_band_samples(
            7,
            1.0,
            0.01,
            tension_n=rows[:, 0] * 10,
            accel_ms2=rows[:, 1:4],
            gyro_rads=rows[:, 4:7] * 0.1,
        ),
        band.encode_band_cue(band.BandCue("red", 3, 500)),
        band.encode_band_info(band.BandInfo(100, 1000)),
    ]


def _ble_seeds() -> list[bytes]:
    bike = ftms.IndoorBikeData(
        instantaneous_speed_kmh=31.5,
        instantaneous_cadence_rpm=90.0,
        resistance_level=20.0,
        instantaneous_power_w=250,
        expended_energy_present=True,
        total_energy_kcal=12,
        heart_rate_bpm=140,
        elapsed_time_s=61,
    )
    return [
        ftms.encode_indoor_bike_data(bike),
        ftms.encode_feature(ftms.FitnessMachineFeature(0x5406, 0x200C)),
        ftms.encode_power_range(ftms.PowerRange(0, 2000, 1)),
        ftms.encode_control_request(ftms.ControlRequest(ftms.ControlOp.SET_TARGET_POWER, (200,))),
        ftms.encode_control_response(
            ftms.ControlResponse(ftms.ControlOp.REQUEST_CONTROL, ftms.ResultCode.SUCCESS)
        ),
        ftms.encode_status(ftms.MachineStatus(ftms.StatusOp.TARGET_POWER_CHANGED, (180.0,))),
        ftms.encode_training_status(ftms.TrainingStatus(ftms.TrainingStatusCode.IDLE, "idle")),
        hrs.encode_heart_rate(
            hrs.HeartRateMeasurement(72, hrs.SensorContact.CONTACT, 5, (800, 820, 790))
        ),
        cps.encode_cycling_power(
            cps.CyclingPowerMeasurement(
                250, cumulative_crank_revolutions=100, last_crank_event_time_s=10.0
            )
        ),
        csc.encode_csc(csc.CscMeasurement(1000, 2.0, 100, 3.0)),
        *_band_seeds(),
    ]


BLE_CODECS: Final[dict[str, Run]] = {
    "ble.indoor_bike_data": _bike(ftms.DEFAULT_PROFILE),
    "ble.indoor_bike_data_u8": _bike(ftms.FtmsProfile(resistance_form="u8")),
    "ble.indoor_bike_data_inverted": _bike(ftms.FtmsProfile(cadence_flag_inverted=True)),
    "ble.feature": _decoder(ftms.decode_feature, ftms.encode_feature),
    "ble.power_range": _decoder(ftms.decode_power_range, ftms.encode_power_range),
    "ble.resistance_range": _decoder(ftms.decode_resistance_range, ftms.encode_resistance_range),
    "ble.control_point": _control_point(ftms.DEFAULT_PROFILE),
    "ble.control_point_quirk": _control_point(ftms.FtmsProfile(single_byte_cp_response=True)),
    "ble.status": _decoder(ftms.decode_status, ftms.encode_status),
    "ble.training_status": _decoder(ftms.decode_training_status, ftms.encode_training_status),
    "ble.heart_rate": _decoder(hrs.decode_heart_rate, hrs.encode_heart_rate),
    "ble.cycling_power": _decoder(cps.decode_cycling_power, cps.encode_cycling_power),
    "ble.csc": _decoder(csc.decode_csc, csc.encode_csc),
    "ble.band_samples": _decoder(
        band.decode_band_samples,
        lambda b: band.encode_band_samples(
            b.sequence,
            b.t0_s,
            b.period_s,
            tension_n=b.tension_n,
            accel_ms2=b.accel_ms2,
            gyro_rads=b.gyro_rads,
        ),
    ),
    "ble.band_cue": _decoder(band.decode_band_cue, band.encode_band_cue),
    "ble.band_info": _decoder(band.decode_band_info, band.encode_band_info),
    **{f"ble.describe.{name}": _describe(name) for name in CHARACTERISTICS},
}


# -- BLE adapters: a stream of notifications through the adapter's own callbacks ------------


def notifications(data: bytes, *, longest: int = 64) -> list[bytes]:
    """Cut fuzz input into notifications: each is a length byte and that many bytes."""
    out: list[bytes] = []
    i = 0
    while i < len(data):
        n = data[i] % (longest + 1)
        out.append(data[i + 1 : i + 1 + n])
        i += 1 + n
    return out


class _Sink:
    """Collects what an adapter delivers and checks each batch on arrival."""

    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.events: list[DeviceEvent] = []

    def batch(self, batch: SampleBatch) -> None:
        values = batch.values
        expect(isinstance(values, np.ndarray) and values.dtype == np.float64, batch)
        # NaN is a dropout (the detectors skip it); an infinity is never a sample
        expect(not bool(np.isinf(values).any()), f"infinite samples in {batch.channel}")
        expect(math.isfinite(batch.t0) and math.isfinite(batch.period), batch)
        expect(batch.period >= 0.0, batch)
        if batch.channel is Channel.IMU:
            expect(values.ndim == 2 and values.shape[1] == 6, values.shape)
        else:
            expect(values.ndim == 1, values.shape)
        if batch.period > 0.0:
            expect(len(batch) > 0, "an empty regular batch")
        self.batches.append(batch)

    def event(self, event: DeviceEvent) -> None:
        self.events.append(event)


def _strap(data: bytes) -> None:
    sink = _Sink()
    adapter = HrStrapAdapter(device_id="fuzz-strap", on_batch=sink.batch, on_event=sink.event)
    for payload in notifications(data):
        adapter._on_measurement(None, bytearray(payload))
    rr = RRProcessor(window_s=5.0)
    for b in sink.batches:
        if b.channel is Channel.RR:
            for window in rr.feed_batch(b):
                _check_window(window.metrics)
    last = rr.finish()
    if last is not None:
        _check_window(last.metrics)


def _check_window(metrics: Any) -> None:
    for name, value in metrics._asdict().items():
        if name == "ln_rmssd" and value == -math.inf:
            continue  # documented: a perfectly flat series
        expect(math.isfinite(value), (name, value))


def _bike_adapter(data: bytes) -> None:
    sink = _Sink()
    adapter = FtmsBikeAdapter(device_id="fuzz-bike", on_batch=sink.batch, on_event=sink.event)
    handlers = (
        adapter._on_bike_data,
        adapter._on_status,
        adapter._on_training_status,
        adapter._on_control_point,
    )
    for payload in notifications(data):
        if payload:
            handlers[payload[0] % len(handlers)](None, bytearray(payload[1:]))


def _band_adapter(data: bytes) -> None:
    sink = _Sink()
    adapter = BandAdapter(device_id="fuzz-band", on_batch=sink.batch, on_event=sink.event)
    for payload in notifications(data, longest=10 + 14 * 4):
        adapter._on_samples(None, bytearray(payload))
    detector: ImuRepDetector | None = None
    for b in sink.batches:
        if b.channel is Channel.IMU:
            detector = detector or ImuRepDetector(1.0 / b.period, t0=b.t0, load_kg=20.0)
            for rep in detector.feed(b.values):
                _check_rep(rep)


def _cycling_adapters(data: bytes) -> None:
    sink = _Sink()
    power = PowerMeterAdapter(device_id="fuzz-power", on_batch=sink.batch, on_event=sink.event)
    speed = SpeedCadenceAdapter(device_id="fuzz-csc", on_batch=sink.batch, on_event=sink.event)
    for payload in notifications(data):
        if payload:
            target = power if payload[0] & 1 else speed
            target._on_measurement(None, bytearray(payload[1:]))


BLE_ADAPTERS: Final[dict[str, Run]] = {
    "adapter.hr_strap": _strap,
    "adapter.ftms_bike": _bike_adapter,
    "adapter.band": _band_adapter,
    "adapter.cycling": _cycling_adapters,
}


# -- Modbus: what a rack answers ------------------------------------------------------------


@functools.cache
def reference_map() -> RegisterMap:
    return load_map("reference-rack")


@functools.cache
def float_fifo_map() -> RegisterMap:
    """The reference map with float32 positions in its FIFO (NaN and infinities possible)."""
    path = Path(__file__).resolve().parents[2] / "equipment_adapters/modbus/maps"
    text = (path / "reference-rack.toml").read_text(encoding="utf-8")
    text = re.sub(
        r'(name = "position_(?:left|right)"\n)data_type = "int16"', r'\1data_type = "float32"', text
    )
    return parse_text(text, source="float-fifo")


class _Answers:
    """A device whose answers are fuzz bytes: two per register, zeros once they run out."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0
        self.reads = 0

    def words(self, count: int) -> list[int]:
        chunk = self.data[self.pos : self.pos + 2 * count].ljust(2 * count, b"\0")
        self.pos += 2 * count
        return [int(w) for w in np.frombuffer(chunk, dtype=">u2")]

    async def read_registers(
        self, table: Table, address: int, count: int
    ) -> list[int] | list[bool]:
        self.reads += 1
        expect(self.reads < 10_000, "a poll that never ends")
        if table.is_bits:
            return [bool(w & 1) for w in self.words(count)]
        return self.words(count)


def _drive(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine that never waits (its reads answer at once) without a loop."""
    try:
        coro.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    coro.close()
    raise ContractError("the coroutine waited for something")


class _FifoDevice(_Answers):
    """A rack's FIFO whose counter steps and sample words come from the fuzz bytes.

    Records carry their right ``seq`` unless a fuzz byte says to corrupt one, so polls get
    past the reader's check and the samples reach the adapter's batches; the counter may
    stand still, step by up to a ring, jump back or wrap, as broken devices' do.
    """

    def __init__(self, data: bytes, fifo: Fifo) -> None:
        super().__init__(data)
        self.fifo = fifo
        self.head = 0
        self.seq_at = fifo.seq_field.offset if fifo.seq_field is not None else None

    def byte(self) -> int:
        value = self.data[self.pos] if self.pos < len(self.data) else 0
        self.pos += 1
        return value

    async def read_registers(
        self, table: Table, address: int, count: int
    ) -> list[int] | list[bool]:
        self.reads += 1
        expect(self.reads < 10_000, "a poll that never ends")
        fifo = self.fifo
        if address == fifo.sequence.address:
            step = self.byte()
            if step < 200:
                self.head += step  # the usual: some new samples (or none)
            elif step < 230:
                self.head += fifo.capacity * (step - 199)  # far ahead: an overrun
            elif step < 250:
                self.head = max(0, self.head - (step - 229) * 7)  # back: a restart
            else:
                self.head = 2**32 - 1 - self.byte()  # about to wrap
            value = self.head % 2**32
            registers = [value >> 16, value & 0xFFFF]  # uint32, high word first
            return registers[-count:]
        width = fifo.record_registers
        words = self.words(count)
        first_slot = (address - fifo.address) // width
        for i in range(count // width):
            slot = first_slot + i
            newest = self.head - 1 - ((self.head - 1 - slot) % fifo.capacity)
            if self.seq_at is not None and self.byte() < 250:  # mostly right
                words[i * width + self.seq_at] = newest & 0xFFFF
        return words


def _fifo(regmap: RegisterMap) -> Run:
    """Polls of a rack's sample FIFO with fuzzed counters, records and clocks, through the
    rack adapter's own FIFO handling (its batches checked like the BLE adapters')."""

    def run(data: bytes) -> None:
        if len(data) < 2:
            return
        sink = _Sink()
        rack = RackAdapter(
            device_id="fuzz-rack",
            regmap=regmap,
            endpoint=TcpEndpoint("127.0.0.1", 1),
            on_batch=sink.batch,
            on_event=sink.event,
        )
        fifo = rack._fifo.fifo
        device = _FifoDevice(data[1:], fifo)
        for _ in range(1 + data[0] % 8):
            try:
                _drive(rack._poll_fifo(cast(MapDevice, device)))
            except DecodeError as exc:
                check_error(exc)
        delivered = sum(len(b) for b in sink.batches)
        expect(delivered == rack.stats.samples * len(rack.profile.channels), delivered)

    return run


def _blocks(data: bytes) -> None:
    """Every poll block of the rack's map decoded from fuzzed registers, and the status the
    adapter makes of it (e-stop and fault bits, fault codes)."""
    regmap = reference_map()
    sink = _Sink()
    rack = RackAdapter(
        device_id="fuzz-rack",
        regmap=regmap,
        endpoint=TcpEndpoint("127.0.0.1", 1),
        on_batch=sink.batch,
        on_event=sink.event,
    )
    answers = _Answers(data)
    values: dict[str, Value] = {}
    for block in compile_blocks(regmap.points.values(), max_registers=regmap.max_block_registers):
        try:
            values.update(block.decode(answers.words(block.count)))
        except DecodeError as exc:
            check_error(exc)
    rack._handle_status(values)


def _raw(data: bytes) -> None:
    """One value of each type and word order from fuzzed registers; integers re-encode."""
    if not data:
        return
    data_type = list(DataType)[data[0] % len(DataType)]
    swap = list(Swap)[(data[0] // len(DataType)) % len(Swap)]
    count = {DataType.STRING: 1 + data[0] % 8}.get(data_type, data_type.registers or 1)
    encoding = Encoding(data_type=data_type, count=count, swap=swap)
    registers = _Answers(data[1:]).words(count)
    try:
        raw = decode_raw(registers, encoding)
    except DecodeError as exc:
        check_error(exc)
        return
    if isinstance(raw, int):
        expect(encode_raw(raw, encoding) == registers, (raw, registers))


def _map_file(data: bytes) -> None:
    syntax = "yaml" if data[:1] == b"#" else "toml"
    try:
        parse_text(_text(data), source="fuzz", syntax=syntax)
    except RegisterMapError as exc:
        check_error(exc)


def _map_seeds() -> list[bytes]:
    path = Path(__file__).resolve().parents[2] / "equipment_adapters/modbus/maps"
    return [p.read_bytes() for p in sorted(path.glob("*.toml"))]


def _frame(data: bytes) -> None:
    """A device's raw bytes through pymodbus's client-side framers (TCP and RTU): a PDU,
    nothing, or pymodbus's own ``ModbusException`` (which the link maps to a DeviceError);
    anything else would escape the library's transport."""
    for framer in (FramerSocket(DecodePDU(False)), FramerRTU(DecodePDU(False))):
        try:
            used, pdu = framer.handleFrame(data, 0, 0)
        except ModbusException:
            continue
        expect(0 <= used <= len(data), (used, len(data)))
        if pdu is not None:
            registers = getattr(pdu, "registers", None)
            expect(registers is None or all(0 <= r <= 0xFFFF for r in registers), pdu)


MODBUS: Final[dict[str, tuple[Run, Callable[[], Sequence[bytes]], int]]] = {
    "modbus.fifo": (_fifo(reference_map()), lambda: (), 2048),
    "modbus.fifo_float32": (_fifo(float_fifo_map()), lambda: (), 2048),
    "modbus.blocks": (_blocks, lambda: (), 512),
    "modbus.raw": (_raw, lambda: (), 32),
    "modbus.map_file": (_map_file, _map_seeds, 16384),
    "modbus.frame": (_frame, lambda: (), 300),
}


# -- kernels: lift traces and RR series with impossible values -----------------------------

#: special values a fuzzed number may take: NaN, infinities, zeros, extremes, denormals
SPECIALS: Final = (
    math.nan,
    math.inf,
    -math.inf,
    0.0,
    -0.0,
    1e308,
    -1e308,
    5e-324,
    -1.0,
    1e-9,
)


def floats(data: bytes, scale: float = 1.0, offset: float = 0.0) -> npt.NDArray[np.float64]:
    """Two bytes per number: a special value (NaN, inf, ...) or ``offset + scale * u``
    with ``u`` in [-2, 2)."""
    n = len(data) // 2
    raw = np.frombuffer(data[: 2 * n], dtype=np.uint8).reshape(n, 2).astype(np.int64)
    out = offset + scale * ((raw[:, 0] - 128) / 64.0 + raw[:, 1] / 16384.0)
    special = raw[:, 0] < len(SPECIALS)
    out[special] = np.asarray(SPECIALS)[raw[special, 0]]
    return out


def _check_rep(rep: Any) -> None:
    for f in fields(rep):
        value = getattr(rep, f.name)
        if value is not None:
            expect(math.isfinite(value), (f.name, value))
    expect(rep.concentric_s >= 0.0 and rep.rom_m > 0.0, rep)


def _rep_detector(data: bytes) -> None:
    if len(data) < 4:
        return
    mode, rate, cut = data[0], data[1], data[2]
    detector = RepDetector(
        DetectorConfig(50.0 + 10.0 * rate, start=(LiftStart.AUTO, LiftStart.TOP)[mode & 1]),
        load_kg=None if mode & 2 else 80.0,
    )
    body = data[3:]
    values = floats(body, scale=0.3, offset=0.5)
    period = 1.0 / (50.0 + 10.0 * rate)
    reps: list[Any] = []
    try:
        if mode & 4:  # timed samples: timestamps from steps that may repeat or go back
            steps = floats(body[::-1], scale=period, offset=period)[: values.size]
            t = np.cumsum(steps) if steps.size else steps
            reps += detector.feed_timed(t, values[: t.size])
        else:
            k = cut % (values.size + 1)
            t0 = float(floats(bytes([cut, mode]))[0]) if mode & 8 else 0.0
            reps += detector.feed(values[:k], t0, period)
            reps += detector.feed(values[k:], t0 + k * period, period)
    except InvalidInputError as exc:
        check_error(exc)
    reps += detector.finish()
    for rep in reps:
        _check_rep(rep)


def _rr_processor(data: bytes) -> None:
    rr = RRProcessor(window_s=10.0)
    values = floats(data, scale=400.0, offset=800.0)
    for chunk in np.array_split(values, 3):
        for window in rr.feed(chunk):
            _check_window(window.metrics)
            expect(window.end_s >= window.start_s, window)
    last = rr.finish()
    if last is not None:
        _check_window(last.metrics)


def _imu_reps(data: bytes) -> None:
    values = floats(data, scale=5.0)
    n = values.size // 6
    detector = ImuRepDetector(100.0, load_kg=40.0)
    try:
        for rep in detector.feed(values[: 6 * n].reshape(n, 6)):
            _check_rep(rep)
    except InvalidInputError as exc:
        check_error(exc)


KERNELS: Final[dict[str, Run]] = {
    "kernel.rep_detector": _rep_detector,
    "kernel.rr_processor": _rr_processor,
    "kernel.imu_reps": _imu_reps,
}


# -- text input: MQTT commands, site configs, plans ----------------------------------------


def _text(data: bytes) -> str:
    return data.decode("utf-8", errors="replace")


def _mqtt_command(data: bytes) -> None:
    topics = Topics("gymctl", "site")
    verbs = ("estop", "release", "load", "confirm", "cue", "zap")
    if not data:
        return
    station = ("rack-1", "Rack 1", "rack-1/cmd")[data[0] % 3]
    topic = topics.command(station, verbs[(data[0] >> 2) % len(verbs)])
    guard = ReplayGuard()
    for payload in (data[1:], data[1:]):  # the second is a replay when the first passed
        try:
            command = parse_command(
                topic,
                payload,
                topics=topics,
                now=1_700_000_000.0,
                max_age_s=60.0,
                retained=bool(data[0] & 0x80),
                stations={"rack-1"},
            )
            guard.check(command, now=1_700_000_000.0, where=topic)
        except CommandRejectedError as exc:
            check_error(exc)


def _command_seeds() -> list[bytes]:
    return [
        b"\x08" + json.dumps({"by": "app", "seq": 1, "value": 50.5}).encode(),
        b"\x10" + json.dumps({"by": "app", "seq": 2, "text": "hi", "colour": "red"}).encode(),
        b"\x00" + json.dumps({"by": "desk", "expires": 1_700_000_030.0, "id": "abcdefgh"}).encode(),
    ]


def _site_config(data: bytes) -> None:
    try:
        parse_config(_text(data), source="fuzz.toml")
    except ConfigError as exc:
        check_error(exc)


def _config_seeds() -> list[bytes]:
    example = Path(__file__).resolve().parents[2] / "examples" / "site.toml"
    return [example.read_bytes()] if example.is_file() else []


def _plan(data: bytes) -> None:
    fmt = Format.JSON if data[:1] == b"{" else Format.YAML
    try:
        parse_plan(_text(data), fmt, source="fuzz")
    except PlanValidationError as exc:
        check_error(exc)
        expect(exc.problems, "a plan error without problems")


def _plan_seeds() -> list[bytes]:
    library = Path(__file__).resolve().parents[2] / "plans" / "library" / "programmes"
    return [p.read_bytes() for p in sorted(library.glob("*.yaml"))]


TEXT: Final[dict[str, tuple[Run, Callable[[], Sequence[bytes]], int]]] = {
    "mqtt.command": (_mqtt_command, _command_seeds, 4200),
    "config.site": (_site_config, _config_seeds, 8192),
    "plan.file": (_plan, _plan_seeds, 8192),
}


def all_targets() -> dict[str, Target]:
    """Every target by name."""
    out: dict[str, Target] = {}
    for name, run in BLE_CODECS.items():
        out[name] = Target(name, run, "decode (and re-encode) one payload", _ble_seeds, 64)
    for name, run in BLE_ADAPTERS.items():
        out[name] = Target(name, run, "a stream of notifications through the adapter", max_len=512)
    for name, run in KERNELS.items():
        out[name] = Target(name, run, "a stream of samples with impossible values", max_len=2048)
    for name, (run, seeds, max_len) in TEXT.items():
        out[name] = Target(name, run, "a message or file", seeds, max_len)
    for name, (run, seeds, max_len) in MODBUS.items():
        out[name] = Target(
            name, run, "what a Modbus device answers (or a register map)", seeds, max_len
        )
    return out
