"""An FTMS indoor bike on bumble, strict to the specification, with quirk switches.

The bike computes power from the rider's cadence and its resistance; in ERG mode its brake
holds the target power whatever the cadence (within what the flywheel can absorb). The rider
(:class:`~equipment_adapters.emulators.rider.RiderModel`) answers power with heart rate,
which the bike reports in Indoor Bike Data and a strap on the same rider reports too.

Control point rules enforced, as the FTMS specification sets them: a write while the
client has not enabled indications gets ATT error 0xFD; a write while a procedure is in
progress (its response not yet confirmed) gets ATT error 0xFE; any procedure but Request
Control before control is granted answers "control not permitted"; control ends at
disconnect and at Reset. Losing the controlling client puts the bike in its safe state
(ERG off, resistance 0): no "continue last command" on communication loss.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass, field
from typing import Literal

from bumble import att, core, hci
from bumble.device import Connection
from bumble.gatt import Characteristic, CharacteristicValue, Service

from equipment_adapters.ble.bumble_backend import VirtualAir
from equipment_adapters.ble.codecs import ftms
from equipment_adapters.emulators._peripheral import BlePeripheral, not_readable, uuid16
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from equipment_adapters.emulators.rider import RiderModel
from equipment_adapters.errors import DecodeError

INDICATE = 0x02
SUPPORTED_OPS = frozenset(
    {
        ftms.ControlOp.REQUEST_CONTROL,
        ftms.ControlOp.RESET,
        ftms.ControlOp.SET_TARGET_RESISTANCE_LEVEL,
        ftms.ControlOp.SET_TARGET_POWER,
        ftms.ControlOp.START_OR_RESUME,
        ftms.ControlOp.STOP_OR_PAUSE,
        ftms.ControlOp.SET_INDOOR_BIKE_SIMULATION,
    }
)


@dataclass(frozen=True, slots=True)
class BikeQuirks:
    """Behaviours of real bikes the adapters must survive (all off: the spec's bike)."""

    single_byte_cp_response: bool = False  #: answers every procedure with the byte 0x80
    rejects_u8_resistance: bool = False  #: u8 resistance -> invalid parameter, s16 accepted
    resistance_form: Literal["s16", "u8"] = "s16"  #: Indoor Bike Data resistance field
    cadence_flag_inverted: bool = False  #: cadence present when flag bit 2 is clear
    split_records: bool = False  #: every record sent in two parts with More Data
    require_encryption: bool = False  #: control point writes need an encrypted link


NO_QUIRKS = BikeQuirks()
DEFAULT_POWER_RANGE = ftms.PowerRange(0, 1500, 1)
DEFAULT_RESISTANCE_RANGE = ftms.ResistanceRange(0.0, 25.0, 0.1)


@dataclass(slots=True)
class BikeState:
    started: bool = False
    mode: str = "resistance"  #: "resistance", "erg" or "simulation"
    resistance_level: float = 0.0
    target_power_w: float = 0.0
    grade_pct: float = 0.0
    crr: float = 0.004
    cw_kg_per_m: float = 0.51
    wind_speed_ms: float = 0.0
    power_w: float = 0.0
    elapsed_s: float = 0.0
    requests: list[ftms.ControlRequest] = field(default_factory=list)  #: decoded, in order
    payloads: list[bytes] = field(default_factory=list)  #: every control point write, raw


class BikeEmulator(BlePeripheral):
    """An indoor bike with FTMS; scriptable through :attr:`state`, :meth:`revoke_control`
    and the rider model it carries."""

    def __init__(
        self,
        air: VirtualAir,
        *,
        name: str = "gymctl Bike",
        rider: RiderModel | None = None,
        power_range: ftms.PowerRange = DEFAULT_POWER_RANGE,
        resistance_range: ftms.ResistanceRange = DEFAULT_RESISTANCE_RANGE,
        quirks: BikeQuirks = NO_QUIRKS,
        tick_s: float = 1.0,
        time_scale: float = 1.0,
        erg_tau_s: float = 2.0,
        response_delay_s: float = 0.0,
    ) -> None:
        super().__init__(air, name=name, tick_s=tick_s, time_scale=time_scale)
        self.rider = rider or RiderModel(DEMO_ATHLETES[3])
        self.power_range = power_range
        self.resistance_range = resistance_range
        self.quirks = quirks
        self.erg_tau_s = erg_tau_s
        self.response_delay_s = response_delay_s  #: how long a procedure takes to answer
        self.state = BikeState()
        self.controller: Connection | None = None
        self._busy = False
        self._profile = ftms.FtmsProfile(
            resistance_form=quirks.resistance_form,
            cadence_flag_inverted=quirks.cadence_flag_inverted,
            single_byte_cp_response=quirks.single_byte_cp_response,
        )

    # -- GATT --

    def services(self) -> list[Service]:
        machine = (
            ftms.MachineFeature.CADENCE
            | ftms.MachineFeature.RESISTANCE_LEVEL
            | ftms.MachineFeature.POWER_MEASUREMENT
            | ftms.MachineFeature.HEART_RATE_MEASUREMENT
            | ftms.MachineFeature.ELAPSED_TIME
        )
        target = (
            ftms.TargetSettingFeature.RESISTANCE_TARGET
            | ftms.TargetSettingFeature.POWER_TARGET
            | ftms.TargetSettingFeature.INDOOR_BIKE_SIMULATION
        )
        read = Characteristic.Properties.READ
        notify = Characteristic.Properties.NOTIFY
        readable = Characteristic.Permissions.READABLE
        self.feature_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2ACC),
            read,
            readable,
            ftms.encode_feature(ftms.FitnessMachineFeature(int(machine), int(target))),
        )
        self.bike_data_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2AD2), notify, readable, b""
        )
        self.training_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2AD3),
            read | notify,
            readable,
            CharacteristicValue(read=lambda _c: ftms.encode_training_status(self.training_status)),
        )
        self.resistance_range_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2AD6), read, readable, ftms.encode_resistance_range(self.resistance_range)
        )
        self.power_range_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2AD8), read, readable, ftms.encode_power_range(self.power_range)
        )
        write_permissions = Characteristic.Permissions.WRITEABLE
        if self.quirks.require_encryption:
            write_permissions |= Characteristic.Permissions.WRITE_REQUIRES_ENCRYPTION
        self.control_point_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2AD9),
            Characteristic.Properties.WRITE | Characteristic.Properties.INDICATE,
            write_permissions,
            CharacteristicValue(read=not_readable, write=self._on_control_point_write),
        )
        self.status_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2ADA), notify, readable, b""
        )
        return [
            Service(
                uuid16(0x1826),
                [
                    self.feature_char,
                    self.bike_data_char,
                    self.training_char,
                    self.resistance_range_char,
                    self.power_range_char,
                    self.control_point_char,
                    self.status_char,
                ],
            )
        ]

    def advertised_uuids(self) -> list[core.UUID]:
        return [uuid16(0x1826)]

    def service_data(self) -> list[tuple[core.UUID, bytes]]:
        # FTMS advertising service data: flags (bit 0 machine available), machine type
        # u16 (bit 5 indoor bike).
        return [(uuid16(0x1826), bytes([0x01]) + (1 << 5).to_bytes(2, "little"))]

    @property
    def training_status(self) -> ftms.TrainingStatus:
        if not self.state.started:
            return ftms.TrainingStatus(ftms.TrainingStatusCode.IDLE)
        if self.state.mode == "erg":
            return ftms.TrainingStatus(ftms.TrainingStatusCode.WATT_CONTROL)
        return ftms.TrainingStatus(ftms.TrainingStatusCode.MANUAL_MODE)

    # -- the model --

    def _free_power(self, level: float, cadence: float) -> float:
        """Power at a fixed brake level: torque grows with level, power with cadence^1.5."""
        return float((0.6 + 0.1 * level) * cadence**1.5 / math.sqrt(85.0))

    def _simulation_power(self, speed_kmh: float) -> float:
        v = speed_kmh / 3.6
        mass = self.rider.athlete.body_mass_kg + 9.0
        resist = mass * 9.81 * (self.state.grade_pct / 100 + self.state.crr)
        air = 0.5 * self.state.cw_kg_per_m * (v + self.state.wind_speed_ms) ** 2
        return max(0.0, (resist + air) * v)

    async def step(self, dt_s: float) -> None:
        s = self.state
        cadence = max(self.rider.cadence_rpm, 0.0)
        speed = cadence * 0.36
        if s.mode == "erg" and s.started and cadence > 20:
            target = s.target_power_w
        elif s.mode == "simulation" and s.started:
            target = self._simulation_power(speed)
        else:
            target = self._free_power(s.resistance_level, cadence)
        s.power_w += (target - s.power_w) * (1.0 - math.exp(-dt_s / self.erg_tau_s))
        self.rider.step(dt_s, s.power_w)
        if s.started:
            s.elapsed_s += dt_s
        record = ftms.IndoorBikeData(
            instantaneous_speed_kmh=round(speed, 2),
            instantaneous_cadence_rpm=round(cadence * 2) / 2,
            resistance_level=float(round(s.resistance_level)),
            instantaneous_power_w=round(s.power_w),
            heart_rate_bpm=round(self.rider.heart_rate_bpm),
            elapsed_time_s=min(int(s.elapsed_s), 0xFFFF),
        )
        if self.quirks.split_records:
            first = ftms.IndoorBikeData(
                more_data=True,
                instantaneous_power_w=record.instantaneous_power_w,
                heart_rate_bpm=record.heart_rate_bpm,
                elapsed_time_s=record.elapsed_time_s,
            )
            second = ftms.IndoorBikeData(
                instantaneous_speed_kmh=record.instantaneous_speed_kmh,
                instantaneous_cadence_rpm=record.instantaneous_cadence_rpm,
                resistance_level=record.resistance_level,
            )
            await self.notify(
                self.bike_data_char, ftms.encode_indoor_bike_data(first, self._profile)
            )
            await self.notify(
                self.bike_data_char, ftms.encode_indoor_bike_data(second, self._profile)
            )
        else:
            await self.notify(
                self.bike_data_char, ftms.encode_indoor_bike_data(record, self._profile)
            )

    # -- the control point --

    def _on_control_point_write(self, connection: Connection, value: bytes) -> None:
        if not self.subscribed(connection, self.control_point_char, INDICATE):
            raise att.ATT_Error(att.ErrorCode.CCCD_IMPROPERLY_CONFIGURED)
        if self._busy and not self._confirmed(connection):
            raise att.ATT_Error(att.ErrorCode.PROCEDURE_ALREADY_IN_PROGRESS)
        self._busy = True
        response, statuses = self._execute(connection, bytes(value))
        self.spawn(self._respond(connection, response, statuses), "control-point")

    async def _respond(
        self, connection: Connection, response: bytes, statuses: list[bytes]
    ) -> None:
        try:
            await asyncio.sleep(self.response_delay_s)  # the write response goes out first
            with contextlib.suppress(core.BaseBumbleError, hci.HCI_Error, TimeoutError):
                async with asyncio.timeout(5.0):
                    await self.device.indicate_subscriber(
                        connection, self.control_point_char, response
                    )
        finally:
            self._busy = False
        for status in statuses:
            await self.notify(self.status_char, status)

    def _confirmed(self, connection: Connection) -> bool:
        """The response indication of the procedure in flight was confirmed (the client
        may write the next procedure before our indication task has resumed)."""
        pending = self.device.gatt_server.pending_confirmations.get(connection)
        return pending is not None and pending.done()

    def _answer(self, op: int, result: ftms.ResultCode) -> bytes:
        if self.quirks.single_byte_cp_response:
            return bytes([ftms.RESPONSE_CODE])
        return bytes([ftms.RESPONSE_CODE, op, int(result)])

    def _execute(self, connection: Connection, value: bytes) -> tuple[bytes, list[bytes]]:
        op_raw = value[0] if value else 0xFF
        self.state.payloads.append(value)
        try:
            message = ftms.decode_control_point(value)
        except DecodeError:
            known = op_raw in ftms.ControlOp._value2member_map_
            code = (
                ftms.ResultCode.INVALID_PARAMETER
                if known
                else ftms.ResultCode.OP_CODE_NOT_SUPPORTED
            )
            return self._answer(op_raw, code), []
        if not isinstance(message, ftms.ControlRequest) or message.op not in SUPPORTED_OPS:
            return self._answer(op_raw, ftms.ResultCode.OP_CODE_NOT_SUPPORTED), []
        self.state.requests.append(message)
        op = message.op
        if op is ftms.ControlOp.REQUEST_CONTROL:
            if self.controller is not None and self.controller is not connection:
                return self._answer(op, ftms.ResultCode.CONTROL_NOT_PERMITTED), []
            self.controller = connection
            return self._answer(op, ftms.ResultCode.SUCCESS), []
        if self.controller is not connection:
            return self._answer(op, ftms.ResultCode.CONTROL_NOT_PERMITTED), []
        s = self.state
        status: list[bytes] = []
        if op is ftms.ControlOp.RESET:
            self._safe_state()
            self.controller = None
            status.append(ftms.encode_status(ftms.MachineStatus(ftms.StatusOp.RESET)))
        elif op is ftms.ControlOp.SET_TARGET_POWER:
            watts = message.values[0]
            if not self.power_range.minimum_w <= watts <= self.power_range.maximum_w:
                return self._answer(op, ftms.ResultCode.INVALID_PARAMETER), []
            s.mode, s.target_power_w = "erg", watts
            status.append(
                ftms.encode_status(ftms.MachineStatus(ftms.StatusOp.TARGET_POWER_CHANGED, (watts,)))
            )
        elif op is ftms.ControlOp.SET_TARGET_RESISTANCE_LEVEL:
            if self.quirks.rejects_u8_resistance and len(value) == 2:
                return self._answer(op, ftms.ResultCode.INVALID_PARAMETER), []
            level = message.values[0]
            if not self.resistance_range.minimum <= level <= self.resistance_range.maximum:
                return self._answer(op, ftms.ResultCode.INVALID_PARAMETER), []
            s.mode, s.resistance_level = "resistance", level
            status.append(
                ftms.encode_status(
                    ftms.MachineStatus(ftms.StatusOp.TARGET_RESISTANCE_LEVEL_CHANGED, (level,))
                )
            )
        elif op is ftms.ControlOp.SET_INDOOR_BIKE_SIMULATION:
            s.wind_speed_ms, s.grade_pct, s.crr, s.cw_kg_per_m = message.values
            s.mode = "simulation"
            status.append(
                ftms.encode_status(
                    ftms.MachineStatus(
                        ftms.StatusOp.INDOOR_BIKE_SIMULATION_PARAMETERS_CHANGED, message.values
                    )
                )
            )
        elif op is ftms.ControlOp.START_OR_RESUME:
            s.started = True
            status.append(
                ftms.encode_status(ftms.MachineStatus(ftms.StatusOp.STARTED_OR_RESUMED_BY_USER))
            )
        elif op is ftms.ControlOp.STOP_OR_PAUSE:
            kind = message.values[0]
            if kind not in (1.0, 2.0):
                return self._answer(op, ftms.ResultCode.INVALID_PARAMETER), []
            s.started = False
            if kind == 1.0:
                self._safe_state()
            status.append(
                ftms.encode_status(
                    ftms.MachineStatus(ftms.StatusOp.STOPPED_OR_PAUSED_BY_USER, (kind,))
                )
            )
        return self._answer(op, ftms.ResultCode.SUCCESS), status

    def _safe_state(self) -> None:
        s = self.state
        s.started = False
        s.mode = "resistance"
        s.resistance_level = 0.0
        s.target_power_w = 0.0

    def on_disconnection(self, connection: Connection, reason: int) -> None:
        if connection is self.controller:
            self.controller = None
            self._safe_state()
        self._busy = False

    async def revoke_control(self) -> None:
        """The bike takes control back (a user pressed a button): Status 0xFF."""
        self.controller = None
        await self.notify(
            self.status_char,
            ftms.encode_status(ftms.MachineStatus(ftms.StatusOp.CONTROL_PERMISSION_LOST)),
        )
