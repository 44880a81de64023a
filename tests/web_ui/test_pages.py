"""The server-rendered pages and their forms (no JavaScript needed for any form)."""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import json
import re
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx

from controller.store.people import Role
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from web_ui.app import STATIC_DIR
from web_ui.deps import TEMPLATES_DIR

from .conftest import Site, hidden, login
from .seed import add_athletes, add_plan, publish_history


@contextlib.asynccontextmanager
async def signed_in(site: Site, role: Role) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with site.client() as client:
        yield client, await login(client, role)


def field_error(page: str, field_id: str) -> str:
    """The message shown next to a field (the element its aria-describedby names)."""
    match = re.search(
        rf'id="{re.escape(field_id)}"[^>]*aria-invalid="true" aria-describedby="([^"]+)"', page
    )
    assert match is not None, f"{field_id} is not marked invalid"
    message = re.search(
        rf'id="{re.escape(match[1])}"[^>]*>\s*<span aria-hidden="true">([^<]*)</span>(.*?)</span>',
        page,
        re.S,
    )
    assert message is not None
    return " ".join(html.unescape(message[1] + message[2]).split())


async def test_every_asset_the_pages_name_is_served_locally(site: Site) -> None:
    names = set()
    for template in TEMPLATES_DIR.glob("*.html"):
        names |= set(re.findall(r"url_for\('static', path='([^']+)'\)", template.read_text()))
    assert {
        "vendor/htmx/htmx.min.js",
        "vendor/uplot/uPlot.iife.min.js",
        "vendor/swagger-ui/swagger-ui-bundle.js",
    } <= names
    async with site.client() as client:
        for name in names:
            assert (STATIC_DIR / name).is_file(), f"run make install: {name} is missing"
            assert (await client.get(f"/static/{name}")).status_code == 200
    for template in TEMPLATES_DIR.glob("*.html"):
        text = template.read_text()
        assert "https://" not in text, template.name  # no CDN
        assert "http://" not in text, template.name
        assert "<script>" not in text, template.name  # no inline script (CSP)
    versions = json.loads((STATIC_DIR / "vendor" / "versions.json").read_text())
    assert versions["htmx.org"].startswith("2.")
    assert versions["uplot"].startswith("1.6")


async def test_floor_and_station_pages_say_states_in_words(site: Site) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.gym.check_in("rack-1", athlete.athlete_id, by="test")
    await site.gym.run_set("rack-1", athlete.model, load=30, reps=2, rep_s=0.1)
    await site.gym.estop("rack-2", by="test")
    async with signed_in(site, "front_desk") as (client, _):
        velocity = re.compile(r"\d\.\d\d m/s · (in zone|above zone|below zone|just below zone)")
        for _ in range(100):  # the live view folds the bus's events on its own tick
            floor = (await client.get("/floor")).text
            if all(w in floor for w in ("E-STOPPED", "Resting", athlete.name)) and velocity.search(
                floor
            ):
                break
            await asyncio.sleep(0.05)
        assert "E-STOPPED" in floor
        assert "Resting" in floor
        assert velocity.search(floor)
        assert 'aria-label="E-stop Rack 1"' in floor
        assert athlete.name in floor
        station = (await client.get("/stations/rack-2")).text
        assert 'aria-keyshortcuts="Shift+E"' in station
        assert "none · safe state" in station
        missing = await client.get("/stations/rack-9")
        assert missing.status_code == 404
        assert "Not found" in missing.text


async def test_adding_an_athlete_shows_problems_next_to_the_fields(site: Site) -> None:
    async with signed_in(site, "coach") as (client, csrf):
        bad = await client.post(
            "/athletes",
            data={
                "csrf_token": csrf,
                "display_name": "Eve",
                "birth_year": "1850",
                "body_mass_kg": "lots",
            },
        )
        assert bad.status_code == 422
        assert field_error(bad.text, "birth_year") == "⚠ must be at least 1900"
        assert field_error(bad.text, "body_mass_kg") == "⚠ must be a number"
        assert 'value="Eve"' in bad.text  # what was typed stays
        ok = await client.post(
            "/athletes", data={"csrf_token": csrf, "display_name": "Eve", "birth_year": "1990"}
        )
        assert ok.status_code == 303
        page = await client.get(ok.headers["location"])
        assert page.status_code == 200
        assert "<h1>Eve</h1>" in page.text
        found = await client.get("/athletes?q=ev")
        assert "Eve" in found.text
        assert "Eve" not in (await client.get("/athletes?q=zzz")).text


