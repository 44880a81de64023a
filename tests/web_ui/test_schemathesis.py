"""Schemathesis against the panel's own OpenAPI schema: a real uvicorn server (in a thread
with its own event loop) over a real store file and a bench site of real stations,
authenticated with an admin's API token. Every operation, with valid and invalid data
(schemathesis's positive and negative modes): no answer is a 5xx."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode

from controller.bus import EventBus
from controller.config import StoreConfig
from controller.store import Store
from controller.store.people import create_api_token, hash_secret
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from tests.web_ui.bench_gym import BenchGym
from web_ui import PanelSettings, create_app
from web_ui.auth import new_token
from web_ui.server import PanelServer

from .conftest import FAST_HASHER, PASSWORD
from .seed import add_athletes, add_plan, add_user, publish_history

#: The live feed never ends (tested on a real server in test_feed.py); revoking tokens
#: would revoke the one this test runs with.
SKIPPED = {("GET", "/api/v1/feed"), ("DELETE", "/api/v1/tokens/{token_id}")}


@dataclass
class Served:
    url: str
    token: str
    schema: dict[str, Any]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """The panel on 127.0.0.1 (a free port) for one test (its loop, its worker threads)."""
    path = tmp_path / "gym.db"
    ready: dict[str, Any] = {}
    started = threading.Event()
    stop: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
    failure: list[BaseException] = []

    async def serve() -> None:
        bus = EventBus()
        async with Store(path, bus=bus, settings=StoreConfig(commit_interval_ms=5)) as store:
            user = await add_user(store, "alice", "admin", FAST_HASHER.hash(PASSWORD))
            token = new_token()
            await store.writer.call(
                partial(
                    create_api_token, user_id=user, name="schemathesis",
                    token_hash=hash_secret(token), expires=None,
                )
            )  # fmt: skip
            for athlete in await add_athletes(store, list(DEMO_ATHLETES[:2])):
                publish_history(store, athlete, days=5)
            await add_plan(store)
            async with BenchGym(bus=bus, store=store) as gym:
                app = create_app(gym, store, PanelSettings(password_hasher=FAST_HASHER))
                async with PanelServer(app, host="127.0.0.1", port=0) as server:
                    ready.update(url=server.url, token=token, schema=app.openapi())
                    stop.append((asyncio.get_running_loop(), asyncio.Event()))
                    started.set()
                    await stop[0][1].wait()

    def run() -> None:
        try:
            asyncio.run(serve())
        except BaseException as exc:
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=run, name="test-panel-server", daemon=True)
    thread.start()
    assert started.wait(30), "the panel did not start"
    if failure:
        raise failure[0]
    loop, done = stop[0]
    try:
        yield Served(**ready)
    finally:
        loop.call_soon_threadsafe(done.set)
        thread.join(30)
        assert not thread.is_alive()
        if failure:
            raise failure[0]


def operations(schema: dict[str, Any]) -> list[tuple[str, str]]:
    return sorted(
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if (method.upper(), path) not in SKIPPED
    )


def test_the_schema_covers_the_api(served: Served) -> None:
    ops = operations(served.schema)
    assert len(ops) > 30
    assert ("POST", "/api/v1/athletes/{athlete_id}/export") in ops
    # the schema itself needs a signed-in reader
    assert requests.get(f"{served.url}/openapi.json", timeout=5).status_code == 401


def test_no_operation_answers_with_a_server_error(served: Served) -> None:
    schema = schemathesis.openapi.from_dict(served.schema)
    headers = {"Authorization": f"Bearer {served.token}"}
    strategies = [
        schema[path][method].as_strategy(generation_mode=mode)
        for method, path in operations(served.schema)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
    ]
    session = requests.Session()
    seen: dict[int, int] = {}

    @settings(
        max_examples=400,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
    )
    @given(st.one_of(strategies))
    def check(case: Any) -> None:
        response = case.call(base_url=served.url, headers=headers, session=session, timeout=10)
        seen[response.status_code] = seen.get(response.status_code, 0) + 1
        assert response.status_code < 500, (
            f"{case.method} {case.formatted_path} -> {response.status_code}: "
            f"{response.text[:300]} (body {case.body!r:.200})"
        )

    check()
    session.close()
    print(f"schemathesis: {sum(seen.values())} requests, statuses {dict(sorted(seen.items()))}")
    assert sum(seen.values()) >= 200
    assert any(200 <= s < 300 for s in seen)  # the token works: not only refusals
    assert any(400 <= s < 500 for s in seen)  # and bad data was sent


def test_no_path_falls_outside_the_app(served: Served) -> None:
    """Odd paths and methods outside the schema: 401/404/405, never 5xx."""
    headers = {"Authorization": f"Bearer {served.token}"}
    for method, path in [
        ("GET", "/api/v1/../../etc/passwd"),
        ("GET", "/static/../web_ui/app.py"),
        ("GET", "/static/%2e%2e/app.py"),
        ("TRACE", "/api/v1/me"),
        ("PATCH", "/api/v1/athletes"),
        ("GET", "/api/v1/athletes/" + "a" * 5000),
        ("POST", "/api/v1/plans"),
    ]:
        response = requests.request(method, served.url + path, headers=headers, timeout=5)
        assert response.status_code < 500, (method, path, response.status_code)
        assert "import" not in response.text  # no source file leaks through /static


def test_a_deeply_nested_body_is_refused(served: Served) -> None:
    headers = {"Authorization": f"Bearer {served.token}", "Content-Type": "application/json"}
    response = requests.post(
        f"{served.url}/api/v1/plans", data="[" * 100_000, headers=headers, timeout=10
    )
    assert 400 <= response.status_code < 500
