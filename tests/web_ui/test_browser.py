"""The pages in Debian's headless Chromium (Playwright), against the panel on a real socket.

Run with ``pytest -m browser``; they are part of ``make test`` too. Chromium is the Debian
package (``/usr/bin/chromium``, installed by ``.ci/run``): Playwright never downloads one.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import sqlite3
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from controller.store.subjects import athlete_tables
from equipment_adapters.base import EnterSafeState
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from tests.web_ui.screenshots import CHROMIUM, CHROMIUM_ARGS, wait_until
from web_ui import PanelServer, PanelSettings, create_app

from .conftest import FAST_HASHER, PASSWORD, USERS, Site
from .seed import add_athletes, publish_history

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium package"),
]

TABLET = {"width": 1024, "height": 768}
TABLET_PORTRAIT = {"width": 768, "height": 1024}


@pytest.fixture
async def panel(site: Site) -> AsyncIterator[PanelServer]:
    app = create_app(site.gym, site.store, PanelSettings(password_hasher=FAST_HASHER))
    async with PanelServer(app, host="127.0.0.1", port=0) as server:
        yield server


@contextlib.asynccontextmanager
async def browser_page(
    panel: PanelServer, role: str = "front_desk", viewport: dict[str, int] = TABLET
) -> AsyncIterator[Any]:
    """A signed-in page in a fresh Chromium (through the login form, like a person)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            page = await context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on(
                "console",
                lambda msg: errors.append(msg.text) if msg.type == "error" else None,
            )
            await page.goto(f"{panel.url}/login")
            await page.fill("#username", USERS[role])  # type: ignore[index]
            await page.fill("#password", PASSWORD)
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{panel.url}/floor")
            yield page
            assert errors == [], errors  # no script error, no CSP violation
        finally:
            await browser.close()


async def tile_text(page: Any, station: str, field: str) -> str:
    text: str = await page.inner_text(f'.tile[data-station="{station}"] [data-field="{field}"]')
    return text


async def test_log_in_and_watch_a_station_update_live(panel: PanelServer, site: Site) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    async with browser_page(panel) as page:
        await wait_until(page, "document.body.dataset.feedFrames !== undefined")
        assert "Idle" in await page.inner_text('.tile[data-station="rack-1"] .badge')
        await site.gym.check_in("rack-1", athlete.athlete_id, by="desk")
        await wait_until(
            page,
            "document.querySelector('.tile[data-station=\"rack-1\"]')"
            ".dataset.state === 'checked_in'",
        )
        # events carry the pseudonymous id; the name follows from the store
        await wait_until(
            page,
            'document.querySelector(\'.tile[data-station="rack-1"] '
            f"[data-field=athlete]').textContent === '{athlete.name}'",
        )
        run = asyncio.create_task(
            site.gym.run_set("rack-1", athlete.model, load=40, reps=6, rep_s=0.5),
            name="browser-set",
        )
        await wait_until(
            page,
            "document.querySelector('.tile[data-station=\"rack-1\"]')"
            ".dataset.state === 'set_active'",
        )
        rates = []
        reps_seen = set()
        while not run.done():
            rates.append(int(await page.evaluate("document.body.dataset.feedRate || '0'")))
            reps_seen.add(await tile_text(page, "rack-1", "setrep"))
            await asyncio.sleep(0.25)
        velocities = await run
        await wait_until(
            page,
            "document.querySelector('.tile[data-station=\"rack-1\"]').dataset.state === 'resting'",
        )
        # at least 5 updates a second in the page while the set ran (after the first second)
        steady = rates[4:-2]
        print(f"floor feed updates per second seen in the page during the set: {steady}")
        assert steady, rates
        assert min(steady) >= 5, rates
        assert len(reps_seen) >= 4  # the rep count moved on screen
        last = await tile_text(page, "rack-1", "velocity")
        assert f"{velocities[-1]:.2f} m/s" in last
        assert any(word in last for word in ("in zone", "above zone", "below zone"))
        status = await page.inner_text("#feed-status")
        assert "updates/s" in status


async def test_estop_by_keyboard_makes_the_station_safe_within_500_ms(
    panel: PanelServer, site: Site
) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[1]])
    await site.gym.check_in("rack-2", athlete.athlete_id, by="desk")
    adapter = site.gym.stations_by_id["rack-2"].adapter
    async with browser_page(panel, viewport=TABLET) as page:
        await page.goto(f"{panel.url}/stations/rack-2")
        await wait_until(page, "document.body.dataset.feedFrames !== undefined")
        run = asyncio.create_task(
            site.gym.run_set("rack-2", athlete.model, load=40, reps=20, rep_s=0.5),
            name="browser-set",
        )
        await wait_until(page, "document.querySelector('.station').dataset.state === 'set_active'")
        # the e-stop is reached from the top of the page with the Tab key
        await page.evaluate("document.activeElement.blur()")
        presses = 0
        while await page.evaluate("document.activeElement.dataset.estop || ''") != "rack-2":
            presses += 1
            assert presses <= 12, "the e-stop is not within 12 Tab presses"
            await page.keyboard.press("Tab")
        mark = len(adapter.commands)
        await page.keyboard.press("Enter")
        await wait_until(page, "document.body.dataset.lastEstopMs !== undefined")
        ms = int(await page.evaluate("document.body.dataset.lastEstopMs"))
        print(f"e-stop: key press to station shown safe in the page: {ms} ms")
        assert ms < 500, f"safe after {ms} ms"
        assert any(isinstance(c, EnterSafeState) for _, c in adapter.commands[mark:])
        await run  # the set stops by itself: the station left its set
        assert site.gym.station("rack-2").safe
        await wait_until(page, "document.querySelector('.station').dataset.state === 'estopped'")
        badge = await page.inner_text(".station .badge")
        assert "E-STOPPED" in badge  # a word next to the colour
        assert "Safe in" in await page.inner_text('[data-field="estop-result"]')
        # the shortcut works too, on another station's page
        await page.goto(f"{panel.url}/stations/rack-1")
        await wait_until(page, "document.body.dataset.feedFrames !== undefined")
        await page.keyboard.press("Shift+E")
        await wait_until(page, "document.body.dataset.lastEstopMs !== undefined")
        assert site.gym.station("rack-1").estopped


