"""The live feed and the server, over a real socket: uvicorn on the test's own event loop."""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from controller.bus import EventBus
from controller.store import Store
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from tests.web_ui.bench_gym import BenchGym
from web_ui import PanelServer, PanelSettings, PanelStartError, create_app

from .conftest import FAST_HASHER, PASSWORD, USERS, Site
from .seed import add_athletes


@pytest.fixture
async def server(site: Site) -> AsyncIterator[PanelServer]:
    """The site's app served on a free loopback port (its lifespan already runs: a second
    app for the same site is made so the server runs the lifespan itself)."""
    app = create_app(site.gym, site.store, PanelSettings(password_hasher=FAST_HASHER))
    async with PanelServer(app, host="127.0.0.1", port=0) as panel:
        yield panel


async def signed_in(base: str, role: str = "front_desk") -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=10)
    response = await client.post(
        "/api/v1/auth/login",
        json={"username": USERS[role], "password": PASSWORD},  # type: ignore[index]
    )
    assert response.status_code == 200
    client.headers["X-CSRF-Token"] = response.json()["csrf_token"]
    return client


async def frames(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, object]]]:
    name = ""
    async for line in response.aiter_lines():
        if line.startswith("event: "):
            name = line.removeprefix("event: ")
        elif line.startswith("data: "):
            yield name, json.loads(line.removeprefix("data: "))


async def test_the_panel_runs_on_the_callers_event_loop(server: PanelServer, site: Site) -> None:
    loop = asyncio.get_running_loop()
    runtime = server.app.state.runtime
    assert runtime is not None
    names = {t.get_name() for t in asyncio.all_tasks(loop)}
    assert {"panel-server", "panel-live-floor", "panel-loop-lag"} <= names
    async with httpx.AsyncClient(base_url=server.url) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/api/v1/stations")).status_code == 401


async def test_the_floor_updates_at_least_five_times_a_second_while_a_set_runs(
    server: PanelServer, site: Site
) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[0]])
    await site.gym.check_in("rack-1", athlete.athlete_id, by="test")
    client = await signed_in(server.url)
    arrivals: list[float] = []
    states: list[str] = []
    try:
        async with client.stream("GET", "/api/v1/feed") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            set_task = asyncio.create_task(
                site.gym.run_set("rack-1", athlete.model, load=30, reps=6, rep_s=0.5),
                name="test-set",
            )
            async with asyncio.timeout(15):
                async for name, data in frames(response):
                    if name != "stations":
                        continue
                    for tile in data["stations"]:  # type: ignore[attr-defined]
                        if tile["station_id"] == "rack-1":
                            arrivals.append(time.monotonic())
                            states.append(tile["state"])
                    if set_task.done():
                        break
            await set_task
    finally:
        await client.aclose()
    active = [t for t, s in zip(arrivals, states, strict=True) if s == "set_active"]
    assert len(active) > 10
    span = active[-1] - active[0]
    rate = (len(active) - 1) / span
    gap = max(b - a for a, b in itertools.pairwise(active))
    print(
        f"floor feed: {rate:.1f} frames/s for the active station, longest gap {gap * 1000:.0f} ms"
    )
    assert rate >= 5.0, f"{rate:.1f} updates/s"
    assert max(b - a for a, b in itertools.pairwise(active)) < 0.5
    assert "resting" in states  # the end of the set came through too


async def test_the_station_feed_carries_the_trace_and_the_reps(
    server: PanelServer, site: Site
) -> None:
    (athlete,) = await add_athletes(site.store, [DEMO_ATHLETES[1]])
    await site.gym.check_in("rack-2", athlete.athlete_id, by="test")
    client = await signed_in(server.url)
    points = 0
    reps: list[dict[str, object]] = []
    try:
        async with client.stream("GET", "/api/v1/feed?station=rack-2") as response:
            velocities = asyncio.create_task(
                site.gym.run_set("rack-2", athlete.model, load=30, reps=3, rep_s=0.3),
                name="test-set",
            )
            async with asyncio.timeout(10):
                async for name, data in frames(response):
                    if name == "trace":
                        points += len(data["points"])  # type: ignore[arg-type]
                    elif name == "reps":
                        reps = data["reps"]  # type: ignore[assignment]
                    elif name == "stations":
                        ids = {t["station_id"] for t in data["stations"]}  # type: ignore[attr-defined]
                        assert ids == {"rack-2"}
                    if velocities.done() and len(reps) == 3:
                        break
            measured = await velocities
    finally:
        await client.aclose()
    assert points >= 3 * 0.3 * 25 * 0.8
    assert [r["velocity"] for r in reps] == pytest.approx(measured)
    assert all(r["zone_label"] for r in reps)


async def test_the_feed_ends_when_the_session_does(server: PanelServer, site: Site) -> None:
    from web_ui.routes import floor

    floor.REAUTH_EVERY_S, saved = 0.2, floor.REAUTH_EVERY_S
    client = await signed_in(server.url)
    try:
        async with client.stream("GET", "/api/v1/feed") as response:
            logout = await client.post("/api/v1/auth/logout")
            assert logout.status_code == 204
            async with asyncio.timeout(5):
                seen = [name async for name, _ in frames(response)]
        assert seen[-1] == "signed_out"
    finally:
        floor.REAUTH_EVERY_S = saved
        await client.aclose()


async def test_stopping_the_server_ends_open_feeds_promptly(site: Site) -> None:
    app = create_app(site.gym, site.store, PanelSettings(password_hasher=FAST_HASHER))
    panel = PanelServer(app, host="127.0.0.1", port=0)
    await panel.__aenter__()
    client = await signed_in(panel.url)
    try:
        async with client.stream("GET", "/api/v1/feed") as response:
            reader = asyncio.create_task(
                asyncio.wait_for(response.aread(), 10), name="test-read-feed"
            )
            await asyncio.sleep(0.3)
            started = time.monotonic()
            await panel.__aexit__(None, None, None)
            assert time.monotonic() - started < 2.0
            await reader
    finally:
        await client.aclose()


async def test_a_port_in_use_is_a_clear_error(site: Site) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = create_app(site.gym, site.store)
        with pytest.raises(PanelStartError, match=f"cannot listen on 127.0.0.1:{port}"):
            async with PanelServer(app, host="127.0.0.1", port=port):
                pass


async def test_a_failing_startup_is_reported_not_exited(tmp_path: Path) -> None:
    bus = EventBus()
    path = tmp_path / "gym.db"
    async with Store(path, bus=bus) as store, BenchGym(bus=bus, store=store) as gym:
        app = create_app(gym, store)
    path.unlink()  # the panel's lifespan cannot read its settings from the store
    with pytest.raises(PanelStartError):
        async with PanelServer(app, host="127.0.0.1", port=0):
            pass
