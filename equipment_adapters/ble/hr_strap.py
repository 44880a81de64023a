"""The heart-rate strap adapter (Heart Rate Service): HR and RR intervals as batches.

Each Heart Rate Measurement gives a one-sample ``HEART_RATE`` batch (bpm) and, when it
carries RR intervals, an ``RR`` batch of all of them in milliseconds (an event series:
period 0), ready for the streaming RR processor. ``seq`` of an RR batch is the index of its
first beat since the adapter started, so consumers see how many beats came before.
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
from equipment_adapters.ble.codecs import hrs
from equipment_adapters.errors import DecodeError, UnsupportedCommandError

#: what the adapter looks for unless told otherwise
MATCH = DeviceMatch(service_uuid=uuids.HEART_RATE_SERVICE)


class HrStrapAdapter(BleAdapter):
    def __init__(
        self,
        *,
        device_id: str,
        on_batch: Callable[[SampleBatch], None],
        on_event: Callable[[Any], None] | None = None,
        match: DeviceMatch = MATCH,
        backend: BleBackend = PLATFORM_BACKEND,
        options: LinkOptions = DEFAULT_LINK_OPTIONS,
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
        self.beats = 0
        self.sensor_contact = hrs.SensorContact.NOT_SUPPORTED

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            EquipmentKind.HR_STRAP,
            self.advertised_name or "HR strap",
            frozenset({Channel.HEART_RATE, Channel.RR}),
        )

    async def _setup(self, client: BleakClient) -> None:
        await client.start_notify(uuids.HEART_RATE_MEASUREMENT, self._on_measurement)

    def _on_measurement(self, _char: Any, data: bytearray) -> None:
        self._received()
        try:
            m = hrs.decode_heart_rate(bytes(data))
        except DecodeError as exc:
            self._decode_failed("heart rate measurement", exc)
            return
        now = time.monotonic()
        self.sensor_contact = m.sensor_contact
        self._deliver(
            SampleBatch(
                self.device_id,
                Channel.HEART_RATE,
                now,
                0.0,
                np.array([float(m.heart_rate_bpm)]),
                now,
            )
        )
        if m.rr_intervals:
            rr = m.rr_ms
            self._deliver(
                SampleBatch(self.device_id, Channel.RR, now, 0.0, rr, now, seq=self.beats)
            )
            self.beats += rr.shape[0]

    async def apply(self, command: Command) -> None:
        raise UnsupportedCommandError(
            "a heart-rate strap accepts no commands", device_id=self.device_id
        )