async def test_an_invalid_value_in_the_plan_editor_shows_its_message(
    panel: PanelServer, site: Site
) -> None:
    async with browser_page(panel, role="coach") as page:
        await page.goto(f"{panel.url}/plans/new")
        await page.fill("#title", "Jumps and squats")
        await page.fill('[id="sessions[0].blocks[0].exercise"]', "back_squat")
        field = '[id="sessions[0].blocks[0].reps.max"]'
        await page.fill(field, "1")
        await page.press(field, "Tab")  # the change triggers htmx's live check
        message = page.locator('[id="err-sessions-0-blocks-0-reps-max"]')
        await message.wait_for(state="visible")
        assert "min (3) must not exceed max (1)" in await message.inner_text()
        assert await page.get_attribute(field, "aria-invalid") == "true"
        # the message sits next to its field: the same table cell
        same_cell = await page.evaluate(
            "document.getElementById('err-sessions-0-blocks-0-reps-max').closest('td') === "
            "document.getElementById('sessions[0].blocks[0].reps.max').closest('td')"
        )
        assert same_cell
        focused = await page.evaluate("document.activeElement.id")
        assert focused == "sessions[0].blocks[0].load.kind"  # focus kept across the swap
        await page.fill(field, "5")
        await page.press(field, "Tab")
        await message.wait_for(state="detached")
        await page.click("button[value=save]")
        await page.wait_for_url(f"{panel.url}/plans/jumps-and-squats")
        assert "Jumps and squats" in await page.inner_text("h1")


async def test_export_then_erase_an_athlete(panel: PanelServer, site: Site) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[2]])
    publish_history(site.store, athlete, days=6)
    await site.flush()
    async with browser_page(panel, role="admin", viewport={"width": 1280, "height": 900}) as page:
        await page.goto(f"{panel.url}/data")
        await page.select_option("#export-athlete", athlete.athlete_id)
        async with page.expect_download() as download_info:
            await page.click("text=Download export")
        download = await download_info.value
        assert athlete.athlete_id in download.suggested_filename
        content = await asyncio.to_thread(Path(await download.path()).read_bytes)
        with zipfile.ZipFile(io.BytesIO(content)) as zf:
            assert "athlete.json" in zf.namelist()
            assert "csv/reps.csv" in zf.namelist()
        await page.select_option("#erase-athlete", athlete.athlete_id)
        erase = page.locator("#erase-form button[type=submit]")
        assert await erase.is_disabled()
        await page.fill("#erase-confirm", athlete.name + "x")
        assert await erase.is_disabled()
        await page.fill("#erase-confirm", athlete.name)
        assert await erase.is_enabled()
        await erase.click()
        await page.wait_for_url(f"{panel.url}/data?done=erased")
        assert "erased from every table" in await page.inner_text("main")
    await site.flush()
    conn = sqlite3.connect(site.path)
    try:
        for table in [*athlete_tables(conn), "athletes"]:
            column = "id" if table == "athletes" else "athlete_id"
            count = conn.execute(
                f'SELECT count(*) FROM "{table}" WHERE {column} = ?', (athlete.athlete_id,)
            ).fetchone()[0]
            assert count == 0, table
    finally:
        conn.close()


@pytest.mark.parametrize("viewport", [TABLET, TABLET_PORTRAIT], ids=["landscape", "portrait"])
async def test_tablet_screens_fit_and_colour_is_never_alone(
    panel: PanelServer, site: Site, viewport: dict[str, int]
) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.gym.check_in("rack-1", athlete.athlete_id, by="desk")
    await site.gym.run_set("rack-1", athlete.model, load=30, reps=2, rep_s=0.1)
    await site.gym.estop("rack-2", by="desk")
    async with browser_page(panel, role="coach", viewport=viewport) as page:
        for path in ("/floor", "/stations/rack-1", "/athletes", "/plans/new"):
            await page.goto(f"{panel.url}{path}")
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - window.innerWidth"
            )
            assert overflow <= 0, f"{path} scrolls sideways by {overflow}px"
        await page.goto(f"{panel.url}/floor")
        await wait_until(page, "document.querySelectorAll('.tile .zone').length > 0")
        for badge in await page.locator(".tile .badge").all():
            assert (await badge.inner_text()).strip()  # every state has its word
        for chip in await page.locator(".zone").all():
            text = await chip.inner_text()
            assert "m/s" in text
            assert "zone" in text
        await page.goto(f"{panel.url}/stations/rack-1")
        box = await page.locator("button.estop.big").bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= viewport["height"]  # e-stop visible without scrolling
        assert box["height"] >= 44
        assert box["width"] >= 44
