"""The panel in a process of its own (``panel.own_process``): the same panel, served by a
child process that sees the site through the link, started again if it dies, and gone
when the site stops."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from controller import panel_process
from controller.events import Alert, AlertSeverity
from controller.panel_link import PanelLinkError
from controller.panel_process import PanelProcess
from controller.states import StationState
from controller.store import people
from tests.controller.mqtt.conftest import free_port
from web_ui import PanelSettings
from web_ui.server import PanelStartError

from .polling import eventually
from .site_rig import ANA, site

S = StationState
PASSWORD = "correct horse battery"


async def _coach(gym: Any) -> None:
    hashed = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await gym.store.writer.call(
        partial(people.create_staff_user, username="coach", role="coach", password_hash=hashed)
    )


async def _login(client: httpx.AsyncClient) -> dict[str, str]:
    me = await client.post("/api/v1/auth/login", json={"username": "coach", "password": PASSWORD})
    assert me.status_code == 200, me.text
    return {"x-csrf-token": me.json()["csrf_token"]}


async def _station(client: httpx.AsyncClient, station_id: str) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/stations/{station_id}")
    assert answer.status_code == 200, answer.text
    station: dict[str, Any] = answer.json()["station"]
    return station


async def test_the_panel_in_its_own_process_serves_the_site(tmp_path: Path) -> None:
    port = free_port()
    async with site(
        tmp_path, stations=2, athletes=(ANA,), panel_port=port, panel_process=True
    ) as rig:
        gym = rig.gym
        panel = gym.panel
        assert isinstance(panel, PanelProcess)
        assert panel.pid is not None
        assert panel.pid != os.getpid()
        assert panel.url == f"http://127.0.0.1:{port}"
        await _coach(gym)
        await eventually(lambda: gym.runtime("rack-2").state is S.IDLE)
        async with httpx.AsyncClient(base_url=panel.url, timeout=10) as client:
            assert (await client.get("/healthz")).status_code == 200
            csrf = await _login(client)
            stations = (await client.get("/api/v1/stations")).json()["stations"]
            assert [s["station_id"] for s in stations] == ["rack-1", "rack-2"]
            assert stations[0]["kind"] == "rack"
            # a check-in goes to the controller and comes back with the station's answer
            answer = await client.post(
                "/api/v1/stations/rack-1/checkin",
                json={"athlete_id": rig.ids["ath-ana"]},
                headers=csrf,
            )
            assert answer.status_code == 200, answer.text
            assert "session 'squat-bench'" in answer.json()["result"]["reason"]
            runtime = gym.runtime("rack-1")
            await eventually(lambda: runtime.supervisor.reps >= 2, within=20)
            # the stations' events reach the panel's process: its live view follows the set
            for _ in range(200):
                seen = await _station(client, "rack-1")
                if seen["state"] == "set_active" and seen["reps"] >= 1:
                    break
                await asyncio.sleep(0.05)
            assert seen["state"] == "set_active", seen
            assert seen["exercise"] == "back_squat"
            assert seen["last_velocity_ms"] > 0
            # an unknown station is refused in the panel's process, as inside
            assert (await client.get("/api/v1/stations/rack-9")).status_code == 404
            missing = await client.post(
                "/api/v1/stations/rack-9/estop", json={"reason": "x"}, headers=csrf
            )
            assert missing.status_code == 404, missing.text
            # e-stop: the station is safe when the panel answers
            stop = await client.post(
                "/api/v1/stations/rack-1/estop", json={"reason": "test"}, headers=csrf
            )
            assert stop.status_code == 200, stop.text
            assert stop.json()["result"]["outcome"] == "applied"
            assert stop.json()["station"]["estopped"] is True
            assert runtime.state is S.ESTOPPED
            envelope = runtime.station.drive.envelope
            assert envelope is not None
            assert envelope.level is None
            # an override through the other station's envelope: clamped and announced
            load = await client.post(
                "/api/v1/stations/rack-2/load",
                json={"value": 500, "reason": "test", "confirm": True},
                headers=csrf,
            )
            assert load.status_code == 200, load.text
            assert load.json()["result"]["outcome"] == "announced"
            assert load.json()["result"]["target"] == 220.0
            # the site's health reaches the panel once a second
            await asyncio.sleep(1.2)
            health = (await client.get("/metrics")).text
            assert "rack-2-rack" in health

        # the panel's process wrote the audit log into the site's database itself
        async def audited() -> list[str]:
            return [a["action"] for a in await gym.store.reader.audit_log()]

        for _ in range(100):
            actions = await audited()
            if "station.override_load" in actions:
                break
            await asyncio.sleep(0.05)
        assert actions.count("station.checkin") == 1
        assert actions.count("station.estop") == 1
        assert actions.count("station.override_load") == 1


async def test_a_panel_process_that_dies_is_started_again_and_leaves_with_the_site(
    tmp_path: Path,
) -> None:
    port = free_port()
    async with site(tmp_path, stations=1, panel_port=port, panel_process=True) as rig:
        gym = rig.gym
        panel = gym.panel
        assert isinstance(panel, PanelProcess)
        first = panel.pid
        assert first is not None
        await eventually(lambda: gym.runtime("rack-1").state is S.IDLE)
        with gym.bus.subscribe("test-alerts", types=(Alert,)) as alerts:
            os.kill(first, signal.SIGKILL)
            down = await _alert(alerts, cleared=False)
            assert "the panel's process stopped" in down.message
            up = await _alert(alerts, cleared=True)
            assert up.message == f"the panel serves again on http://127.0.0.1:{port}"
        second = panel.pid
        assert second is not None
        assert second != first
        assert panel.restarts == 1
        # the same port, bound by the controller all along
        async with httpx.AsyncClient(base_url=panel.url, timeout=10) as client:
            assert (await client.get("/healthz")).status_code == 200
        # the stations were not touched
        assert gym.runtime("rack-1").state is S.IDLE
    # the site stopped its panel's process (and waited for it): nothing is left running
    with pytest.raises(ProcessLookupError):
        os.kill(second, 0)


async def _alert(alerts: Any, *, cleared: bool) -> Alert:
    async with asyncio.timeout(30):
        while True:
            event = await alerts.get()
            if event.code == "panel_down" and event.cleared is cleared:
                alert: Alert = event
                return alert


async def test_a_panel_process_that_cannot_start_is_a_clear_error(tmp_path: Path) -> None:
    async with site(tmp_path, stations=1) as rig:
        # an interpreter that exits at once, as a panel's process whose imports fail would
        panel = PanelProcess(rig.gym, PanelSettings(), host="127.0.0.1", port=0, python="false")
        with pytest.raises(PanelLinkError, match=r"exited while starting \(code 1\)"):
            async with panel:
                pass
        with socket.create_server(("127.0.0.1", 0)) as held:  # the port is taken
            taken = PanelProcess(
                rig.gym, PanelSettings(), host="127.0.0.1", port=held.getsockname()[1]
            )
            with pytest.raises(PanelStartError, match=r"the panel cannot listen on 127\.0\.0\.1"):
                async with taken:
                    pass


async def test_a_panel_process_that_stops_reading_is_stopped_and_started_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(panel_process, "STUCK_S", 0.5)
    monkeypatch.setattr(panel_process, "STOP_TIMEOUT_S", 1.0)
    port = free_port()
    async with site(tmp_path, stations=1, panel_port=port, panel_process=True) as rig:
        gym = rig.gym
        panel = gym.panel
        assert isinstance(panel, PanelProcess)
        stuck = panel.pid
        assert stuck is not None
        with gym.bus.subscribe("test-alerts", types=(Alert,)) as alerts:
            os.kill(stuck, signal.SIGSTOP)  # alive, but reading nothing
            # 2 MB of events: more than the link's socket and transport buffers hold
            for _ in range(200):
                gym.bus.publish(
                    Alert(
                        station_id=None,
                        severity=AlertSeverity.INFO,
                        code="test_flood",
                        message="x" * 10_000,
                    )
                )
                await asyncio.sleep(0)
            down = await _alert(alerts, cleared=False)
            assert "it has not read what was sent for 0.5 s" in down.message
            await _alert(alerts, cleared=True)
        assert panel.pid != stuck
        with pytest.raises(ProcessLookupError):  # the stopped process was killed
            os.kill(stuck, 0)
        async with httpx.AsyncClient(base_url=panel.url, timeout=10) as client:
            assert (await client.get("/healthz")).status_code == 200
        assert gym.runtime("rack-1").state is S.IDLE