async def test_the_athlete_page_holds_readiness_reasons_and_chart_data(site: Site) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[1]])
    publish_history(site.store, athlete, days=30)
    await add_plan(site.store)
    await site.flush()
    async with signed_in(site, "coach") as (client, csrf):
        page = (await client.get(f"/athletes/{athlete.athlete_id}")).text
        assert "lnRMSSD" in page
        assert "SD" in page
        assert "slept" in page
        data = json.loads(
            html.unescape(
                re.search(
                    r'<script type="application/json" id="chart-data">(.*?)</script>', page, re.S
                )[1]  # type: ignore[index]
            )
        )
        assert len(data["trend"]["days"]) == 60
        assert data["profiles"]["back_squat"]["fit"]["slope"] < 0
        assert "e1RM" in page
        assert "Decision log" in page
        assigned = await client.post(
            f"/athletes/{athlete.athlete_id}/assign",
            data={"csrf_token": csrf, "plan_id": "strength-vl20", "start_day": "2026-02-01"},
        )
        assert assigned.status_code == 303
        backwards = await client.post(
            f"/athletes/{athlete.athlete_id}/assign",
            data={
                "csrf_token": csrf,
                "plan_id": "strength-vl20",
                "start_day": "2026-02-01",
                "end_day": "2026-01-01",
            },
        )
        assert backwards.status_code == 422
        assert "must not be before the start day" in backwards.text
        page = (await client.get(f"/athletes/{athlete.athlete_id}")).text
        assert "Strength block, VL 20 %" in page


async def test_the_plan_editor_puts_each_message_next_to_its_field(site: Site) -> None:
    async with signed_in(site, "coach") as (client, csrf):
        form = (await client.get("/plans/new")).text
        assert 'name="sessions[0].blocks[0].sets"' in form
        fields = {
            "csrf_token": csrf,
            "title": "Squat power",
            "name": "",
            "goal": "power",
            "weeks": "3",
            "description": "",
            "sessions[0].name": "day-a",
            "sessions[0].title": "Day A",
            "sessions[0].blocks[0].exercise": "back_squat",
            "sessions[0].blocks[0].sets": "5",
            "sessions[0].blocks[0].reps.min": "3",
            "sessions[0].blocks[0].reps.max": "3",
            "sessions[0].blocks[0].load.kind": "velocity_zone",
            "sessions[0].blocks[0].load.value": "7",
            "sessions[0].blocks[0].load.max_ms": "7.5",
            "sessions[0].blocks[0].velocity_loss_stop_pct": "10",
            "sessions[0].blocks[0].rest_s": "120",
        }
        # htmx's live check: the form again with the messages, nothing saved
        check = await client.post("/plans/check", data=fields, headers={"HX-Request": "true"})
        assert check.status_code == 200
        assert check.text.lstrip().startswith('<form id="plan-form"')
        assert field_error(check.text, "sessions[0].blocks[0].load.value") == "⚠ must be at most 3"
        saved = await client.post("/plans/new", data={**fields, "action": "save"})
        assert saved.status_code == 422
        assert "This plan has 2 problems" in saved.text
        assert 'value="7"' in saved.text
        assert not (await client.get("/api/v1/plans")).json()["plans"]
        more = await client.post("/plans/new", data={**fields, "action": "add_block:0"})
        assert 'name="sessions[0].blocks[1].sets"' in more.text
        fields["sessions[0].blocks[0].load.value"] = "0.8"
        fields["sessions[0].blocks[0].load.max_ms"] = "1.0"
        saved = await client.post("/plans/new", data={**fields, "action": "save"})
        assert saved.status_code == 303
        plan_url = saved.headers["location"]
        assert plan_url == "/plans/squat-power"  # the short id comes from the title
        view = (await client.get(plan_url)).text
        assert "Squat power" in view
        assert "0.8\u20131 m/s" in view  # an en dash between the bounds
        edit = (await client.get(plan_url + "/edit")).text
        assert 'value="0.8"' in edit
        fields["title"] = "Squat power 2"
        resaved = await client.post(plan_url + "/edit", data={**fields, "action": "save"})
        assert resaved.status_code == 303
        assert "version 2" in (await client.get(plan_url)).text


