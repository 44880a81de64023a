"""The demo's emulated equipment, and the site config that points the controller at it.

Racks are ``RackEmulator`` Modbus TCP servers on 127.0.0.1 (free ports); the bike, its
strap and the band are bumble peripherals on one ``VirtualAir``. The site config is
written as TOML and read by the same loader as a real site's, so the demo runs exactly the
code ``gymctl run`` does; only the BLE backend differs (the virtual air instead of a radio).
"""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from controller.adapters import make_adapter_factory
from controller.config import SiteConfig, parse_config
from controller.station import AdapterFactory
from equipment_adapters.ble import VirtualAir
from equipment_adapters.emulators.athlete import DEMO_ATHLETES, SimulatedAthlete
from equipment_adapters.emulators.band import BandEmulator
from equipment_adapters.emulators.bike import BikeEmulator
from equipment_adapters.emulators.hr_strap import HrStrapEmulator
from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.emulators.rider import RiderModel
from equipment_adapters.modbus import RackOptions

Kind = Literal["rack", "bike", "band"]
RACK_MAP = "reference-rack"
RACK_WATCHDOG_S = 2.0


@dataclass(frozen=True, slots=True)
class StationSpec:
    id: str
    kind: Kind
    label: str


def layout(n: int) -> list[StationSpec]:
    """``n`` stations: a bike (with a strap) and a band station, the rest racks; fewer
    than three stations are all racks."""
    if n < 1:
        raise ValueError("the demo needs at least one station")
    racks = n - 2 if n >= 3 else n
    specs = [StationSpec(f"rack-{i + 1}", "rack", f"Rack {i + 1}") for i in range(racks)]
    if n >= 3:
        specs.append(StationSpec("bike-1", "bike", "Bike 1"))
        specs.append(StationSpec("band-1", "band", "Band 1"))
    return specs


def demo_athletes(n: int) -> list[SimulatedAthlete]:
    """At least ``n`` athletes: the four of the athlete model, then variants of them
    (another seed, a readiness a little higher or lower)."""
    out = list(DEMO_ATHLETES)
    k = 0
    while len(out) < n:
        base = DEMO_ATHLETES[k % len(DEMO_ATHLETES)]
        k += 1
        out.append(
            dataclasses.replace(
                base,
                athlete_id=f"{base.athlete_id}-{k}",
                name=f"{base.name} {k + 1}",
                seed=base.seed + 100 * k,
                readiness=min(1.05, max(0.85, base.readiness + 0.03 * ((k % 3) - 1))),
            )
        )
    return out


