"""The panel under test: a real store file, the real bus, a bench site of real stations
(``bench_gym``), the app with its lifespan running, and one account per role."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI

from controller.bus import EventBus
from controller.config import StoreConfig
from controller.store import Store
from controller.store.people import Role
from tests.web_ui.bench_gym import BenchGym
from tests.web_ui.seed import add_user
from web_ui import PanelSettings, create_app
from web_ui.runtime import PanelRuntime

#: argon2id with small costs: the tests sign in often (production uses the RFC defaults)
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
PASSWORD = "correct horse battery staple"
USERS: dict[Role, str] = {"admin": "alice", "coach": "carl", "front_desk": "fiona"}
CLIENT_IP = "10.0.0.7"


@dataclass
class Site:
    bus: EventBus
    store: Store
    gym: BenchGym
    app: FastAPI
    path: Path

    @property
    def runtime(self) -> PanelRuntime:
        rt: PanelRuntime = self.app.state.runtime
        return rt

    def client(
        self, *, base_url: str = "http://panel.test", ip: str = CLIENT_IP
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=(ip, 40000)),
            base_url=base_url,
            follow_redirects=False,
        )

    async def flush(self) -> None:
        """Let the bus recorder hand over what was published, and wait for the commit."""
        for _ in range(3):
            await asyncio.sleep(0)
        await self.store.writer.flush()


async def login(client: httpx.AsyncClient, role: Role, password: str = PASSWORD) -> str:
    """Sign in through the JSON login; returns the session's CSRF token."""
    response = await client.post(
        "/api/v1/auth/login", json={"username": USERS[role], "password": password}
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["csrf_token"]
    return token


def hidden(html: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert match is not None, f"no hidden field {name!r}"
    return match[1]


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    bus = EventBus()
    path = tmp_path / "gym.db"
    async with Store(path, bus=bus, settings=StoreConfig(commit_interval_ms=5)) as store:
        for role, username in USERS.items():
            await add_user(store, username, role, FAST_HASHER.hash(PASSWORD))
        async with BenchGym(bus=bus, store=store) as gym:
            app = create_app(gym, store, PanelSettings(password_hasher=FAST_HASHER))
            async with app.router.lifespan_context(app):
                yield Site(bus, store, gym, app, path)


@pytest.fixture
async def client(site: Site) -> AsyncIterator[httpx.AsyncClient]:
    async with site.client() as c:
        yield c
