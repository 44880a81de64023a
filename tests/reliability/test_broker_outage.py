"""The MQTT broker (a real Mosquitto) down while stations train.

The stations keep training (no fault comes of it), and every rep, set and decision event
the bus carried reaches a subscriber after the broker is back, in the bus's order: the
bridge held them in its bounded outbox. With a small bound, the outbox never holds more
than the bound: the oldest events are dropped from MQTT (counted and alerted; the store
still has them) and the rest still go out in order.

The subscriber keeps a persistent session (``clean_session=False`` on a Mosquitto with
persistence), so that what the bridge sends before the subscriber is back is queued for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from controller.events import AlertSeverity, DecisionEvent, Event, RepEvent, SetEvent
from tests.controller.mqtt.conftest import Mosquitto, MosquittoFactory

from .rig import EmulatedSite, S, emulated_site, wait_for

pytestmark = pytest.mark.mosquitto

#: the outage of the long test; ``GYMCTL_BROKER_OUTAGE_S`` shortens it while developing
OUTAGE_S = float(os.environ.get("GYMCTL_BROKER_OUTAGE_S", "60"))
LEAF = {RepEvent: "rep", SetEvent: "set", DecisionEvent: "decision"}


@dataclass
class PersistentSubscriber:
    """A consumer with a persistent session, reconnecting while the broker is away."""

    port: int
    topic: str
    messages: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    connections: int = 0

    async def run(self) -> None:
        while True:
            try:
                async with aiomqtt.Client(
                    "127.0.0.1",
                    self.port,
                    identifier="reliability-consumer",
                    clean_session=False,
                ) as client:
                    await client.subscribe(self.topic, qos=1)
                    self.connections += 1
                    async for message in client.messages:
                        payload = json.loads(bytes(message.payload or b"") or b"null")
                        if isinstance(payload, dict):
                            self.messages.append((message.topic.value, payload))
            except aiomqtt.MqttError:
                await asyncio.sleep(0.1)

    def events(self) -> list[tuple[str, str | None, float, int]]:
        """(leaf, station, ts, seq) of rep, set and decision messages, first copies only."""
        seen: set[tuple[str, int]] = set()
        out = []
        for topic, payload in self.messages:
            leaf = topic.rsplit("/", 1)[-1]
            if leaf not in LEAF.values():
                continue
            key = (str(payload["boot"]), int(payload["seq"]))
            if key in seen:
                continue  # at least once: a copy after a lost acknowledgement
            seen.add(key)
            out.append((leaf, payload.get("station_id"), float(payload["ts"]), int(payload["seq"])))
        return out


@contextlib.asynccontextmanager
async def consumer(port: int) -> AsyncIterator[PersistentSubscriber]:
    sub = PersistentSubscriber(port, "gymctl/demo/station/#")
    task = asyncio.create_task(sub.run(), name="test-consumer")
    try:
        await wait_for(lambda: sub.connections > 0, within=10, what="the consumer connects")
        yield sub
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def expected(site: EmulatedSite, until: float) -> list[tuple[str, str | None, float]]:
    """The rep, set and decision events of stations the bus carried, in its order."""
    out: list[tuple[str, str | None, float]] = []
    for seen in site.recorder.seen:
        event: Event = seen.event
        leaf = LEAF.get(type(event))
        if leaf is not None and event.station_id is not None and event.ts <= until:
            out.append((leaf, event.station_id, event.ts))
    return out


@dataclass
class Outage:
    outage_s: float
    events_during: int  #: rep/set/decision events the bus carried while the broker was down
    reps_during: int
    max_backlog: int
    dropped: int
    recovered_s: float  #: broker back -> outbox empty


async def broker_outage(
    site: EmulatedSite,
    broker: Mosquitto,
    *,
    outage_s: float,
    flood_per_s: float = 0.0,
) -> Outage:
    """Stop the broker for ``outage_s``, sampling the outbox; start it again on the same
    port and wait until the outbox is empty. ``flood_per_s`` site alerts a second are
    raised meanwhile (staff notices: more events than the stations make, none of them
    changing what the stations do)."""
    bridge = site.gym.bridge
    assert bridge is not None
    max_backlog = 0
    broker.stop()
    down = time.time()
    started = time.monotonic()
    await wait_for(lambda: not bridge.connected, within=10, what="the bridge sees the outage")
    flooded = 0
    while True:
        max_backlog = max(max_backlog, bridge.stats().backlog)
        elapsed = time.monotonic() - started
        if elapsed >= outage_s:
            break
        while flooded < flood_per_s * elapsed:
            flooded += 1
            site.gym.alert("notice", f"notice {flooded}", severity=AlertSeverity.INFO)
        await asyncio.sleep(0.01)
    for runtime in site.gym.runtimes.values():  # training went on, nothing went safe
        assert runtime.state is not S.FAULT
    up = time.time()
    events_during = len([e for e in expected(site, up) if e[2] >= down])
    reps_during = len([e for e in expected(site, up) if e[2] >= down and e[0] == "rep"])
    broker.start()
    back = time.monotonic()
    await wait_for(lambda: bridge.connected, within=30, what="the bridge reconnects")
    await wait_for(lambda: bridge.stats().backlog == 0, within=30, what="the outbox drains")
    return Outage(
        back - started,
        events_during,
        reps_during,
        max_backlog,
        bridge.dropped,
        time.monotonic() - back,
    )


def mqtt_section(port: int, buffer_limit: int) -> str:
    return (
        f'[mqtt]\nhost = "127.0.0.1"\nport = {port}\ntelemetry_hz = 2.0\n'
        f"buffer_limit = {buffer_limit}\n"
    )


async def in_order_after(
    site: EmulatedSite, sub: PersistentSubscriber, cut: float, *, dropped: int = 0
) -> tuple[list[Any], list[Any]]:
    """What the bus carried up to ``cut`` and what the consumer saw of it, once it has all
    (or after 20 s: the caller's comparison then says what is missing)."""

    def got() -> list[tuple[str, str | None, float]]:
        return [(leaf, st, ts) for leaf, st, ts, _ in sub.events() if ts <= cut]

    with contextlib.suppress(AssertionError):
        await wait_for(
            lambda: len(got()) >= len(expected(site, cut)) - dropped,
            within=20,
            what="the consumer catches up",
        )
    await asyncio.sleep(0.2)  # a copy or a straggler would show now
    return expected(site, cut), got()


@pytest.mark.slow
async def test_a_broker_down_for_a_minute_loses_no_rep_set_or_decision(
    tmp_path: Path, mosquitto_factory: MosquittoFactory
) -> None:
    broker = mosquitto_factory(persistent=True, extra=("max_queued_messages 0",))
    broker.start()
    mqtt = mqtt_section(broker.port, 100_000)
    async with emulated_site(tmp_path, kinds=("rack", "rack"), mqtt=mqtt) as site:
        assert site.gym.bridge is not None
        await asyncio.wait_for(site.gym.bridge.wait_connected(), 10)
        async with consumer(broker.port) as sub:
            await wait_for(
                lambda: len(site.recorder.events(RepEvent)) >= 2,
                within=90,
                what="the stations train",
            )
            outage = await broker_outage(site, broker, outage_s=OUTAGE_S)
            cut = time.time()
            want, got = await in_order_after(site, sub, cut)
    seqs = [seq for *_, seq in sub.events()]
    print(
        f"\nbroker down {outage.outage_s:.0f} s: {outage.events_during} rep/set/decision events "
        f"({outage.reps_during} reps) buffered, outbox at most {outage.max_backlog}, "
        f"{outage.dropped} dropped, sent {outage.recovered_s:.1f} s after the broker was back"
    )
    assert outage.outage_s >= OUTAGE_S
    assert outage.reps_during > 0  # the stations kept training
    assert outage.dropped == 0
    assert outage.max_backlog > 0
    assert got == want  # every one, in the bus's order
    assert seqs == sorted(seqs)


async def test_the_outbox_bound_holds_while_the_broker_is_away(
    tmp_path: Path, mosquitto_factory: MosquittoFactory
) -> None:
    limit = 100  # the smallest the config allows
    broker = mosquitto_factory(persistent=True, extra=("max_queued_messages 0",))
    broker.start()
    async with emulated_site(
        tmp_path, kinds=("rack", "rack"), mqtt=mqtt_section(broker.port, limit)
    ) as site:
        bridge = site.gym.bridge
        assert bridge is not None
        await asyncio.wait_for(bridge.wait_connected(), 10)
        async with consumer(broker.port) as sub:
            outage = await broker_outage(site, broker, outage_s=8.0, flood_per_s=25.0)
            cut = time.time()
            want, _ = await in_order_after(site, sub, cut, dropped=outage.dropped)
            alerts = site.recorder.alerts("mqtt_outbox_full")
    got = [(leaf, st, ts) for leaf, st, ts, _ in sub.events() if ts <= cut]
    seqs = [seq for *_, seq in sub.events()]
    print(
        f"\noutbox bound {limit}: at most {outage.max_backlog} held over a "
        f"{outage.outage_s:.0f} s outage, {outage.dropped} dropped (alerted)"
    )
    assert outage.max_backlog <= limit
    assert outage.dropped >= 20
    assert alerts
    # what did go out is the bus's order with the dropped (oldest) ones missing
    assert set(got) <= set(want)
    assert [w for w in want if w in set(got)] == got
    assert len(want) - len(got) <= outage.dropped
    assert seqs == sorted(seqs)