async def test_data_page_exports_erases_and_sets_retention(site: Site, tmp_path: Path) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[2]])
    publish_history(site.store, athlete, days=6)
    await site.flush()
    async with signed_in(site, "admin") as (client, csrf):
        page = (await client.get("/data")).text
        assert athlete.athlete_id in page
        export = await client.post(
            "/data/export", data={"csrf_token": csrf, "athlete_id": athlete.athlete_id}
        )
        assert export.status_code == 200
        with zipfile.ZipFile(io.BytesIO(export.content)) as zf:
            assert "athlete.json" in zf.namelist()
        wrong = await client.post(
            "/data/erase",
            data={"csrf_token": csrf, "athlete_id": athlete.athlete_id, "confirm": "someone else"},
        )
        assert wrong.status_code == 422
        assert field_error(wrong.text, "erase-confirm").startswith("⚠ confirm: type the")
        erased = await client.post(
            "/data/erase",
            data={"csrf_token": csrf, "athlete_id": athlete.athlete_id, "confirm": athlete.name},
        )
        assert erased.headers["location"] == "/data?done=erased"
        page = (await client.get("/data?done=erased")).text
        assert "erased from every table" in page
        assert athlete.athlete_id not in page
        bad = await client.post(
            "/data/retention", data={"csrf_token": csrf, "trace_retention_days": "0"}
        )
        assert bad.status_code == 422
        assert field_error(bad.text, "trace_retention_days") == "⚠ must be at least 1"
        ok = await client.post(
            "/data/retention",
            data={
                "csrf_token": csrf,
                "trace_retention_days": "30",
                "readiness_retention_days": "180",
            },
        )
        assert ok.status_code == 303
        assert site.store.settings.readiness_retention_days == 180
        purge = await client.post("/data/purge", data={"csrf_token": csrf})
        assert purge.headers["location"] == "/data?done=purged"


async def test_staff_page_shows_a_new_token_once(site: Site) -> None:
    async with signed_in(site, "admin") as (client, csrf):
        created = await client.post(
            "/staff/tokens",
            data={
                "csrf_token": csrf,
                "name": "prometheus",
                "username": "fiona",
                "expires_days": "90",
            },
        )
        token = re.search(r'<code class="token" id="new-token">([^<]+)</code>', created.text)
        assert token is not None
        again = (await client.get("/staff")).text
        assert token[1] not in again
        assert "prometheus" in again
        token_id = re.search(r'action="/staff/tokens/(\d+)/revoke"', again)[1]  # type: ignore[index]
        revoked = await client.post(f"/staff/tokens/{token_id}/revoke", data={"csrf_token": csrf})
        assert revoked.status_code == 303
        assert "revoked" in (await client.get("/staff")).text


async def test_audit_page_lists_staff_actions(site: Site) -> None:
    async with signed_in(site, "admin") as (client, csrf):
        await client.post("/api/v1/stations/rack-1/estop", json={}, headers={"X-CSRF-Token": csrf})
        await site.flush()
        page = (await client.get("/audit")).text
        assert "station.estop" in page
        assert "login" in page
        assert "alice" in page


async def test_logout_form_and_docs_page(site: Site) -> None:
    async with signed_in(site, "coach") as (client, _csrf):
        docs = (await client.get("/docs")).text
        assert "vendor/swagger-ui/swagger-ui-bundle.js" in docs
        schema = (await client.get("/openapi.json")).json()
        assert "/api/v1/stations/{station_id}/estop" in schema["paths"]
        floor = (await client.get("/floor")).text
        out = await client.post("/logout", data={"csrf_token": hidden(floor, "csrf_token")})
        assert out.status_code == 303
        assert (await client.get("/floor")).status_code == 303
