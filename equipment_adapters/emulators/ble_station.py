"""A bike, a heart-rate strap and a band for one athlete, on one virtual air: what the
demo (and an integration test) runs per cardio/band station.

The bike and the strap share one rider model, so the strap's heart rate answers the bike's
power; the band is scripted with :meth:`BandEmulator.perform_set`. Names carry the
station's label so adapters can match them (``DeviceMatch(name=kit.bike.name)``)::

    async with VirtualAir() as air, BleStationKit(air, athlete, label="Station 3") as kit:
        bike = FtmsBikeAdapter(device_id="s3-bike", match=kit.bike_match, backend=air.backend, ...)
"""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from equipment_adapters.ble import uuids
from equipment_adapters.ble._session import DeviceMatch
from equipment_adapters.ble.bumble_backend import VirtualAir
from equipment_adapters.emulators.athlete import SimulatedAthlete
from equipment_adapters.emulators.band import BandEmulator
from equipment_adapters.emulators.bike import BikeEmulator
from equipment_adapters.emulators.hr_strap import HrStrapEmulator
from equipment_adapters.emulators.rider import RiderModel


class BleStationKit:
    def __init__(
        self,
        air: VirtualAir,
        athlete: SimulatedAthlete,
        *,
        label: str,
        time_scale: float = 1.0,
        ectopic_probability: float = 0.0,
    ) -> None:
        self.rider = RiderModel(athlete)
        tick = min(1.0, 1.0 / time_scale)
        self.bike = BikeEmulator(
            air, name=f"{label} Bike", rider=self.rider, tick_s=tick, time_scale=time_scale
        )
        self.strap = HrStrapEmulator(
            air,
            name=f"{label} HR",
            rider=self.rider,
            tick_s=tick,
            time_scale=time_scale,
            ectopic_probability=ectopic_probability,
        )
        self.band = BandEmulator(
            air, name=f"{label} Band", athlete=athlete, tick_s=0.1, time_scale=time_scale
        )
        self._stack = contextlib.AsyncExitStack()

    @property
    def bike_match(self) -> DeviceMatch:
        return DeviceMatch(service_uuid=uuids.FTMS_SERVICE, name=self.bike.name)

    @property
    def strap_match(self) -> DeviceMatch:
        return DeviceMatch(service_uuid=uuids.HEART_RATE_SERVICE, name=self.strap.name)

    @property
    def band_match(self) -> DeviceMatch:
        return DeviceMatch(service_uuid=uuids.BAND_SERVICE, name=self.band.name)

    async def __aenter__(self) -> Self:
        async with contextlib.AsyncExitStack() as stack:
            for emulator in (self.bike, self.strap, self.band):
                await stack.enter_async_context(emulator)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()
