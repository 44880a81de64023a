"""The service seam: what the panel may rely on, checked against a site of real parts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from controller.bus import EventBus
from controller.errors import NotFoundError
from controller.events import AlertSeverity, CommandOutcome
from controller.service import ActiveAlert, CommandResult, GymService, StationSnapshot
from controller.states import StationState
from controller.store import Store
from equipment_adapters.base import CueColour, EnterSafeState
from tests.web_ui.bench_gym import BenchGym


def test_snapshots_are_json_and_know_when_a_station_is_safe() -> None:
    snap = StationSnapshot(
        station_id="rack-1",
        name="Rack 1",
        state=StationState.SET_ACTIVE,
        last_zone=CueColour.GREEN,
        alerts=(ActiveAlert("stale_data", AlertSeverity.WARNING, "late", 1.0),),
    )
    data = json.loads(json.dumps(snap.to_json()))
    assert data["state"] == "set_active"
    assert data["last_zone"] == "green"
    assert data["alerts"][0]["severity"] == "warning"
    assert not snap.safe
    for state in (StationState.FAULT, StationState.ESTOPPED, StationState.OFFLINE):
        assert StationSnapshot(station_id="x", name="x", state=state).safe
    assert CommandResult(CommandOutcome.CLAMPED, "ceiling").accepted
    assert not CommandResult(CommandOutcome.REFUSED, "latched").accepted


async def test_a_site_of_real_parts_implements_the_service(tmp_path: Path) -> None:
    bus = EventBus()
    async with Store(tmp_path / "gym.db", bus=bus) as store, BenchGym(bus=bus, store=store) as gym:
        assert isinstance(gym, GymService)
        assert [s.station_id for s in gym.stations()] == ["rack-1", "rack-2"]
        with pytest.raises(NotFoundError):
            gym.station("rack-9")
        result = await gym.estop("rack-1", by="ana")
        assert result.outcome is CommandOutcome.APPLIED
        assert gym.station("rack-1").safe
        adapter = gym.stations_by_id["rack-1"].adapter
        assert any(isinstance(c, EnterSafeState) for _, c in adapter.commands)
        refused = await gym.override_load("rack-1", 50, by="ana")
        assert refused.outcome is CommandOutcome.REFUSED
        assert (await gym.check_in("rack-1", "a-x", by="ana")).outcome is CommandOutcome.REFUSED
        assert gym.health().devices[0].link.value == "connected"
