"""A heart-rate strap (Heart Rate Service) on bumble.

Heart rate comes from a :class:`~equipment_adapters.emulators.rider.RiderModel` (shared with
a bike, so HR follows the bike's power). RR intervals are generated beat by beat: their mean
is 60000 / HR and their beat-to-beat variability (RMSSD) is the athlete's, which moves with
readiness and shrinks with effort. Optional ectopic beats (a premature beat followed by a
compensatory pause) let the RR cleaning be tested. One notification per simulated second
carries the beats since the last one, oldest first, as the spec says.
"""

from __future__ import annotations

import math
import random

from bumble import core
from bumble.gatt import Characteristic, Service

from equipment_adapters.ble.bumble_backend import VirtualAir
from equipment_adapters.ble.codecs import hrs
from equipment_adapters.emulators._peripheral import BlePeripheral, uuid16
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from equipment_adapters.emulators.rider import RiderModel


class HrStrapEmulator(BlePeripheral):
    """``drive_rider``: the strap advances the rider itself (at ``power_w``) when no bike
    does; with a bike on the same rider, leave it False."""

    def __init__(
        self,
        air: VirtualAir,
        *,
        name: str = "gymctl HR",
        rider: RiderModel | None = None,
        drive_rider: bool = False,
        power_w: float = 0.0,
        ectopic_probability: float = 0.0,
        tick_s: float = 1.0,
        time_scale: float = 1.0,
        seed: int | None = None,
    ) -> None:
        super().__init__(air, name=name, tick_s=tick_s, time_scale=time_scale)
        self.rider = rider or RiderModel(DEMO_ATHLETES[3])
        self.drive_rider = drive_rider or rider is None
        self.power_w = power_w
        self.ectopic_probability = ectopic_probability
        self._rng = random.Random(self.rider.athlete.seed + 101 if seed is None else seed)
        self._until_beat_s = 0.0
        self._last_rr_ms = 60000.0 / self.rider.heart_rate_bpm
        self._compensate_ms: float | None = None
        self.beats_ms: list[float] = []  #: every RR interval the heart made, ms
        self.sent_rr: list[int] = []  #: every RR interval notified, raw 1/1024 s
        self.contact = hrs.SensorContact.CONTACT

    def services(self) -> list[Service]:
        self.measurement_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2A37),
            Characteristic.Properties.NOTIFY,
            Characteristic.Permissions.READABLE,
            b"",
        )
        location = Characteristic(
            uuid16(0x2A38),
            Characteristic.Properties.READ,
            Characteristic.Permissions.READABLE,
            bytes([1]),  # chest
        )
        return [Service(uuid16(0x180D), [self.measurement_char, location])]

    def advertised_uuids(self) -> list[core.UUID]:
        return [uuid16(0x180D)]

    def _next_rr_ms(self) -> float:
        if self._compensate_ms is not None:
            rr, self._compensate_ms = self._compensate_ms, None
            return rr
        mean = 60000.0 / max(self.rider.heart_rate_bpm, 30.0)
        sigma = self.rider.rr_variability_ms() / math.sqrt(2.0)
        rr = mean + self._rng.gauss(0.0, sigma)
        if self._rng.random() < self.ectopic_probability:
            self._compensate_ms = 2.0 * mean - 0.65 * mean
            rr = 0.65 * mean
        return max(rr, 250.0)

    async def step(self, dt_s: float) -> None:
        if self.drive_rider:
            self.rider.step(dt_s, self.power_w)
        beats: list[int] = []
        self._until_beat_s -= dt_s
        while self._until_beat_s <= 0.0:
            rr = self._next_rr_ms()
            self._until_beat_s += rr / 1000.0
            self.beats_ms.append(rr)
            beats.append(min(round(rr * 1024 / 1000), 0xFFFF))
        # a notification holds at most 9 RR intervals at the default MTU (HRS 3.1.1.5)
        sent = tuple(beats[-9:])
        self.sent_rr.extend(sent)
        measurement = hrs.HeartRateMeasurement(
            heart_rate_bpm=round(self.rider.heart_rate_bpm),
            sensor_contact=self.contact,
            rr_intervals=sent or None,
        )
        await self.notify(self.measurement_char, hrs.encode_heart_rate(measurement))
