"""The JSON API does what the pages do, on a real store and real station envelopes."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import sqlite3
import zipfile
from collections.abc import AsyncIterator

import httpx
import numpy as np
import pytest

from controller.events import CommandOutcome
from controller.safety import Limits
from controller.store import TraceRecord
from controller.store.subjects import athlete_tables
from equipment_adapters.base import EnterSafeState, ResetFault, SetLoad
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from tests.controller.polling import eventually
from web_ui.lvp import ages_days, fit_load_velocity

from .conftest import Site, login
from .seed import PLAN_BODY, add_athletes, add_plan, publish_history


async def audit_actions(site: Site) -> list[str]:
    await site.flush()
    return [row["action"] for row in await site.store.reader.audit_log(limit=1000)]


@pytest.fixture
async def coach(site: Site) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with site.client() as client:
        csrf = await login(client, "coach")
        yield client, {"X-CSRF-Token": csrf}


@pytest.fixture
async def admin(site: Site) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with site.client() as client:
        csrf = await login(client, "admin")
        yield client, {"X-CSRF-Token": csrf}


# -- stations ---------------------------------------------------------------------------


async def test_station_commands_go_through_the_envelope_and_answer_with_its_verdict(
    site: Site, coach: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = coach
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    checkin = await client.post(
        "/api/v1/stations/rack-1/checkin", json={"athlete_id": athlete.athlete_id}, headers=h
    )
    assert checkin.status_code == 200
    assert checkin.json()["station"]["state"] == "checked_in"
    assert checkin.json()["station"]["athlete_id"] == athlete.athlete_id

    # above the device's maximum (200 kg): clamped, and the answer says why
    too_much = await client.post(
        "/api/v1/stations/rack-1/load",
        json={"value": 900, "confirm": True, "reason": "test"},
        headers=h,
    )
    assert too_much.status_code == 200
    result = too_much.json()["result"]
    assert result["outcome"] in (CommandOutcome.CLAMPED.value, CommandOutcome.ANNOUNCED.value)
    assert result["target"] == 200.0
    assert "ceiling" in result["reason"] or "announced" in result["reason"]

    # not confirmed: refused before reaching the station
    unconfirmed = await client.post("/api/v1/stations/rack-1/load", json={"value": 10}, headers=h)
    assert unconfirmed.status_code == 422
    for bad in (
        {"value": -5, "confirm": True},
        {"value": "NaN", "confirm": True},
        {"value": 5, "confirm": True, "extra": 1},
    ):
        assert (
            await client.post("/api/v1/stations/rack-1/load", json=bad, headers=h)
        ).status_code == 422

    adapter = site.gym.stations_by_id["rack-1"].adapter
    mark = len(adapter.commands)
    estop = await client.post("/api/v1/stations/rack-1/estop", json={"reason": "test"}, headers=h)
    assert estop.status_code == 200
    assert estop.json()["station"]["safe"] is True
    # the answer is the floor's tile, and every viewer's tile has it already
    assert estop.json()["station"]["state_label"] == "E-STOPPED"
    assert site.runtime.live.get("rack-1").snapshot.estopped
    # answered once the safe-state command has reached the device
    assert any(isinstance(c, EnterSafeState) for _, c in adapter.commands[mark:])

    refused = await client.post(
        "/api/v1/stations/rack-1/load", json={"value": 20, "confirm": True}, headers=h
    )
    assert refused.status_code == 409
    assert refused.json()["result"]["outcome"] == "refused"
    assert "e-stop latched" in refused.json()["result"]["reason"]

    mark = len(adapter.commands)
    release = await client.post("/api/v1/stations/rack-1/release", headers=h)
    assert release.status_code == 200
    assert release.json()["station"]["estopped"] is False
    await site.gym.stations_by_id["rack-1"].station.drive.settle()
    assert any(isinstance(c, ResetFault) for _, c in adapter.commands[mark:])
    again = await client.post("/api/v1/stations/rack-1/release", headers=h)
    assert again.status_code == 409

    unknown = await client.post("/api/v1/stations/rack-9/estop", json={}, headers=h)
    assert unknown.status_code == 404
    nobody = await client.post(
        "/api/v1/stations/rack-2/checkin", json={"athlete_id": "a-nobody"}, headers=h
    )
    assert nobody.status_code == 422
    actions = await audit_actions(site)
    for action in ("station.checkin", "station.override_load", "station.estop", "station.release"):
        assert action in actions
    rows = await site.store.reader.commands(station_id="rack-1")
    assert {r["source"] for r in rows} >= {"staff"}
    assert any(r["issued_by"] == "carl" and r["verb"] == "estop" for r in rows)


async def test_a_staff_override_within_the_ceiling_reaches_the_device(
    site: Site, coach: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = coach
    station = site.gym.stations_by_id["rack-2"]
    station.station.drive.set_limits(Limits(athlete_id="a-x", athlete_e1rm=50.0, margin_pct=10.0))
    response = await client.post(
        "/api/v1/stations/rack-2/load", json={"value": 4, "confirm": True}, headers=h
    )
    assert response.json()["result"]["accepted"]
    await eventually(
        lambda: any(isinstance(c, SetLoad) and c.value == 4.0 for _, c in station.adapter.commands)
    )
    capped = await client.post(
        "/api/v1/stations/rack-2/load", json={"value": 80, "confirm": True}, headers=h
    )
    assert capped.json()["result"]["target"] == pytest.approx(55.0)  # e1RM 50 + 10 %


async def test_the_station_api_reports_the_live_set(
    site: Site, coach: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = coach
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[1]])
    await client.post(
        "/api/v1/stations/rack-1/checkin", json={"athlete_id": athlete.athlete_id}, headers=h
    )
    velocities = await site.gym.run_set("rack-1", athlete.model, load=40, reps=3, rep_s=0.2)
    await asyncio.sleep(0.05)
    body = (await client.get("/api/v1/stations/rack-1")).json()
    station = body["station"]
    assert station["athlete_name"] == DEMO_ATHLETES[1].name
    assert station["exercise"] == "back_squat"
    assert station["reps"] == 3
    assert station["last_velocity_ms"] == pytest.approx(velocities[-1])
    assert station["zone_label"]
    assert [r["velocity"] for r in body["reps"]] == pytest.approx(velocities)
    assert all(r["zone_label"] for r in body["reps"])
    assert len(body["trace"]) > 5
    assert station["next_load"] is not None
    assert "first rep" in station["next_load_reason"]
    listing = (await client.get("/api/v1/stations")).json()["stations"]
    assert [s["station_id"] for s in listing] == ["rack-1", "rack-2"]


# -- athletes ---------------------------------------------------------------------------


async def test_athlete_detail_readiness_profile_history_and_decisions(
    site: Site, coach: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, _h = coach
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    publish_history(site.store, athlete, days=60)
    await site.flush()
    detail = (await client.get(f"/api/v1/athletes/{athlete.athlete_id}")).json()
    readiness = detail["readiness"]
    assert readiness["state"] in ("green", "amber", "red")
    names = {c["name"]: c["reason"] for c in readiness["components"]}
    assert set(names) == {"hrv", "sleep", "soreness"}
    assert "lnRMSSD" in names["hrv"]
    assert "SD" in names["hrv"]

    trend = (await client.get(f"/api/v1/athletes/{athlete.athlete_id}/readiness")).json()["trend"]
    assert len(trend["days"]) == 60
    assert sum(v is not None for v in trend["score"]) == 60
    assert sum(v is not None for v in trend["ln_rmssd"]) == 60

    profiles = (await client.get(f"/api/v1/athletes/{athlete.athlete_id}/lvp")).json()["profiles"]
    squat = profiles["back_squat"]
    loads = [p["load"] for p in squat["points"]]
    velocities = [p["velocity_ms"] for p in squat["points"]]
    # the profile weighs recent sessions more, as the session runner's does
    fit = fit_load_velocity(loads, velocities, ages_days=ages_days(squat["points"]))
    assert squat["fit"]["slope"] == pytest.approx(fit.slope, rel=1e-4)
    assert fit.slope < 0
    assert squat["e1rm"] == pytest.approx((0.30 - fit.intercept) / fit.slope, abs=0.06)
    assert len(squat["history"]) >= 10
    assert squat["history"][-1]["e1rm"] > squat["history"][0]["e1rm"]  # the athlete got stronger

    sessions = (await client.get(f"/api/v1/athletes/{athlete.athlete_id}/sessions")).json()
    assert sessions["sessions"][0]["n_sets"] == 4
    assert sessions["sessions"][0]["n_reps"] == 20
    decisions = (await client.get(f"/api/v1/athletes/{athlete.athlete_id}/decisions")).json()
    kinds = {d["kind"] for d in decisions["decisions"]}
    assert "autoregulation" in kinds
    assert all(d["reason"] for d in decisions["decisions"])
    assert "athlete.view" in await audit_actions(site)

    assert (await client.get("/api/v1/athletes/a-nobody")).status_code == 404
    for part in ("readiness", "sessions", "decisions", "lvp"):  # one read: the check inside
        assert (await client.get(f"/api/v1/athletes/a-nobody/{part}")).status_code == 404


async def test_adding_athletes_validates_every_field(
    site: Site, coach: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = coach
    created = await client.post(
        "/api/v1/athletes", json={"display_name": "  Dana  ", "birth_year": 1990}, headers=h
    )
    assert created.status_code == 201
    athlete = created.json()["athlete"]
    assert athlete["display_name"] == "Dana"
    assert athlete["id"].startswith("a-")
    for bad in (
        {"display_name": ""},
        {"display_name": "E", "birth_year": 1700},
        {"display_name": "E", "sex": "x"},
        {"display_name": "E", "body_mass_kg": -1},
        {"display_name": "E", "unknown": 1},
    ):
        assert (await client.post("/api/v1/athletes", json=bad, headers=h)).status_code == 422
    listing = (await client.get("/api/v1/athletes")).json()["athletes"]
    assert [a["display_name"] for a in listing] == ["Dana"]


# -- plans -----------------------------------------------------------------------------


async def test_plans_are_validated_with_each_problem_at_its_field(
    site: Site, coach: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = coach
    broken = json.loads(json.dumps(PLAN_BODY))
    broken["sessions"][0]["blocks"][0]["sets"] = 0
    broken["sessions"][0]["blocks"][1]["load"] = {
        "kind": "velocity_zone",
        "min_ms": 9,
        "max_ms": 9.5,
    }
    broken["sessions"][0]["blocks"][1]["reps"]["max"] = 2
    response = await client.post("/api/v1/plans", json=broken, headers=h)
    assert response.status_code == 422
    errors = {e["path"]: e["message"] for e in response.json()["errors"]}
    assert set(errors) == {
        "sessions[0].blocks[0].sets",
        "sessions[0].blocks[1].load.min_ms",
        "sessions[0].blocks[1].load.max_ms",
        "sessions[0].blocks[1].reps",  # the range as a whole: shown next to its max field
    }
    assert errors["sessions[0].blocks[1].load.min_ms"] == "must be at most 3"
    check = await client.post("/api/v1/plans/validate", json=broken, headers=h)
    assert check.json()["valid"] is False
    assert len(check.json()["errors"]) == 4
    assert not (await client.get("/api/v1/plans")).json()["plans"]

    created = await client.post("/api/v1/plans", json=PLAN_BODY, headers=h)
    assert created.status_code == 201
    plan = created.json()["plan"]
    assert plan["version"] == 1
    assert plan["body"] == PLAN_BODY
    assert plan["created_by"] == "carl"
    changed = json.loads(json.dumps(PLAN_BODY))
    changed["title"] = "Strength block, VL 15 %"
    put = await client.put(f"/api/v1/plans/{plan['id']}", json=changed, headers=h)
    assert put.json()["plan"]["version"] == 2
    assert (await client.put("/api/v1/plans/p-none", json=changed, headers=h)).status_code == 404

    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[2]])
    assigned = await client.post(
        f"/api/v1/plans/{plan['id']}/assignments",
        json={"athlete_id": athlete.athlete_id, "start_day": "2026-01-05", "end_day": "2026-02-01"},
        headers=h,
    )
    assert assigned.status_code == 201
    backwards = await client.post(
        f"/api/v1/athletes/{athlete.athlete_id}/assignments",
        json={"plan_id": plan["id"], "start_day": "2026-03-01", "end_day": "2026-02-01"},
        headers=h,
    )
    assert backwards.status_code == 422
    detail = (await client.get(f"/api/v1/plans/{plan['id']}")).json()
    assert [a["athlete_id"] for a in detail["assignments"]] == [athlete.athlete_id]
    actions = await audit_actions(site)
    assert actions.count("plan.save") == 2
    assert "plan.assign" in actions


# -- data: export, erase, retention ----------------------------------------------------------


async def test_export_then_erase_an_athlete(
    site: Site, admin: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = admin
    keep, gone = await add_athletes(site.store, [DEMO_ATHLETES[0], DEMO_ATHLETES[1]])
    for athlete in (keep, gone):
        publish_history(site.store, athlete, days=9)
        site.store.writer.record_trace(
            TraceRecord(
                "rack-1-rack",
                "position",
                0.0,
                0.001,
                np.linspace(0, 1, 500),
                athlete_id=athlete.athlete_id,
                session_id="s",
                set_id="s-0",
            )
        )
    await add_plan(site.store)
    await client.post(
        "/api/v1/plans/strength-vl20/assignments",
        json={"athlete_id": gone.athlete_id, "start_day": "2026-01-01"},
        headers=h,
    )
    await site.flush()

    export = await client.post(f"/api/v1/athletes/{gone.athlete_id}/export", headers=h)
    assert export.status_code == 200
    assert export.headers["content-type"] == "application/zip"
    assert gone.athlete_id in export.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
        names = set(zf.namelist())
        data = json.loads(zf.read("athlete.json"))
    tables = data["tables"]
    assert tables["athletes"][0]["display_name"] == gone.name
    assert len(tables["reps"]) == 3 * 4 * 5
    assert len(tables["readiness_scores"]) == 10
    assert {"csv/reps.csv", "csv/athletes.csv"} <= names
    assert any(n.startswith("traces/") for n in names)
    assert list(site.runtime.export_dir.iterdir()) == []  # nothing left on disk after sending
    assert "athlete.export" in await audit_actions(site)

    # erasure needs the name typed exactly, and the athlete off every station
    wrong = await client.post(
        f"/api/v1/athletes/{gone.athlete_id}/erase", json={"confirm": gone.name.upper()}, headers=h
    )
    assert wrong.status_code == 422
    await site.gym.check_in("rack-2", gone.athlete_id, by="test")
    await asyncio.sleep(0.05)
    busy = await client.post(
        f"/api/v1/athletes/{gone.athlete_id}/erase", json={"confirm": gone.name}, headers=h
    )
    assert busy.status_code == 422
    assert "rack-2" in busy.json()["detail"]
    await site.gym.check_out("rack-2", by="test")
    await asyncio.sleep(0.05)
    await site.flush()
    erased = await client.post(
        f"/api/v1/athletes/{gone.athlete_id}/erase", json={"confirm": gone.name}, headers=h
    )
    assert erased.status_code == 200, erased.text
    assert erased.json()["rows_deleted"]["reps"] == 60
    await site.flush()
    conn = sqlite3.connect(site.path)
    try:
        for table in athlete_tables(conn):
            n = conn.execute(
                f'SELECT count(*) FROM "{table}" WHERE athlete_id = ?', (gone.athlete_id,)
            ).fetchone()[0]
            assert n == 0, table
            kept = conn.execute(
                f'SELECT count(*) FROM "{table}" WHERE athlete_id = ?', (keep.athlete_id,)
            ).fetchone()[0]
            if table in ("reps", "traces", "readiness_scores"):
                assert kept > 0, table
        assert (
            conn.execute(
                "SELECT count(*) FROM athletes WHERE id = ?", (gone.athlete_id,)
            ).fetchone()[0]
            == 0
        )
    finally:
        conn.close()
    raw = site.path.read_bytes()
    assert gone.name.encode() not in raw
    assert gone.athlete_id.encode() not in raw
    assert (await client.get(f"/api/v1/athletes/{gone.athlete_id}")).status_code == 404
    # the audit lines that named the athlete went with the erasure; one line says it happened
    actions = await audit_actions(site)
    assert "athlete.export" not in actions
    assert "athlete.erase" in actions
    erase_rows = [
        r for r in await site.store.reader.audit_log(limit=100) if r["action"] == "athlete.erase"
    ]
    assert erase_rows[0]["actor"] == "alice"
    assert erase_rows[0]["athlete_id"] is None


async def test_retention_settings_are_kept_in_the_store_and_applied(
    site: Site, admin: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = admin
    before = (await client.get("/api/v1/settings/retention")).json()
    assert before["trace_retention_days"] == before["config"]["trace_retention_days"] == 90
    put = await client.put(
        "/api/v1/settings/retention",
        json={"trace_retention_days": 7, "readiness_retention_days": None},
        headers=h,
    )
    assert put.status_code == 200
    assert put.json()["trace_retention_days"] == 7
    assert put.json()["overrides"] == {"store.trace_retention_days": 7}
    assert site.store.settings.trace_retention_days == 7
    for bad in (
        {"trace_retention_days": 0},
        {"trace_retention_days": 99999},
        {"readiness_retention_days": "x"},
        {"other": 3},
    ):
        assert (
            await client.put("/api/v1/settings/retention", json=bad, headers=h)
        ).status_code == 422
    # an old trace goes at the next purge with the new setting, a recent one stays
    import time as _time

    for age_days in (30, 1):
        site.store.writer.record_trace(
            TraceRecord(
                "d", "position", 0.0, 0.01, np.zeros(10), ts=_time.time() - age_days * 86_400
            )
        )
    await site.flush()
    preview = (await client.get("/api/v1/settings/retention")).json()["held"]
    assert preview["traces"] == 2
    assert preview["traces_expired"] == 1
    purged = await client.post("/api/v1/settings/retention/purge", headers=h)
    assert purged.json()["purged"]["traces"] == 1
    # a restarted panel finds the setting again
    site.store.settings = site.runtime.config_store_settings
    await site.runtime.apply_stored_settings()
    assert site.store.settings.trace_retention_days == 7
    actions = await audit_actions(site)
    assert "settings.retention" in actions
    assert "data.purge" in actions


async def test_the_audit_log_pages_backwards(
    site: Site, admin: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = admin
    for n in range(5):
        await client.post("/api/v1/athletes", json={"display_name": f"A{n}"}, headers=h)
    await site.flush()
    first = (await client.get("/api/v1/audit?limit=3")).json()
    assert len(first["entries"]) == 3
    older = (await client.get(f"/api/v1/audit?limit=3&before_id={first['next_before_id']}")).json()
    assert older["entries"][0]["id"] < first["entries"][-1]["id"] + 1
    assert all(e["actor"] for e in first["entries"] + older["entries"])


async def test_metrics_count_what_happens(
    site: Site, admin: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = admin
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await client.post(
        "/api/v1/stations/rack-1/checkin", json={"athlete_id": athlete.athlete_id}, headers=h
    )
    await site.gym.run_set("rack-1", athlete.model, load=20, reps=2, rep_s=0.1)
    await client.post("/api/v1/stations/rack-2/estop", json={}, headers=h)
    await asyncio.sleep(0.3)
    text = (await client.get("/metrics")).text
    assert "gymctl_reps_total 2.0" in text
    assert 'gymctl_stations{state="estopped"} 1.0' in text
    assert 'gymctl_commands_total{outcome="applied",source="staff",verb="estop"} 1.0' in text
    assert 'gymctl_alerts_total{code="estop",severity="critical"} 1.0' in text
    assert 'gymctl_station_faults_total{state="estopped",station="rack-2"} 1.0' in text
    device = 'device="rack-1-rack",link="connected",role="rack",station="rack-1"'
    assert f"gymctl_device_connected{{{device}}} 1.0" in text
    assert "gymctl_event_loop_lag_seconds_count" in text
    assert "gymctl_store_writable 1.0" in text


async def test_odd_input_never_gets_a_server_error(
    site: Site, admin: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    """A small walk over every API route with odd path values and bodies: 4xx, never 5xx."""
    from .test_auth import route_calls

    client, h = admin
    odd_values = ["x" * 300, "..%2F..%2Fetc", "-1", "0", "99999999999999999999", "%00", "é"]
    odd_bodies: list[object] = [
        None,
        {},
        [],
        "text",
        7,
        {"value": 1e308, "confirm": True},
        {"display_name": "\u0000"},
        {"sessions": [{"blocks": [None]}]},
    ]
    templates = {
        (m, t)
        for m, t, _ in route_calls(site)
        if t.startswith("/api/") and t != "/api/v1/feed" and not t.startswith("/api/v1/auth/")
    }
    for method, template in sorted(templates):
        paths = [template]
        for value in odd_values:
            path = template
            for name in ("station_id", "athlete_id", "plan_id", "token_id"):
                path = path.replace("{" + name + "}", value)
            paths.append(path)
        for path in paths:
            if "{" in path:
                continue
            for body in odd_bodies if method != "GET" else [None]:
                response = await client.request(
                    method,
                    path,
                    json=body,
                    headers=h,
                    params={"before_id": "99999999999999999999"} if "audit" in path else None,
                )
                assert response.status_code < 500, (method, path, body, response.text)


async def test_the_athlete_list_carries_each_ones_latest_readiness(
    site: Site, coach: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    """Found by schemathesis: the list answered 500 (KeyError 'day') as soon as an athlete
    had a readiness score."""
    client, _ = coach
    (ana,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.flush()
    (row,) = (await client.get("/api/v1/athletes")).json()["athletes"]
    assert row["readiness"] is None
    # the list is answered from its last encoding while its rows are unchanged: a new
    # score must show at once
    publish_history(site.store, ana, days=3)
    await site.flush()
    response = await client.get("/api/v1/athletes")
    assert response.status_code == 200, response.text
    (row,) = response.json()["athletes"]
    assert row["readiness"]["day"] == dt.date.today().isoformat()
    assert 0 < row["readiness"]["score"] <= 100
