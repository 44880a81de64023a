"""The FTMS bike adapter: an indoor bike (smart trainer) driven in ERG, resistance or
simulation mode over the Fitness Machine Service.

On every connection it reads the features and supported ranges, enables Indoor Bike Data
and Status notifications and Control Point indications, requests control and starts; it
pairs when the device answers with "insufficient encryption/authentication". One control
procedure is in flight at a time, each waits for its indicated response with a timeout.
Control is requested again after every reconnection and after Status "control permission
lost", and the last ERG target is restored.

``apply(SetLoad(W))`` sets the ERG target power, quantised to the device's increment and
clamped to its supported power range; ``capabilities.load`` is that range in watts.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bleak import BleakClient

from equipment_adapters.base import (
    Capabilities,
    Command,
    ControlLost,
    DeviceFault,
    EnterSafeState,
    EquipmentKind,
    EstopButton,
    LoadRange,
    LoadUnit,
    ResetFault,
    SetLoad,
)
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.ble import uuids
from equipment_adapters.ble._errors import ble_errors
from equipment_adapters.ble._session import (
    DEFAULT_LINK_OPTIONS,
    BleAdapter,
    DeviceMatch,
    LinkOptions,
)
from equipment_adapters.ble.bumble_backend import PLATFORM_BACKEND, BleBackend
from equipment_adapters.ble.codecs import ftms
from equipment_adapters.errors import (
    AttError,
    ControlPointError,
    DecodeError,
    DeviceTimeoutError,
    ProtocolError,
    UnsupportedCommandError,
)

#: ATT errors with which a device asks the client to pair first
PAIRING_REQUIRED = frozenset({0x05, 0x0F})
BIKE_CHANNELS = frozenset(
    {Channel.POWER, Channel.CADENCE, Channel.SPEED, Channel.RESISTANCE, Channel.HEART_RATE}
)
_FIELDS = (
    ("instantaneous_power_w", Channel.POWER),
    ("instantaneous_cadence_rpm", Channel.CADENCE),
    ("instantaneous_speed_kmh", Channel.SPEED),
    ("resistance_level", Channel.RESISTANCE),
    ("heart_rate_bpm", Channel.HEART_RATE),
)


def quantise(value: float, minimum: float, maximum: float, increment: float) -> float:
    """The nearest value the device accepts: on the increment grid from ``minimum``,
    within ``[minimum, maximum]``."""
    clamped = min(max(value, minimum), maximum)
    if increment <= 0:
        return clamped
    steps = round((clamped - minimum) / increment)
    result = minimum + steps * increment
    if result > maximum:
        result -= increment
    return round(result, 6)


#: what the adapter looks for unless told otherwise
MATCH = DeviceMatch(service_uuid=uuids.FTMS_SERVICE)


class FtmsBikeAdapter(BleAdapter):
    def __init__(
        self,
        *,
        device_id: str,
        on_batch: Callable[[SampleBatch], None],
        on_event: Callable[[Any], None] | None = None,
        match: DeviceMatch = MATCH,
        backend: BleBackend = PLATFORM_BACKEND,
        options: LinkOptions = DEFAULT_LINK_OPTIONS,
        profile: ftms.FtmsProfile = ftms.DEFAULT_PROFILE,
        control_timeout_s: float = 3.0,
        max_increase_w_per_s: float = 50.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(
            device_id=device_id,
            match=match,
            on_batch=on_batch,
            on_event=on_event,
            backend=backend,
            options=options,
            seed=seed,
        )
        self.profile = profile
        self.control_timeout_s = control_timeout_s
        self.max_increase_w_per_s = max_increase_w_per_s
        self.feature: ftms.FitnessMachineFeature | None = None
        self.power_range: ftms.PowerRange | None = None
        self.resistance_range: ftms.ResistanceRange | None = None
        self.has_control = False
        self.target_power_w: float | None = None  #: the ERG target to hold (and restore)
        self.last_status: ftms.MachineStatus | None = None
        self.training_status: ftms.TrainingStatus | None = None
        self.control_requests = 0  #: Request Control procedures that succeeded
        self._cp_lock = asyncio.Lock()
        self._pending: asyncio.Future[ftms.ControlResponse] | None = None
        self._assembler = ftms.IndoorBikeAssembler()
        self._paired = False
        self._resistance_s16 = profile.cp_resistance_s16

    @property
    def capabilities(self) -> Capabilities:
        load = None
        if self.power_range is not None:
            r = self.power_range
            load = LoadRange(
                LoadUnit.WATT,
                float(max(r.minimum_w, 0)),
                float(r.maximum_w),
                float(max(r.increment_w, 1)),
                self.max_increase_w_per_s,
            )
        details = {"address": self.match.address or ""}
        if self.resistance_range is not None:
            rr = self.resistance_range
            details["resistance_range"] = f"{rr.minimum}..{rr.maximum} step {rr.increment}"
        return Capabilities(
            EquipmentKind.BIKE,
            self.advertised_name or "FTMS bike",
            BIKE_CHANNELS,
            load=load,
            details=details,
        )

    # -- connection setup --

    async def _setup(self, client: BleakClient) -> None:
        self.has_control = False
        self._assembler = ftms.IndoorBikeAssembler()
        self.feature = ftms.decode_feature(
            await client.read_gatt_char(uuids.FITNESS_MACHINE_FEATURE)
        )
        target = self.feature.target
        if ftms.TargetSettingFeature.POWER_TARGET in target:
            self.power_range = ftms.decode_power_range(
                await client.read_gatt_char(uuids.SUPPORTED_POWER_RANGE)
            )
        if ftms.TargetSettingFeature.RESISTANCE_TARGET in target:
            self.resistance_range = ftms.decode_resistance_range(
                await client.read_gatt_char(uuids.SUPPORTED_RESISTANCE_LEVEL_RANGE)
            )
        await client.start_notify(uuids.INDOOR_BIKE_DATA, self._on_bike_data)
        await client.start_notify(uuids.FITNESS_MACHINE_STATUS, self._on_status)
        if client.services.get_characteristic(uuids.TRAINING_STATUS) is not None:
            await client.start_notify(uuids.TRAINING_STATUS, self._on_training_status)
        await client.start_notify(uuids.FTMS_CONTROL_POINT, self._on_control_point)
        if self.options.pair:
            await self._pair(client)
        await self._take_control(client)

    async def _take_control(self, client: BleakClient) -> None:
        """Request control, start, and restore the ERG target after a reconnection."""
        await self._procedure(client, ftms.ControlRequest(ftms.ControlOp.REQUEST_CONTROL))
        self.has_control = True
        self.control_requests += 1
        await self._procedure(client, ftms.ControlRequest(ftms.ControlOp.START_OR_RESUME))
        if self.target_power_w is not None:
            await self._procedure(
                client, ftms.ControlRequest(ftms.ControlOp.SET_TARGET_POWER, (self.target_power_w,))
            )

    async def _teardown(self) -> None:
        self.has_control = False
        if self._pending is not None and not self._pending.done():
            self._pending.cancel()

    async def _close(self, client: BleakClient) -> None:
        if self.has_control:
            await self._procedure(client, ftms.ControlRequest(ftms.ControlOp.STOP_OR_PAUSE, (1.0,)))

    async def _pair(self, client: BleakClient) -> None:
        with ble_errors(self.device_id, "pair"):
            await client.pair()
        self._paired = True

    # -- control point --

    async def _write_control_point(self, client: BleakClient, payload: bytes) -> None:
        try:
            with ble_errors(self.device_id, "write control point"):
                await client.write_gatt_char(uuids.FTMS_CONTROL_POINT, payload, response=True)
        except AttError as exc:
            if exc.code not in PAIRING_REQUIRED or self._paired:
                raise
            await self._pair(client)  # the device asks for an encrypted link: pair, retry
            with ble_errors(self.device_id, "write control point"):
                await client.write_gatt_char(uuids.FTMS_CONTROL_POINT, payload, response=True)

    async def _procedure(
        self, client: BleakClient, request: ftms.ControlRequest, *, retry_control: bool = True
    ) -> ftms.ControlResponse:
        """Run one control procedure: write, then wait for its indicated response."""
        async with self._cp_lock:
            pending: asyncio.Future[ftms.ControlResponse] = (
                asyncio.get_running_loop().create_future()
            )
            self._pending = pending
            try:
                await self._write_control_point(
                    client, ftms.encode_control_request(request, self._request_profile())
                )
                async with asyncio.timeout(self.control_timeout_s):
                    response = await pending
            except TimeoutError:
                raise DeviceTimeoutError(
                    f"no control point response to {request.op.name.lower()} within "
                    f"{self.control_timeout_s} s",
                    device_id=self.device_id,
                ) from None
            finally:
                self._pending = None
        if response.request_op is not None and response.request_op is not request.op:
            raise ProtocolError(
                f"control point answered {response.request_op.name.lower()} to "
                f"{request.op.name.lower()}",
                code=int(response.request_op),
                device_id=self.device_id,
            )
        if response.result is ftms.ResultCode.SUCCESS:
            return response
        if (
            response.result is ftms.ResultCode.CONTROL_NOT_PERMITTED
            and retry_control
            and request.op is not ftms.ControlOp.REQUEST_CONTROL
        ):
            # the device dropped our control silently: take it back once and retry
            await self._procedure(
                client, ftms.ControlRequest(ftms.ControlOp.REQUEST_CONTROL), retry_control=False
            )
            self.has_control = True
            self.control_requests += 1
            return await self._procedure(client, request, retry_control=False)
        raise ControlPointError(
            f"{request.op.name.lower()}: {response.result.name.lower()}",
            code=int(response.result),
            device_id=self.device_id,
        )

    def _request_profile(self) -> ftms.FtmsProfile:
        if self._resistance_s16 == self.profile.cp_resistance_s16:
            return self.profile
        return ftms.FtmsProfile(
            self.profile.resistance_form,
            self.profile.cadence_flag_inverted,
            self.profile.single_byte_cp_response,
            self._resistance_s16,
        )

    def _on_control_point(self, _char: Any, data: bytearray) -> None:
        self._received()
        pending = self._pending
        try:
            message = ftms.decode_control_point(bytes(data), self.profile)
        except DecodeError as exc:
            if pending is not None and not pending.done():
                pending.set_exception(
                    ProtocolError(
                        f"malformed control point response: {exc}", code=0, device_id=self.device_id
                    )
                )
            else:
                self._decode_failed("control point response", exc)
            return
        if isinstance(message, ftms.ControlResponse) and pending is not None and not pending.done():
            pending.set_result(message)

    # -- notifications --

    def _on_bike_data(self, _char: Any, data: bytearray) -> None:
        self._received()
        try:
            part = ftms.decode_indoor_bike_data(bytes(data), self.profile)
        except DecodeError as exc:
            self._decode_failed("indoor bike data", exc)
            return
        record = self._assembler.feed(part)
        if record is None:
            return
        now = time.monotonic()
        for name, channel in _FIELDS:
            value = getattr(record, name)
            if value is not None:
                self._deliver(
                    SampleBatch(self.device_id, channel, now, 0.0, np.array([float(value)]), now)
                )

    def _on_status(self, _char: Any, data: bytearray) -> None:
        self._received()
        try:
            status = ftms.decode_status(bytes(data))
        except DecodeError as exc:
            self._decode_failed("fitness machine status", exc)
            return
        self.last_status = status
        if status.op in (ftms.StatusOp.CONTROL_PERMISSION_LOST, ftms.StatusOp.RESET):
            self.has_control = False
            self._emit(ControlLost(self.device_id))
            client = self._client
            if client is not None:
                self._spawn(self._retake_control(client), "retake-control")
        elif status.op is ftms.StatusOp.STOPPED_BY_SAFETY_KEY:
            self._emit(EstopButton(self.device_id, pressed=True))

    async def _retake_control(self, client: BleakClient) -> None:
        try:
            await self._take_control(client)
        except (ProtocolError, DeviceTimeoutError) as exc:
            self._emit(DeviceFault(self.device_id, f"control re-request failed: {exc}"))

    def _on_training_status(self, _char: Any, data: bytearray) -> None:
        self._received()
        try:
            self.training_status = ftms.decode_training_status(bytes(data))
        except DecodeError as exc:
            self._decode_failed("training status", exc)

    # -- commands --

    async def set_target_power(self, watts: float) -> float:
        """ERG: hold ``watts`` (quantised and clamped to the supported range); returns the
        value sent."""
        client = self.client
        if self.power_range is None:
            raise UnsupportedCommandError("the bike has no power target", device_id=self.device_id)
        r = self.power_range
        value = quantise(watts, max(r.minimum_w, 0), r.maximum_w, r.increment_w)
        await self._procedure(
            client, ftms.ControlRequest(ftms.ControlOp.SET_TARGET_POWER, (value,))
        )
        self.target_power_w = value
        return value

    async def set_target_resistance(self, level: float) -> float:
        """Resistance mode at ``level`` in the device's own scale (its supported range);
        sent as u8 x 0.1, or s16 x 0.1 when the profile says so or the device rejects u8."""
        client = self.client
        if self.resistance_range is None:
            raise UnsupportedCommandError(
                "the bike has no resistance target", device_id=self.device_id
            )
        r = self.resistance_range
        value = quantise(level, r.minimum, r.maximum, r.increment)
        request = ftms.ControlRequest(ftms.ControlOp.SET_TARGET_RESISTANCE_LEVEL, (value,))
        try:
            await self._procedure(client, request)
        except ControlPointError as exc:
            if exc.code != ftms.ResultCode.INVALID_PARAMETER or self._resistance_s16:
                raise
            self._resistance_s16 = True  # the "u8 rejected, s16 accepted" quirk
            await self._procedure(client, request)
        self.target_power_w = None
        return value

    async def set_simulation(
        self,
        grade_pct: float,
        *,
        wind_speed_ms: float = 0.0,
        crr: float = 0.004,
        cw_kg_per_m: float = 0.51,
    ) -> None:
        """Indoor bike simulation (grade, wind, rolling and air resistance); refused
        locally when the Feature lacks it (some bikes stop notifying after an unsupported
        procedure)."""
        client = self.client
        if self.feature is None or (
            ftms.TargetSettingFeature.INDOOR_BIKE_SIMULATION not in self.feature.target
        ):
            raise UnsupportedCommandError(
                "the bike has no indoor bike simulation", device_id=self.device_id
            )
        await self._procedure(
            client,
            ftms.ControlRequest(
                ftms.ControlOp.SET_INDOOR_BIKE_SIMULATION,
                (wind_speed_ms, grade_pct, crr, cw_kg_per_m),
            ),
        )
        self.target_power_w = None

    async def stop(self) -> None:
        await self._procedure(
            self.client, ftms.ControlRequest(ftms.ControlOp.STOP_OR_PAUSE, (1.0,))
        )
        self.target_power_w = None

    async def apply(self, command: Command) -> None:
        if isinstance(command, SetLoad):
            await self.set_target_power(command.value)
        elif isinstance(command, EnterSafeState):
            self.target_power_w = None
            await self.stop()
        elif isinstance(command, ResetFault):
            await self._take_control(self.client)
        else:
            raise UnsupportedCommandError(
                f"a bike cannot {type(command).__name__}", device_id=self.device_id
            )
