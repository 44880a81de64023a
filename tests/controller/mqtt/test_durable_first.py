"""With the store as its commit feed, the bridge sends records only after their commit."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from controller.bus import EventBus
from controller.config import MqttConfig, StoreConfig
from controller.cues import stop_cue
from controller.events import CueEvent
from controller.mqtt import MqttBridge
from controller.mqtt.payloads import DURABLE_FIRST
from controller.store import Store
from controller.store.records import RECORDED
from tests.controller.polling import eventually
from tests.controller.store.conftest import rep

from .conftest import Mosquitto
from .test_bridge import subscriber

pytestmark = pytest.mark.mosquitto


def stored_reps(path: Path) -> int:
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM reps").fetchone()[0])
    finally:
        conn.close()


async def test_a_rep_goes_out_after_its_commit_and_a_cue_at_once(
    mosquitto: Mosquitto, tmp_path: Path
) -> None:
    bus = EventBus()
    db = tmp_path / "site.db"
    # a long commit interval makes the wait visible; ``flush`` ends it
    settings = StoreConfig(commit_interval_ms=3000)
    async with (
        Store(db, bus=bus, settings=settings, retention=False) as store,
        subscriber(mosquitto) as inbox,
    ):
        async with MqttBridge(
            settings=MqttConfig(host="127.0.0.1", port=mosquitto.port),
            site_id="test",
            bus=bus,
            durable=store,
            reconnect_min_s=0.1,
        ) as bridge:
            await asyncio.wait_for(bridge.wait_connected(), 5)
            bus.publish(rep(0))
            bus.publish(CueEvent(station_id="rack-1", cue=stop_cue()))
            bus.publish(rep(1))
            await eventually(lambda: len(inbox.on("/cue")) == 1)
            await asyncio.sleep(0.5)
            assert inbox.on("/rep") == []  # not committed yet: not sent
            assert stored_reps(db) == 0
            await store.flush()
            await eventually(lambda: len(inbox.on("/rep")) == 2)
            bus.publish(rep(2))
        # the bridge's clean stop had the store commit rep 2, then sent it
        await eventually(lambda: len(inbox.on("/rep")) == 3)
    assert [p["rep_index"] for p in inbox.on("/rep")] == [0, 1, 2]
    assert stored_reps(db) == 3
    out = [(t.rsplit("/", 1)[-1], p["seq"]) for t, p, _ in inbox.messages if "seq" in p]
    assert [leaf for leaf, _ in out] == ["cue", "rep", "rep", "rep"]
    assert [seq for _, seq in out] == sorted(seq for _, seq in out)  # given on leaving


def test_every_durable_first_record_is_one_the_store_records() -> None:
    """A type sent only after its commit must be one the store commits, or it never goes."""
    assert set(RECORDED) >= DURABLE_FIRST