def _toml(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class DemoWorld:
    """The emulated equipment of ``stations`` stations; an async context manager."""

    def __init__(
        self,
        *,
        stations: int = 4,
        mqtt_port: int = 1883,
        panel_port: int = 8000,
        db_path: Path = Path("gymctl-demo.db"),
        panel: bool = True,
    ) -> None:
        self.specs = layout(stations)
        #: two more athletes than stations, so that someone is always waiting to train
        self.athletes = demo_athletes(len(self.specs) + 2)
        self.mqtt_port = mqtt_port
        self.panel_port = panel_port
        self.db_path = db_path
        self.panel = panel
        self.air: VirtualAir | None = None
        self.racks: dict[str, RackEmulator] = {}
        self.bikes: dict[str, BikeEmulator] = {}
        self.straps: dict[str, HrStrapEmulator] = {}
        self.bands: dict[str, BandEmulator] = {}
        self.config: SiteConfig | None = None
        self._stack = contextlib.AsyncExitStack()

    def first_athlete(self, index: int) -> SimulatedAthlete:
        return self.athletes[index % len(self.athletes)]

    async def __aenter__(self) -> Self:
        try:
            stack = self._stack
            if any(spec.kind != "rack" for spec in self.specs):
                self.air = await stack.enter_async_context(VirtualAir())
            for index, spec in enumerate(self.specs):
                athlete = self.first_athlete(index)
                if spec.kind == "rack":
                    rack = RackEmulator(regmap=RACK_MAP, athlete=athlete, port=0)
                    self.racks[spec.id] = await stack.enter_async_context(rack)
                elif spec.kind == "bike":
                    assert self.air is not None
                    rider = RiderModel(athlete)
                    bike = BikeEmulator(self.air, name=f"{spec.label} Bike", rider=rider)
                    strap = HrStrapEmulator(self.air, name=f"{spec.label} HR", rider=rider)
                    self.bikes[spec.id] = await stack.enter_async_context(bike)
                    self.straps[spec.id] = await stack.enter_async_context(strap)
                else:
                    assert self.air is not None
                    band = BandEmulator(self.air, name=f"{spec.label} Band", athlete=athlete)
                    self.bands[spec.id] = await stack.enter_async_context(band)
            self.config = parse_config(self.config_text(), source="demo site")
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    def config_text(self) -> str:
        """The site config of the demo (what a real site writes by hand)."""
        lines = [
            "[site]",
            'name = "gymctl demo gym"',
            'id = "demo"',
            "",
        ]
        for spec in self.specs:
            lines += ["[[stations]]", f'id = "{spec.id}"', f"name = {_toml(spec.label)}"]
            if spec.kind == "rack":
                port = self.racks[spec.id].port
                lines += [
                    "[stations.devices.rack]",
                    'host = "127.0.0.1"',
                    f"port = {port}",
                    f'map = "{RACK_MAP}"',
                    "[stations.safety]",
                    # the emulators share this process and its CPU with the controller: a
                    # busy machine can hold a FIFO read back; a real rack keeps 250 ms
                    "stale_after_ms = 1000",
                    "announce_threshold = 5.0",
                    'announce_mode = "confirm"',
                    "announce_s = 10.0",
                ]
            elif spec.kind == "bike":
                lines += [
                    "[stations.devices.bike]",
                    f"name = {_toml(self.bikes[spec.id].name)}",
                    "[stations.devices.hr_strap]",
                    f"name = {_toml(self.straps[spec.id].name)}",
                    "[stations.safety]",
                    "announce_threshold = 100.0",
                    'announce_mode = "timeout"',
                    "announce_s = 2.0",
                ]
            else:
                lines += ["[stations.devices.band]", f"name = {_toml(self.bands[spec.id].name)}"]
            lines.append("")
        lines += [
            "[mqtt]",
            f"port = {self.mqtt_port}",
            "telemetry_hz = 2.0",
            "",
            "[store]",
            f"path = {_toml(str(self.db_path))}",
            "commit_interval_ms = 100",
            "",
            "[panel]",
            f"enabled = {'true' if self.panel else 'false'}",
            f"port = {self.panel_port}",
        ]
        return "\n".join(lines) + "\n"

    def make_adapter(self) -> AdapterFactory:
        """Adapters as for real equipment; BLE through the virtual air. The racks' watchdog
        is set to 2 s (the reference map's default is 1 s): the emulators share this
        process with the controller, whose heartbeat a loaded machine can delay."""
        options = RackOptions(backoff_max=1.0, watchdog_timeout=RACK_WATCHDOG_S)
        if self.air is not None:
            return make_adapter_factory(ble_backend=self.air.backend, rack_options=options)
        return make_adapter_factory(rack_options=options)

    def kind(self, station_id: str) -> Kind:
        for spec in self.specs:
            if spec.id == station_id:
                return spec.kind
        raise KeyError(station_id)

    def set_athlete(self, station_id: str, athlete: SimulatedAthlete) -> None:
        """Another athlete steps on the station's equipment."""
        if station_id in self.racks:
            self.racks[station_id].set_athlete(athlete)
        elif station_id in self.bikes:
            rider = RiderModel(athlete)
            self.bikes[station_id].rider = rider
            self.straps[station_id].rider = rider
        elif station_id in self.bands:
            self.bands[station_id].athlete = athlete
