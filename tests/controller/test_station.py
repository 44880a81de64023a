"""A whole station on the adapter boundary: devices' events drive its state, its drive and
its cues, and every command reaches the device through the envelope."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from controller.bus import EventBus
from controller.config import BleDeviceConfig, DeviceRole, RackConfig, parse_config
from controller.events import (
    Alert,
    CommandOutcome,
    CommandSource,
    CueEvent,
    StationStateChanged,
    Telemetry,
)
from controller.mqtt.commands import EstopCommand, ReleaseCommand
from controller.safety import Limits
from controller.states import StationState
from controller.station import Station
from equipment_adapters.base import (
    Adapter,
    BatchSink,
    EnterSafeState,
    EstopButton,
    EventSink,
    LinkState,
    SetLoad,
    ShowCue,
)
from equipment_adapters.batch import Channel, SampleBatch

from .polling import eventually
from .recording_adapter import RecordingAdapter, band_capabilities, rack_capabilities

S = StationState
CONFIG = parse_config(
    """
[site]
name = "t"
id = "t"
[[stations]]
id = "rack-1"
[stations.devices.rack]
host = "127.0.0.1"
map = "recording"
[stations.devices.band]
name = "band"
[stations.safety]
announce_threshold = 1000.0
""",
)


def now(station: Station) -> StationState:
    """The station's state read afresh (mypy keeps narrowings of attributes otherwise)."""
    return station.state.state


class Rig:
    def __init__(self, station: Station, bus: EventBus) -> None:
        self.station = station
        self.bus = bus
        self.events = bus.subscribe("test")
        rack = station.adapters["rack"]
        band = station.adapters["band"]
        assert isinstance(rack, RecordingAdapter)
        assert isinstance(band, RecordingAdapter)
        self.rack, self.band = rack, band
        self.batches: list[SampleBatch] = []

    def states(self) -> list[StationState]:
        return [e.after for e in self.events.drain() if isinstance(e, StationStateChanged)]

    def loads(self) -> list[float]:
        return [c.value for _, c in self.rack.commands if isinstance(c, SetLoad)]


def make_adapter(
    role: DeviceRole,
    device: RackConfig | BleDeviceConfig,
    device_id: str,
    on_batch: BatchSink,
    on_event: EventSink,
) -> Adapter:
    capabilities = rack_capabilities() if role == "rack" else band_capabilities()
    return RecordingAdapter(device_id, capabilities, on_batch=on_batch, on_event=on_event)


@pytest.fixture
async def rig() -> AsyncIterator[Rig]:
    bus = EventBus()
    with bus.subscribe("early") as early:
        station = Station(
            CONFIG.station("rack-1"), bus=bus, make_adapter=make_adapter, telemetry_hz=5.0
        )
        batches: list[SampleBatch] = []
        station.batch_sink = batches.append
        async with station:
            rig = Rig(station, bus)
            rig.batches = batches
            assert [e.after for e in early.drain() if isinstance(e, StationStateChanged)] == [
                S.IDLE
            ]
            await station.drive.settle()
            yield rig
        rig.events.close()


async def test_starts_safe_and_idle(rig: Rig) -> None:
    assert now(rig.station) is S.IDLE
    assert isinstance(rig.rack.commands[0][1], EnterSafeState)
    assert rig.station.actuator is rig.rack


async def test_a_session_through_the_station(rig: Rig) -> None:
    station = rig.station
    station.check_in("a-1", "ses-1", Limits(athlete_id="a-1", athlete_e1rm=40.0, margin_pct=0.0))
    verdict = station.drive.request_load(60.0, source=CommandSource.PLAN)
    assert verdict.outcome is CommandOutcome.CLAMPED
    await eventually(lambda: bool(rig.loads()) and rig.loads()[-1] == 40.0)
    station.state.load_ready()
    rig.rack.deliver()
    station.begin_set("set-1")
    rig.rack.deliver()
    station.end_set("rep target", last=True)
    station.check_out()
    assert rig.states() == [S.CHECKED_IN, S.SET_READY, S.SET_ACTIVE, S.SESSION_DONE, S.IDLE]
    await station.drive.settle()
    assert rig.loads()[-1] == 0.0  # checked out: the load went back to the minimum


