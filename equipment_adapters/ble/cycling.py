"""Adapters for a power meter (Cycling Power Service) and a speed/cadence sensor (CSCS).

Cadence comes from crank revolution deltas (counters wrap; see
:class:`~equipment_adapters.ble.codecs.csc.CrankCadence`); speed from wheel revolutions
and the wheel circumference.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from bleak import BleakClient

from equipment_adapters.base import Capabilities, Command, EquipmentKind
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.ble import uuids
from equipment_adapters.ble._session import (
    DEFAULT_LINK_OPTIONS,
    BleAdapter,
    DeviceMatch,
    LinkOptions,
)
from equipment_adapters.ble.bumble_backend import PLATFORM_BACKEND, BleBackend
from equipment_adapters.ble.codecs import cps, csc
from equipment_adapters.errors import DecodeError, UnsupportedCommandError

POWER_MATCH = DeviceMatch(service_uuid=uuids.CYCLING_POWER_SERVICE)
CSC_MATCH = DeviceMatch(service_uuid=uuids.CSC_SERVICE)


class _WheelSpeed:
    """Speed in km/h from (wheel revolutions u32, event time) pairs."""

    def __init__(self, circumference_m: float, ticks_per_s: int) -> None:
        self.circumference_m = circumference_m
        self.ticks_per_s = ticks_per_s
        self._last: tuple[int, int] | None = None

    def feed(self, revolutions: int, event_time_s: float) -> float | None:
        ticks = round(event_time_s * self.ticks_per_s) & 0xFFFF
        last, self._last = self._last, (revolutions, ticks)
        if last is None:
            return None
        d_revs = (revolutions - last[0]) & 0xFFFFFFFF
        d_ticks = (ticks - last[1]) & 0xFFFF
        if d_ticks == 0:
            return 0.0 if d_revs == 0 else None
        return d_revs * self.circumference_m / (d_ticks / self.ticks_per_s) * 3.6


class _CyclingAdapter(BleAdapter):
    kind: EquipmentKind
    channels: frozenset[Channel]

    def __init__(
        self,
        *,
        device_id: str,
        on_batch: Callable[[SampleBatch], None],
        on_event: Callable[[Any], None] | None = None,
        match: DeviceMatch,
        backend: BleBackend = PLATFORM_BACKEND,
        options: LinkOptions = DEFAULT_LINK_OPTIONS,
        wheel_circumference_m: float = 2.105,
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
        self.wheel_circumference_m = wheel_circumference_m
        self._cadence = csc.CrankCadence()
        self.cadence_rpm: float | None = None

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(self.kind, self.advertised_name or self.kind.value, self.channels)

    async def _teardown(self) -> None:
        self._cadence = csc.CrankCadence()  # counters restart meaning after a reconnection

    def _one(self, channel: Channel, value: float, now: float) -> None:
        self._deliver(SampleBatch(self.device_id, channel, now, 0.0, np.array([value]), now))

    def _crank(self, revolutions: int | None, event_time_s: float | None, now: float) -> None:
        if revolutions is None or event_time_s is None:
            return
        cadence = self._cadence.feed(revolutions, event_time_s)
        if cadence is not None:
            self.cadence_rpm = cadence
            self._one(Channel.CADENCE, cadence, now)

    async def apply(self, command: Command) -> None:
        raise UnsupportedCommandError(
            f"a {self.kind.value} accepts no commands", device_id=self.device_id
        )


class PowerMeterAdapter(_CyclingAdapter):
    kind = EquipmentKind.POWER_METER
    channels = frozenset({Channel.POWER, Channel.CADENCE})

    def __init__(
        self,
        *,
        match: DeviceMatch = POWER_MATCH,
        **kwargs: Any,
    ) -> None:
        super().__init__(match=match, **kwargs)

    async def _setup(self, client: BleakClient) -> None:
        await client.start_notify(uuids.CYCLING_POWER_MEASUREMENT, self._on_measurement)

    def _on_measurement(self, _char: Any, data: bytearray) -> None:
        self._received()
        try:
            m = cps.decode_cycling_power(bytes(data))
        except DecodeError as exc:
            self._decode_failed("cycling power measurement", exc)
            return
        now = time.monotonic()
        self._one(Channel.POWER, float(m.instantaneous_power_w), now)
        self._crank(m.cumulative_crank_revolutions, m.last_crank_event_time_s, now)


class SpeedCadenceAdapter(_CyclingAdapter):
    kind = EquipmentKind.SPEED_CADENCE
    channels = frozenset({Channel.SPEED, Channel.CADENCE})

    def __init__(self, *, match: DeviceMatch = CSC_MATCH, **kwargs: Any) -> None:
        super().__init__(match=match, **kwargs)
        self._wheel = _WheelSpeed(self.wheel_circumference_m, 1024)

    async def _setup(self, client: BleakClient) -> None:
        self._wheel = _WheelSpeed(self.wheel_circumference_m, 1024)
        await client.start_notify(uuids.CSC_MEASUREMENT, self._on_measurement)

    def _on_measurement(self, _char: Any, data: bytearray) -> None:
        self._received()
        try:
            m = csc.decode_csc(bytes(data))
        except DecodeError as exc:
            self._decode_failed("csc measurement", exc)
            return
        now = time.monotonic()
        if m.cumulative_wheel_revolutions is not None and m.last_wheel_event_time_s is not None:
            speed = self._wheel.feed(m.cumulative_wheel_revolutions, m.last_wheel_event_time_s)
            if speed is not None:
                self._one(Channel.SPEED, speed, now)
        self._crank(m.cumulative_crank_revolutions, m.last_crank_event_time_s, now)
