"""The chain view's app: token access, the JSON, and the page live in headless Chromium.

The sites here are messages published to a real central Mosquitto as a site's bridge
would (``tests/controller/chain/test_chain_sites.py`` runs the real chain).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiomqtt
import httpx
import pytest

from controller.chain.model import ChainView
from controller.chain.monitor import ChainMonitor
from tests.controller.mqtt.conftest import MOSQUITTO, Mosquitto
from tests.controller.polling import eventually
from tests.web_ui.screenshots import CHROMIUM, CHROMIUM_ARGS, wait_until
from web_ui.hq import COOKIE, HqSettings, create_hq_app
from web_ui.server import PanelServer

pytestmark = pytest.mark.mosquitto

TOKEN = "hq-token-for-the-tests-0123456789"


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    broker = Mosquitto(directory=tmp_path)
    broker.start()
    yield broker
    broker.stop()


@contextlib.asynccontextmanager
async def hq(
    central: Mosquitto, token: str | None = TOKEN
) -> AsyncIterator[tuple[PanelServer, ChainMonitor]]:
    view = ChainView("chain")
    async with ChainMonitor(view, host=central.host, port=central.port) as monitor:
        app = create_hq_app(monitor, HqSettings(token=token, min_frame_s=0.05))
        async with PanelServer(app, host="127.0.0.1", port=0) as server:
            await eventually(lambda: monitor.connected, within=5)
            yield server, monitor


async def publish(central: Mosquitto, messages: list[tuple[str, Any, bool]]) -> None:
    async with aiomqtt.Client(central.host, central.port) as client:
        for topic, payload, retain in messages:
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            await client.publish(topic, raw, qos=1, retain=retain)


def two_sites() -> list[tuple[str, Any, bool]]:
    out: list[tuple[str, Any, bool]] = []
    for name, state in (("north", "set_active"), ("south", "idle")):
        out += [
            (f"chain/{name}/bridge/state", b"1", True),
            (f"chain/{name}/controller/status", b"online", True),
            (
                f"chain/{name}/station/rack-1/state",
                {"type": "state", "station_id": "rack-1", "ts": 1.0, "state": state},
                True,
            ),
        ]
    out.append(
        (
            "chain/north/station/rack-1/rep",
            {
                "type": "rep",
                "station_id": "rack-1",
                "ts": 2.0,
                "exercise": "back_squat",
                "set_index": 0,
                "rep_index": 0,
                "load": 80.0,
                "unit": "kg",
                "mean_velocity_ms": 0.71,
                "seq": 1,
                "boot": "b",
            },
            False,
        )
    )
    out.append(
        (
            "chain/south/station/rack-1/alert",
            {"severity": "critical", "code": "stale_data", "message": "rack-1 lost its data"},
            False,
        )
    )
    return out


async def test_the_api_needs_the_token(central: Mosquitto) -> None:
    async with hq(central) as (server, monitor):
        await publish(central, two_sites())
        await eventually(lambda: monitor.view.version >= 9, within=5)
        async with httpx.AsyncClient(base_url=server.url) as client:
            refused = await client.get("/api/v1/chain")
            assert refused.status_code == 401
            wrong = await client.get("/api/v1/chain", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            assert (await client.get("/")).status_code == 303  # to the sign-in page
            answer = await client.get("/api/v1/chain", headers={"Authorization": f"Bearer {TOKEN}"})
            assert answer.status_code == 200
            data = answer.json()
            assert data["central"]["connected"] is True
            assert [s["site"] for s in data["sites"]] == ["north", "south"]
            assert data["online"] == 2
            north, south = data["sites"]
            assert north["reps"] == 1
            assert north["stations"][0]["state_label"] == "Set active"
            assert south["alerts"][0]["code"] == "stale_data"
            assert "no-store" in answer.headers["cache-control"]
            assert "default-src 'self'" in answer.headers["content-security-policy"]


async def test_signing_in_sets_a_cookie_that_is_not_the_token(central: Mosquitto) -> None:
    async with hq(central) as (server, _), httpx.AsyncClient(base_url=server.url) as client:
        bad = await client.post("/login", data={"token": "wrong-token-xxxxxxxxxx"})
        assert bad.status_code == 401
        foreign = await client.post(
            "/login", data={"token": TOKEN}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert foreign.status_code == 403
        good = await client.post("/login", data={"token": TOKEN})
        assert good.status_code == 303
        cookie = client.cookies[COOKIE]
        assert TOKEN not in cookie
        assert "httponly" in good.headers["set-cookie"].lower()
        assert "samesite=strict" in good.headers["set-cookie"].lower()
        page = await client.get("/")
        assert page.status_code == 200
        assert "Chain" in page.text
        await client.post("/logout")
        assert (await client.get("/hq/events")).status_code == 303


async def read_frame(lines: AsyncIterator[str], event: str) -> str:
    """The data of the next SSE frame named ``event`` (other frames and comments skipped)."""
    name, data = "", list[str]()
    async for line in lines:
        if line == "":
            if name == event:
                return "\n".join(data)
            name, data = "", []
        elif line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])
    raise AssertionError(f"the stream ended before a {event!r} frame")


async def test_the_events_stream_sends_the_sites_when_they_change(central: Mosquitto) -> None:
    async with hq(central) as (server, monitor):
        await publish(central, two_sites())
        await eventually(lambda: monitor.view.version >= 9, within=5)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with (
            httpx.AsyncClient(base_url=server.url, timeout=10) as client,
            client.stream("GET", "/hq/events", headers=auth) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.aiter_lines()
            first = await read_frame(lines, "sites")
            assert first.startswith('<div id="chain"')
            assert 'data-site="north" data-status="online"' in first
            assert "2 of 2 sites online" in first
            await publish(central, [("chain/north/bridge/state", b"0", True)])
            second = await read_frame(lines, "sites")
            assert 'data-site="north" data-status="offline"' in second
            assert "1 of 2 sites online" in second
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get("/hq/events")).status_code == 303  # no token: sign in


async def test_without_a_token_the_view_is_open(central: Mosquitto) -> None:
    async with (
        hq(central, token=None) as (server, _),
        httpx.AsyncClient(base_url=server.url) as client,
    ):
        assert (await client.get("/api/v1/chain")).status_code == 200
        assert (await client.get("/login")).status_code == 303


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium package")
async def test_the_page_shows_every_site_and_a_site_going_offline(central: Mosquitto) -> None:
    from playwright.async_api import async_playwright

    async with hq(central) as (server, monitor):
        await publish(central, two_sites())
        await eventually(lambda: monitor.view.version >= 9, within=5)
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page(viewport={"width": 1280, "height": 900})
                requests: list[str] = []
                page.on("request", lambda r: requests.append(r.url))
                errors: list[str] = []
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.on(
                    "console",
                    lambda msg: errors.append(msg.text) if msg.type == "error" else None,
                )
                await page.goto(f"{server.url}/")
                await page.fill("#token", TOKEN)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{server.url}/")
                sites = await page.eval_on_selector_all(
                    ".hq-site", "els => els.map(e => [e.dataset.site, e.dataset.status])"
                )
                assert sites == [["north", "online"], ["south", "online"]]
                north = await page.inner_text('.hq-site[data-site="north"]')
                assert "Set active" in north
                assert "0.71 m/s" in north
                south = await page.inner_text('.hq-site[data-site="south"]')
                assert "rack-1 lost its data" in south

                # the site's broker dies: its bridge's will reaches the page by itself
                await publish(central, [("chain/north/bridge/state", b"0", True)])
                await wait_until(
                    page,
                    "document.querySelector('.hq-site[data-site=\"north\"]')"
                    ".dataset.status === 'offline'",
                )
                assert "link to the centre is down" in await page.inner_text(
                    '.hq-site[data-site="north"]'
                )
                assert "1 of 2 sites online" in await page.inner_text("#central-status")
                # pushed over the event stream, not polled
                assert int(await page.evaluate("document.body.dataset.hqFrames")) >= 1
                assert [u for u in requests if "/hq/events" in u] == [f"{server.url}/hq/events"]
                assert errors == [], errors  # no script error, no CSP violation
            finally:
                await browser.close()
