"""Two sites, each with its controller and its own Mosquitto bridged to a central one.

Everything is real: the site controllers (``Gym`` with scripted racks and the session
runner), the site brokers run from the generated configuration, the central Mosquitto,
and the chain view's client reading it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from controller.chain.bridge_config import bridge_config
from controller.chain.model import ChainView
from controller.chain.monitor import ChainMonitor
from controller.config import parse_config
from controller.events import RepEvent
from tests.controller.mqtt.conftest import MOSQUITTO, Mosquitto, free_port
from tests.controller.mqtt.test_bridge import Inbox, subscriber
from tests.controller.polling import eventually
from tests.controller.site_rig import Site, site, site_config

from .brokers import SiteBroker

pytestmark = [pytest.mark.mosquitto, pytest.mark.slow]


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Mosquitto]:
    if not Path(MOSQUITTO).exists():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto)")
    directory = tmp_path / "central"
    directory.mkdir()
    broker = Mosquitto(directory=directory, persistent=True)
    broker.start()
    yield broker
    broker.stop()


def chain_mqtt(name: str, site_port: int, central_port: int) -> str:
    """The site config's [mqtt] and [chain] sections (both sites keep the local id 'test')."""
    return (
        f'[mqtt]\nhost = "127.0.0.1"\nport = {site_port}\n'
        f'[chain]\nname = "{name}"\ncentral_host = "127.0.0.1"\ncentral_port = {central_port}\n'
        "restart_min_s = 1\nrestart_max_s = 1\n"
    )


@contextlib.asynccontextmanager
async def chain_site(
    tmp_path: Path, name: str, central: Mosquitto
) -> AsyncIterator[tuple[Site, SiteBroker]]:
    directory = tmp_path / name
    directory.mkdir()
    mqtt = chain_mqtt(name, free_port(), central.port)
    config = parse_config(site_config(1, mqtt=mqtt), base_dir=directory)
    broker = SiteBroker(directory, bridge_config(config), config.mqtt.port)
    broker.start()
    try:
        async with site(directory, mqtt=mqtt) as rig:
            assert rig.gym.bridge is not None
            rig.gym.bridge.reconnect_max_s = 0.5  # come back quickly after the broker does
            yield rig, broker
    finally:
        broker.stop()


def reps_of(inbox: Inbox, name: str) -> set[tuple[str, int]]:
    """(set id, rep index) of the reps the centre got from site ``name``."""
    return {
        (p["set_id"], p["rep_index"])
        for t, p, _ in inbox.messages
        if t.startswith(f"chain/{name}/station/") and t.endswith("/rep")
    }


async def stored_reps(rig: Site) -> set[tuple[str, int]]:
    rows = await rig.gym.store.reader.query("SELECT set_id, rep_index FROM reps")
    return {(r["set_id"], r["rep_index"]) for r in rows}


async def keep_training(rig: Site, athlete: str) -> None:
    """Start a session whenever the last one ended, so the station always has work."""
    while True:
        runtime = rig.gym.runtime("rack-1")
        if runtime.session.session_id is None:
            with contextlib.suppress(Exception):
                await rig.gym.start_session("rack-1", rig.ids[athlete])
        await asyncio.sleep(0.2)


