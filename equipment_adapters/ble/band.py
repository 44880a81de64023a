"""The band adapter (gymctl band profile): tension and IMU batches in, cues out.

A notification of n samples becomes two batches without per-sample Python work: a
``TENSION`` batch (n,) in N and an ``IMU`` batch (n, 6) in m/s^2 and rad/s, stamped with
the band's own clock (unwrapped from its u32 microsecond counter) and sequence number; a
gap in the sequence is reported in ``extra["lost_samples"]``. The station feeds IMU
batches to :class:`kernels.imu_reps.ImuRepDetector` and uses tension as the load.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bleak import BleakClient

from equipment_adapters.base import Capabilities, Command, CueColour, EquipmentKind, ShowCue
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
from equipment_adapters.ble.codecs import band
from equipment_adapters.errors import DecodeError, UnsupportedCommandError

_WRAP_S = 2**32 * 1e-6


#: what the adapter looks for unless told otherwise
MATCH = DeviceMatch(service_uuid=uuids.BAND_SERVICE)


class BandAdapter(BleAdapter):
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
        self.info: band.BandInfo | None = None
        self.samples = 0
        self.lost_samples = 0
        self._next_seq: int | None = None
        self._wraps = 0
        self._last_t0 = 0.0

    @property
    def capabilities(self) -> Capabilities:
        details = {}
        if self.info is not None:
            details = {
                "sample_rate_hz": str(self.info.sample_rate_hz),
                "max_tension_n": str(self.info.max_tension_n),
            }
        return Capabilities(
            EquipmentKind.BAND,
            self.advertised_name or "gymctl band",
            frozenset({Channel.TENSION, Channel.IMU}),
            cue_display=True,
            details=details,
        )

    async def _setup(self, client: BleakClient) -> None:
        self._next_seq = None
        self.info = band.decode_band_info(await client.read_gatt_char(uuids.BAND_INFO))
        await client.start_notify(uuids.BAND_SAMPLES, self._on_samples)

    def _on_samples(self, _char: Any, data: bytearray) -> None:
        self._received()
        try:
            b = band.decode_band_samples(data)
        except DecodeError as exc:
            self._decode_failed("band samples", exc)
            return
        now = time.monotonic()
        if b.t0_s + 1.0 < self._last_t0:  # the u32 microsecond clock wrapped
            self._wraps += 1
        self._last_t0 = b.t0_s
        t0 = b.t0_s + self._wraps * _WRAP_S
        extra: dict[str, float] = {}
        if self._next_seq is not None and b.sequence != self._next_seq:
            lost = (b.sequence - self._next_seq) & 0xFFFF
            self.lost_samples += lost
            extra = {"lost_samples": float(lost)}
        n = len(b)
        self._next_seq = (b.sequence + n) & 0xFFFF
        self.samples += n
        self._deliver(
            SampleBatch(
                self.device_id,
                Channel.TENSION,
                t0,
                b.period_s,
                b.tension_n,
                now,
                seq=b.sequence,
                extra=extra,
            )
        )
        self._deliver(
            SampleBatch(
                self.device_id, Channel.IMU, t0, b.period_s, b.imu, now, seq=b.sequence, extra=extra
            )
        )

    async def show_cue(self, colour: CueColour, haptic_pulses: int = 0, led_ms: int = 0) -> None:
        payload = band.encode_band_cue(band.BandCue(colour.value, min(haptic_pulses, 255), led_ms))
        with ble_errors(self.device_id, "write cue"):
            await self.client.write_gatt_char(uuids.BAND_CUE, payload, response=True)

    async def apply(self, command: Command) -> None:
        if isinstance(command, ShowCue):
            await self.show_cue(command.cue.colour, command.cue.haptic_pulses)
            return
        raise UnsupportedCommandError(
            f"a band cannot {type(command).__name__}", device_id=self.device_id
        )
