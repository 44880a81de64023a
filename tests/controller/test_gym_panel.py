"""The panel inside the site: its server is a task of the site, it sees the site through
``GymService``, and its staff commands reach the stations through their envelopes."""

from __future__ import annotations

import asyncio
from functools import partial
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from controller.service import GymService
from controller.states import StationState
from controller.store import people
from tests.controller.mqtt.conftest import free_port

from .polling import eventually
from .site_rig import ANA, site

S = StationState
PASSWORD = "correct horse battery"


async def test_the_site_serves_the_panel_and_implements_its_service(tmp_path: Path) -> None:
    port = free_port()
    async with site(tmp_path, stations=2, athletes=(ANA,), panel_port=port) as rig:
        gym = rig.gym
        assert isinstance(gym, GymService)
        assert "panel" in {t.get_name() for t in asyncio.all_tasks()}
        hashed = PasswordHasher().hash(PASSWORD)
        await gym.store.writer.call(
            partial(people.create_staff_user, username="coach", role="coach", password_hash=hashed)
        )
        await eventually(lambda: gym.runtime("rack-2").state is S.IDLE)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            assert (await client.get("/healthz")).status_code == 200
            me = await client.post(
                "/api/v1/auth/login", json={"username": "coach", "password": PASSWORD}
            )
            assert me.status_code == 200, me.text
            csrf = {"x-csrf-token": me.json()["csrf_token"]}
            stations = (await client.get("/api/v1/stations")).json()["stations"]
            assert [s["station_id"] for s in stations] == ["rack-1", "rack-2"]
            assert stations[0]["kind"] == "rack"
            assert stations[0]["unit"] == "kg"
            # check-in from the panel starts the athlete's session of the day
            answer = await client.post(
                "/api/v1/stations/rack-1/checkin",
                json={"athlete_id": rig.ids["ath-ana"]},
                headers=csrf,
            )
            assert answer.status_code == 200, answer.text
            assert "session 'squat-bench'" in answer.json()["result"]["reason"]
            runtime = gym.runtime("rack-1")
            await eventually(lambda: runtime.supervisor.reps >= 1, within=20)
            snapshot: dict[str, Any] = gym.station("rack-1").to_json()
            assert snapshot["state"] == "set_active"
            assert snapshot["exercise"] == "back_squat"
            assert snapshot["load"] > 0
            assert snapshot["last_velocity_ms"] > 0
            # e-stop from the panel: the station is safe when the answer comes
            stop = await client.post(
                "/api/v1/stations/rack-1/estop", json={"reason": "test"}, headers=csrf
            )
            assert stop.status_code == 200, stop.text
            assert runtime.state is S.ESTOPPED
            envelope = runtime.station.drive.envelope
            assert envelope is not None
            assert envelope.level is None
            health = gym.health()
            assert health.store_writable
            assert {d.device_id for d in health.devices} == {"rack-1-rack", "rack-2-rack"}
            # a staff override on the other station goes through its envelope
            load = await client.post(
                "/api/v1/stations/rack-2/load",
                json={"value": 500, "reason": "test", "confirm": True},
                headers=csrf,
            )
            assert load.status_code == 200, load.text
            result = load.json()["result"]
            # above the rack's 220 kg: clamped, and an increase that large is announced first
            assert result["outcome"] == "announced"
            assert result["target"] == 220.0
            await gym.store.writer.flush()
            audit = await gym.store.reader.audit_log()
            # the panel writes staff actions to the audit log, once each
            actions = [a["action"] for a in audit]
            assert actions.count("station.checkin") == 1
            assert actions.count("station.estop") == 1