async def test_the_device_button_estops_and_only_staff_release(rig: Rig) -> None:
    station = rig.station
    rig.rack._emit(EstopButton(rig.rack.device_id, pressed=True))
    assert now(station) is S.ESTOPPED
    assert station.drive.estopped
    await station.drive.settle()
    texts = [c.cue.text for _, c in rig.band.commands if isinstance(c, ShowCue)]
    assert texts[-1] == "E-STOP"
    refused = station.handle_mqtt(ReleaseCommand(station_id="rack-1", by="app", seq=1))
    assert refused.outcome is CommandOutcome.REFUSED
    assert now(station) is S.ESTOPPED
    assert station.release(by="coach").outcome is CommandOutcome.APPLIED
    assert now(station) is S.IDLE


async def test_mqtt_estop_reaches_drive_and_state(rig: Rig) -> None:
    rig.station.handle_mqtt(EstopCommand(station_id="rack-1", by="app", seq=1))
    assert now(rig.station) is S.ESTOPPED
    await rig.station.drive.settle()
    assert any(isinstance(c, EnterSafeState) for _, c in rig.rack.commands[1:])


async def test_stale_data_mid_set_faults_the_station_and_it_resumes(rig: Rig) -> None:
    station = rig.station
    station.check_in("a-1", "ses-1")
    station.drive.request_load(5.0, source=CommandSource.PLAN)
    await eventually(lambda: bool(rig.loads()) and rig.loads()[-1] == 5.0)
    station.state.load_ready()
    rig.rack.deliver()
    station.begin_set("set-1")
    await eventually(lambda: now(station) is S.FAULT, within=2.0)  # no more data
    alerts = [e for e in rig.events.drain() if isinstance(e, Alert)]
    assert any("stale data during a set" in a.message for a in alerts)
    rig.rack.deliver()
    station.recover("data fresh again")
    assert now(station) is S.RESTING  # the interrupted set counts as done
    assert station.drive.request_load(5.0, source=CommandSource.PLAN).outcome is (
        CommandOutcome.RAMPING
    )


async def test_link_loss_without_athlete_is_offline_and_clears_on_reconnect(rig: Rig) -> None:
    rig.rack.set_link(LinkState.DISCONNECTED, "socket closed")
    assert now(rig.station) is S.OFFLINE
    assert rig.station.drive.in_safe_state
    rig.rack.set_link(LinkState.CONNECTED)
    assert now(rig.station) is S.IDLE
    assert not rig.station.drive.in_safe_state


async def test_link_loss_with_an_athlete_is_a_fault(rig: Rig) -> None:
    rig.station.check_in("a-1", "ses-1")
    rig.band.set_link(LinkState.DISCONNECTED, "BLE supervision timeout")
    assert now(rig.station) is S.FAULT
    assert rig.station.state.athlete_id == "a-1"


async def test_site_alarms_put_the_station_safe_until_recovered(rig: Rig) -> None:
    rig.station.go_safe("store unwritable")
    assert now(rig.station) is S.FAULT
    assert rig.station.drive.request_load(5.0, source=CommandSource.PLAN).outcome is (
        CommandOutcome.REFUSED
    )
    rig.station.recover("store writable again")
    assert now(rig.station) is S.IDLE


async def test_batches_become_downsampled_telemetry_and_reach_the_sink(rig: Rig) -> None:
    for _ in range(20):
        rig.rack.deliver(100, value=0.5)
    rig.band.deliver(50, channel=Channel.TENSION, value=80.0)
    assert len(rig.batches) == 21
    telemetry = [e for e in rig.events.drain() if isinstance(e, Telemetry)]
    assert [(t.channel, t.unit) for t in telemetry] == [("position", "m"), ("tension", "N")]
    assert len(telemetry[0].values) == 20
    assert telemetry[0].period == pytest.approx(0.05)
    json.dumps(telemetry[0].to_json())
    await asyncio.sleep(0.25)
    rig.rack.deliver(100)
    assert any(isinstance(e, Telemetry) for e in rig.events.drain())


async def test_cues_reach_bus_and_displays(rig: Rig) -> None:
    from controller.cues import rep_cue
    from equipment_adapters.base import CueColour

    assert rig.station.cues.offer(rep_cue(3, 0.61, CueColour.GREEN))
    await rig.station.drive.settle()
    assert [e.cue.number for e in rig.events.drain() if isinstance(e, CueEvent)] == [3.0]
    for adapter in (rig.rack, rig.band):
        assert any(isinstance(c, ShowCue) and c.cue.number == 3.0 for _, c in adapter.commands)