async def test_two_sites_seen_centrally_and_a_lost_site_catches_up(
    tmp_path: Path, central: Mosquitto
) -> None:
    view = ChainView("chain")
    async with contextlib.AsyncExitStack() as stack:
        monitor = await stack.enter_async_context(
            ChainMonitor(view, host="127.0.0.1", port=central.port, reconnect_max_s=0.5)
        )
        inbox = await stack.enter_async_context(subscriber(central, "chain/#"))

        def visible(name: str) -> bool:
            s = view.site(name)
            return (
                s is not None
                and s.online
                and "rack-1" in s.stations
                and s.stations["rack-1"].state is not None
            )

        # each site, with its station, at the centre within a second of its controller
        # connecting to its own broker
        seen_after: dict[str, float] = {}
        rigs: dict[str, tuple[Site, SiteBroker]] = {}
        for name in ("north", "south"):
            rigs[name] = await stack.enter_async_context(chain_site(tmp_path, name, central))
            bridge = rigs[name][0].gym.bridge
            assert bridge is not None
            await bridge.wait_connected()
            connected = time.monotonic()
            await eventually(partial(visible, name), within=1.0)
            seen_after[name] = time.monotonic() - connected
        (north, north_broker), (south, _) = rigs["north"], rigs["south"]
        assert visible("north")
        assert monitor.connected

        # a change at a site (a check-in) is at the centre within a second
        changed_after: dict[str, float] = {}
        for name, rig, athlete in (("north", north, "ath-ana"), ("south", south, "ath-ben")):
            station = (view.site(name) or _none).stations["rack-1"]
            before_state = station.state
            started = time.monotonic()
            await rig.gym.start_session("rack-1", rig.ids[athlete])
            await eventually(lambda: station.state != before_state, within=1.0)  # noqa: B023
            changed_after[name] = time.monotonic() - started

        async with asyncio.TaskGroup() as group:
            trainers = [
                group.create_task(keep_training(north, "ath-ana"), name="test-train-north"),
                group.create_task(keep_training(south, "ath-ben"), name="test-train-south"),
            ]
            try:
                await eventually(
                    lambda: all((view.site(n) or _none).reps >= 1 for n in ("north", "south")),
                    within=30,
                )

                # north's broker dies: north shows offline centrally, south stays online
                before = await stored_reps(north)
                north_broker.kill()
                killed = time.monotonic()
                await eventually(
                    lambda: (view.site("north") or _none).status == "offline", within=5
                )
                offline_after = time.monotonic() - killed
                assert (view.site("south") or _none).online

                # ... while north keeps training: reps go on being stored on site
                with north.gym.bus.subscribe("test-outage", types=(RepEvent,)) as during:
                    lifted: list[RepEvent] = []

                    def more_reps() -> bool:
                        lifted.extend(e for e in during.drain() if isinstance(e, RepEvent))
                        return len(lifted) >= 3

                    await eventually(more_reps, within=30)
                outage = {(e.set_id, e.rep_index) for e in lifted}
                stored: set[tuple[str, int]] = set()

                async def all_stored() -> bool:
                    stored.update(await stored_reps(north))
                    return outage <= stored

                await eventually_async(all_stored, within=5)  # the writer commits every 100 ms
                assert outage.isdisjoint(before)
                assert not outage & reps_of(inbox, "north")  # none of them reached the centre

                # the broker returns: north is online again and its queued reps arrive
                north_broker.start()
                await eventually(lambda: (view.site("north") or _none).online, within=10)
                await eventually(lambda: outage <= reps_of(inbox, "north"), within=15)
                assert (view.site("north") or _none).reps >= len(outage)
            finally:
                for task in trainers:
                    task.cancel()
        for rig in (north, south):
            with contextlib.suppress(Exception):
                await rig.gym.end_session("rack-1", by="coach")
    print(
        "sites at the centre after their controllers connected: "
        + ", ".join(f"{n} {t * 1000:.0f} ms" for n, t in seen_after.items())
        + "; a check-in there after: "
        + ", ".join(f"{n} {t * 1000:.0f} ms" for n, t in changed_after.items())
        + f"; north offline there {offline_after * 1000:.0f} ms after its broker died"
    )


async def eventually_async(condition: Callable[[], Awaitable[bool]], *, within: float) -> None:
    async with asyncio.timeout(within):
        while not await condition():  # noqa: ASYNC110 - a database to read, no event
            await asyncio.sleep(0.05)


class _NoSite:
    reps = 0
    stations: dict[str, Any] = {}  # noqa: RUF012 - a read-only stand-in
    status = "unknown"
    online = False


_none: Any = _NoSite()


async def test_while_the_centre_is_away_the_site_trains_and_its_broker_queues(
    tmp_path: Path, central: Mosquitto
) -> None:
    view = ChainView("chain")
    durable: dict[str, Any] = {"identifier": "test-chain-archive", "clean_session": False}
    async with contextlib.AsyncExitStack() as stack:
        monitor = await stack.enter_async_context(
            ChainMonitor(view, host="127.0.0.1", port=central.port, reconnect_max_s=0.5)
        )
        north, _ = await stack.enter_async_context(chain_site(tmp_path, "north", central))
        async with asyncio.TaskGroup() as group:
            trainer = group.create_task(keep_training(north, "ath-ana"), name="test-train-north")
            try:
                async with subscriber(central, "chain/#", **durable) as first:
                    await eventually(lambda: len(reps_of(first, "north")) >= 1, within=30)
                central.stop()  # the centre goes away (its sessions persist)
                await eventually(lambda: not monitor.connected, within=5)

                with north.gym.bus.subscribe("test-centre-away", types=(RepEvent,)) as during:
                    lifted: list[RepEvent] = []

                    def more_reps() -> bool:
                        lifted.extend(e for e in during.drain() if isinstance(e, RepEvent))
                        return len(lifted) >= 3

                    await eventually(more_reps, within=30)
                outage = {(e.set_id, e.rep_index) for e in lifted}
                assert north.gym.bridge is not None
                assert north.gym.bridge.connected

                central.start()
                async with subscriber(central, "chain/#", **durable) as second:
                    await eventually(lambda: outage <= reps_of(second, "north"), within=15)
                await eventually(lambda: (view.site("north") or _none).online, within=10)
            finally:
                trainer.cancel()
        with contextlib.suppress(Exception):
            await north.gym.end_session("rack-1", by="coach")
