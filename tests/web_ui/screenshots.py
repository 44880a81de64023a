"""Screenshots of the panel's main pages for the README (``make screenshots``).

Runs a bench site (real bus, store, envelopes and state machines; ``bench_gym``) with weeks
of seeded history, serves the panel on a free loopback port with ``PanelServer``, plays
sets on two racks, e-stops a third, and drives Debian's Chromium with Playwright through
the pages at a desk size and a tablet size::

    python -m tests.web_ui.screenshots docs/screenshots
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher

from controller.bus import EventBus
from controller.config import StoreConfig
from controller.store import Store
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from tests.web_ui.bench_gym import BenchGym
from tests.web_ui.seed import SeededAthlete, add_athletes, add_plan, add_user, publish_history
from web_ui import PanelServer, PanelSettings, create_app

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STATIONS = (
    ("rack-1", "Rack 1"),
    ("rack-2", "Rack 2"),
    ("rack-3", "Rack 3"),
    ("rack-4", "Rack 4"),
)


@dataclass
class Demo:
    gym: BenchGym
    store: Store
    server: PanelServer
    athletes: list[SeededAthlete]
    username: str
    password: str


@contextlib.asynccontextmanager
async def demo_site(directory: Path) -> AsyncIterator[Demo]:
    """A bench site with history, a panel on a free port, and one admin."""
    bus = EventBus()
    hasher = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    password = secrets.token_urlsafe(12)
    async with Store(
        directory / "gym.db", bus=bus, settings=StoreConfig(commit_interval_ms=20)
    ) as store:
        await add_user(store, "maria", "admin", hasher.hash(password))
        athletes = await add_athletes(store, list(DEMO_ATHLETES))
        for athlete in athletes:
            publish_history(store, athlete)
        await add_plan(store)
        await asyncio.sleep(0)
        await store.writer.flush()
        async with BenchGym(
            bus=bus, store=store, stations=STATIONS, site_name="Riverside gym"
        ) as gym:
            app = create_app(gym, store, PanelSettings(password_hasher=hasher))
            async with PanelServer(app, host="127.0.0.1", port=0) as server:
                yield Demo(gym, store, server, athletes, "maria", password)


async def play(demo: Demo, stop: asyncio.Event) -> None:
    """Sets on racks 1 and 2 until ``stop``; rack 3 e-stopped mid-set; rack 4 idle."""
    gym, athletes = demo.gym, demo.athletes
    for station, athlete in zip(("rack-1", "rack-2", "rack-3"), athletes, strict=False):
        await gym.check_in(station, athlete.athlete_id, by="front desk")

    async def loop(station: str, athlete: SeededAthlete, load: float) -> None:
        while not stop.is_set():
            await gym.run_set(station, athlete.model, load=load, reps=6, rep_s=0.7)
            await asyncio.sleep(0.5)

    async def stopped() -> None:
        await gym.run_set("rack-3", athletes[2].model, load=80, reps=2, rep_s=0.5)
        await gym.estop("rack-3", by="maria", reason="athlete lost balance")

    async with asyncio.TaskGroup() as group:
        group.create_task(loop("rack-1", athletes[0], 70.0), name="play-rack-1")
        group.create_task(loop("rack-2", athletes[1], 100.0), name="play-rack-2")
        group.create_task(stopped(), name="play-rack-3")


async def take(out: Path) -> list[Path]:

    shots: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="gymctl-shots-") as tmp:
        async with demo_site(Path(tmp)) as demo:
            stop = asyncio.Event()
            async with asyncio.TaskGroup() as group:
                player = group.create_task(play(demo, stop), name="screenshots-play")
                try:
                    shots = await _browse(demo, out)
                finally:
                    stop.set()
                    await player
    return shots


async def _browse(demo: Demo, out: Path) -> list[Path]:
    from playwright.async_api import async_playwright

    base = demo.server.url
    athlete = demo.athletes[0].athlete_id
    shots: list[Path] = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for label, viewport in (("desk", (1366, 900)), ("tablet", (1024, 768))):
                context = await browser.new_context(
                    viewport={"width": viewport[0], "height": viewport[1]}
                )
                page = await context.new_page()
                await page.goto(f"{base}/login")
                if label == "desk":
                    shots.append(await _shot(page, out, "login", label))
                await page.fill("#username", demo.username)
                await page.fill("#password", demo.password)
                await page.click("button[type=submit]")
                await page.wait_for_url(f"{base}/floor")
                await wait_until(page, "Number(document.body.dataset.feedFrames || 0) > 5")
                await asyncio.sleep(1.5)
                shots.append(await _shot(page, out, "floor", label))
                await page.goto(f"{base}/stations/rack-1")
                await wait_until(page, "Number(document.body.dataset.feedFrames || 0) > 5")
                await asyncio.sleep(2.5)
                shots.append(await _shot(page, out, "station", label, full=True))
                if label == "desk":
                    await page.goto(f"{base}/athletes/{athlete}")
                    await asyncio.sleep(0.5)
                    shots.append(await _shot(page, out, "athlete", label, full=True))
                    await page.goto(f"{base}/plans/new")
                    await page.fill("#title", "Power, jumps and light squats")
                    await page.fill('[id="sessions[0].blocks[0].exercise"]', "back_squat")
                    await page.fill('[id="sessions[0].blocks[0].load.value"]', "140")
                    await page.press('[id="sessions[0].blocks[0].load.value"]', "Tab")
                    await page.wait_for_selector(".field-error")
                    shots.append(await _shot(page, out, "plan-editor", label))
                    await page.goto(f"{base}/data")
                    shots.append(await _shot(page, out, "data", label))
                    await page.goto(f"{base}/audit")
                    shots.append(await _shot(page, out, "audit", label))
                await context.close()
        finally:
            await browser.close()
    return shots


async def wait_until(page: object, expression: str, timeout_s: float = 10.0) -> None:
    """Poll a JavaScript expression (``page.wait_for_function`` evaluates strings inside
    the page, which the panel's Content-Security-Policy forbids; ``evaluate`` does not)."""
    for _ in range(round(timeout_s / 0.05)):
        if await page.evaluate(expression):  # type: ignore[attr-defined]
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"not true within {timeout_s} s: {expression}")


async def _shot(page: object, out: Path, name: str, label: str, *, full: bool = False) -> Path:
    path = out / f"{name}-{label}.png"
    await page.screenshot(path=str(path), full_page=full)  # type: ignore[attr-defined]
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, nargs="?", default=Path("docs/screenshots"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    shots = asyncio.run(take(args.out))
    for shot in shots:
        print(shot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
