"""Records reach MQTT only after the store committed them ("durable first").

The proof: the site runs in a process of its own against a real Mosquitto; a subscriber
records every rep message; the moment a new rep arrives while a station is in the middle
of a set, the process is killed with SIGKILL. Every rep the subscriber received must be in
the database (before durable-first, the rep just received was published up to a commit
interval before its commit, so it was nearly always missing).

The cost: in-process, with the default 100 ms commit interval, the delay from the bus to a
subscriber is measured for reps (they wait for the commit) and for cues (they do not), and
the order of the records over MQTT is the bus's.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import numpy as np
import pytest

from controller.events import CueEvent, DecisionEvent, Event, RepEvent, SetEvent
from tests.controller.mqtt.conftest import MosquittoFactory
from tests.controller.mqtt.test_bridge import subscriber

from .rig import S, committed_reps, emulated_site, wait_for
from .site_process import site_process

pytestmark = pytest.mark.mosquitto

LEAF = {RepEvent: "rep", SetEvent: "set", DecisionEvent: "decision"}


async def test_sigkill_every_rep_seen_over_mqtt_is_in_the_database(
    tmp_path: Path, mosquitto_factory: MosquittoFactory
) -> None:
    broker = mosquitto_factory()
    broker.start()
    db = tmp_path / "db" / "site.db"
    db.parent.mkdir()
    async with (
        subscriber(broker, "gymctl/#") as inbox,
        site_process(tmp_path, db, mqtt_port=broker.port) as site,
    ):

        def reps() -> list[tuple[str, int]]:
            return [(str(p["set_id"]), int(p["rep_index"])) for p in inbox.on("/rep")]

        await wait_for(
            lambda: len(reps()) >= 6 and "set_active" in site.last.get("states", {}).values(),
            within=120,
            what="reps over MQTT and a station in a set",
        )
        seen = len(reps())
        await wait_for(lambda: len(reps()) > seen, within=30, what="the next rep over MQTT")
        site.child.send_signal(signal.SIGKILL)  # at once: the rep just received is the newest
        await asyncio.wait_for(site.child.wait(), 10)
        received = reps()
    assert site.child.returncode == -signal.SIGKILL
    stored = await asyncio.to_thread(committed_reps, db)
    missing = sorted(set(received) - stored)
    print(
        f"\nSIGKILL right after a rep reached the subscriber: {len(received)} reps received "
        f"over MQTT, {len(stored)} in the database, {len(missing)} received but not stored"
    )
    assert not missing, f"reps a consumer received that the database lacks: {missing}"


async def test_records_wait_for_their_commit_in_order_and_cues_do_not(
    tmp_path: Path, mosquitto_factory: MosquittoFactory
) -> None:
    broker = mosquitto_factory()
    broker.start()
    mqtt = f'[mqtt]\nhost = "127.0.0.1"\nport = {broker.port}\ntelemetry_hz = 2.0\n'
    async with emulated_site(tmp_path, kinds=("rack", "rack"), mqtt=mqtt) as site:
        bridge = site.gym.bridge
        assert bridge is not None
        await asyncio.wait_for(bridge.wait_connected(), 10)
        arrived: dict[tuple[str, int], float] = {}
        async with subscriber(broker, "gymctl/#") as inbox:
            count = 0

            def note() -> bool:
                nonlocal count
                now = time.monotonic()
                for _, payload, _ in inbox.messages[count:]:
                    if isinstance(payload, dict) and "seq" in payload:
                        arrived.setdefault((str(payload["boot"]), int(payload["seq"])), now)
                count = len(inbox.messages)
                return len(inbox.on("/rep")) >= 25

            await wait_for(note, within=150, what="25 reps over MQTT")
            flushed_at = time.monotonic()
            await site.gym.store.flush()
            await asyncio.sleep(0.5)
            note()
            messages = list(inbox.messages)
    bus_at = {id(s.event): s.at for s in site.recorder.seen}

    def delays(kind: type[Event], leaf: str) -> list[float]:
        """Bus -> subscriber, matched by the event's timestamp and station."""
        at = {(e.station_id, e.ts): bus_at[id(e)] for e in site.recorder.events(kind)}
        out = []
        for topic, payload, _ in messages:
            if topic.endswith("/" + leaf) and isinstance(payload, dict):
                key = (payload.get("station_id"), float(payload["ts"]))
                got = arrived.get((str(payload["boot"]), int(payload["seq"])))
                if key in at and got is not None:
                    out.append(got - at[key])
        return out

    rep_delays, cue_delays = delays(RepEvent, "rep"), delays(CueEvent, "cue")
    assert len(rep_delays) >= 25
    assert len(cue_delays) >= 5
    rep_p50, rep_p99 = np.percentile(rep_delays, [50, 99]) * 1000
    cue_p50, cue_p99 = np.percentile(cue_delays, [50, 99]) * 1000
    print(
        f"\nbus -> MQTT subscriber, commit interval 100 ms: reps (after their commit) p50 "
        f"{rep_p50:.0f} ms, p99 {rep_p99:.0f} ms; cues (not waiting) p50 {cue_p50:.0f} ms, "
        f"p99 {cue_p99:.0f} ms ({len(rep_delays)} reps, {len(cue_delays)} cues)"
    )
    assert rep_p50 > cue_p50  # the reps did wait for a commit
    # the records came in the bus's order, with rising seq
    records = [s for s in site.recorder.seen if type(s.event) in LEAF and s.event.station_id]
    want = [(LEAF[type(s.event)], s.event.station_id, s.event.ts) for s in records]
    got = [
        (topic.rsplit("/", 1)[-1], p.get("station_id"), float(p["ts"]))
        for topic, p, _ in messages
        if topic.rsplit("/", 1)[-1] in LEAF.values() and isinstance(p, dict)
    ]
    assert got == want[: len(got)]
    assert len(got) >= sum(1 for s in records if s.at <= flushed_at)  # all committed went out
    # records and cues share one seq, given as each enters the outbox (retained states are
    # left out: the broker hands them over by topic, and they are sent again on reconnecting)
    seqs = [
        int(p["seq"])
        for topic, p, _ in messages
        if topic.rsplit("/", 1)[-1] in {*LEAF.values(), "cue"} and isinstance(p, dict)
    ]
    assert seqs == sorted(seqs)
    assert all(rt.state is not S.FAULT for rt in site.gym.runtimes.values())
