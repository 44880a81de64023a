"""A power meter (Cycling Power Service) that is also a speed/cadence sensor (CSCS).

Power and cadence come from a rider model; crank and wheel revolution counters advance
with the cadence and wrap as real sensors' u16/u32 counters do, with event times in
1/1024 s (CSC, CPS crank) and 1/2048 s (CPS wheel) that wrap at 64 s and 32 s.
"""

from __future__ import annotations

from bumble import core
from bumble.gatt import Characteristic, Service

from equipment_adapters.ble.bumble_backend import VirtualAir
from equipment_adapters.ble.codecs import cps, csc
from equipment_adapters.emulators._peripheral import BlePeripheral, uuid16
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from equipment_adapters.emulators.rider import RiderModel


class PowerMeterEmulator(BlePeripheral):
    def __init__(
        self,
        air: VirtualAir,
        *,
        name: str = "gymctl Power",
        rider: RiderModel | None = None,
        power_w: float = 200.0,
        drive_rider: bool = True,
        crank_revolutions: int = 0,
        wheel_circumference_m: float = 2.105,
        tick_s: float = 1.0,
        time_scale: float = 1.0,
    ) -> None:
        super().__init__(air, name=name, tick_s=tick_s, time_scale=time_scale)
        self.rider = rider or RiderModel(DEMO_ATHLETES[3])
        self.power_w = power_w
        self.drive_rider = drive_rider
        self.crank_revolutions = float(crank_revolutions)
        self.wheel_revolutions = 0.0
        self.wheel_circumference_m = wheel_circumference_m
        self._crank_event_s = 0.0
        self._wheel_event_s = 0.0

    def services(self) -> list[Service]:
        notify = Characteristic.Properties.NOTIFY
        read = Characteristic.Properties.READ
        readable = Characteristic.Permissions.READABLE
        self.power_char: Characteristic[bytes] = Characteristic(
            uuid16(0x2A63), notify, readable, b""
        )
        self.csc_char: Characteristic[bytes] = Characteristic(uuid16(0x2A5B), notify, readable, b"")
        cps_feature = Characteristic(uuid16(0x2A65), read, readable, (0x0C).to_bytes(4, "little"))
        csc_feature = Characteristic(uuid16(0x2A5C), read, readable, (0x03).to_bytes(2, "little"))
        location = Characteristic(uuid16(0x2A5D), read, readable, bytes([5]))  # left crank
        return [
            Service(uuid16(0x1818), [self.power_char, cps_feature, location]),
            Service(uuid16(0x1816), [self.csc_char, csc_feature]),
        ]

    def advertised_uuids(self) -> list[core.UUID]:
        return [uuid16(0x1818), uuid16(0x1816)]

    async def step(self, dt_s: float) -> None:
        if self.drive_rider:
            self.rider.step(dt_s, self.power_w)
        cadence = max(self.rider.cadence_rpm, 0.0)
        before = int(self.crank_revolutions)
        self.crank_revolutions += cadence / 60.0 * dt_s
        if int(self.crank_revolutions) != before and cadence > 0:
            # time of the last whole revolution inside this step
            fraction = (self.crank_revolutions - int(self.crank_revolutions)) / (cadence / 60.0)
            self._crank_event_s = self.sim_time_s - fraction
        speed_ms = cadence * 0.36 / 3.6
        wheel_before = int(self.wheel_revolutions)
        self.wheel_revolutions += speed_ms / self.wheel_circumference_m * dt_s
        if int(self.wheel_revolutions) != wheel_before and speed_ms > 0:
            wheel_rate = speed_ms / self.wheel_circumference_m
            self._wheel_event_s = (
                self.sim_time_s
                - (self.wheel_revolutions - int(self.wheel_revolutions)) / wheel_rate
            )
        crank_revs = int(self.crank_revolutions) & 0xFFFF
        crank_ticks = round(self._crank_event_s * 1024) & 0xFFFF
        wheel_revs = int(self.wheel_revolutions) & 0xFFFFFFFF
        power = cps.CyclingPowerMeasurement(
            instantaneous_power_w=round(
                self.rider.power_w if not self.drive_rider else self.power_w
            ),
            cumulative_wheel_revolutions=wheel_revs,
            last_wheel_event_time_s=(round(self._wheel_event_s * 2048) & 0xFFFF) / 2048,
            cumulative_crank_revolutions=crank_revs,
            last_crank_event_time_s=crank_ticks / 1024,
        )
        await self.notify(self.power_char, cps.encode_cycling_power(power))
        speed_cadence = csc.CscMeasurement(
            cumulative_wheel_revolutions=wheel_revs,
            last_wheel_event_time_s=(round(self._wheel_event_s * 1024) & 0xFFFF) / 1024,
            cumulative_crank_revolutions=crank_revs,
            last_crank_event_time_s=crank_ticks / 1024,
        )
        await self.notify(self.csc_char, csc.encode_csc(speed_cadence))
