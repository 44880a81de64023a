"""The runtime's own costs: the event bus, the store writer, the MQTT bridge.

Each figure is a ratio against a bare baseline run in the same process, right before it, on
the same data, so the machine's speed cancels out:

* **bus** (``ratio_vs_deques``): reliable events published to three subscribers (what a
  site has: store, MQTT, panel) against appending the same events to three plain deques,
  the least any fan-out can do. Also the microseconds one ``publish`` costs the station
  loop.
* **store** (``ratio_vs_executemany``): reps recorded through ``StoreWriter`` (the loop
  enqueues, the writer thread builds rows and commits in batches, ``synchronous=FULL``)
  against the same rows inserted by one ``executemany`` in one transaction on a
  connection with the same pragmas. Also the microseconds ``record`` costs the loop, and
  the time from the first ``record`` to the ``flush`` that confirms the last one.
* **mqtt** (``ratio_vs_aiomqtt``): rep events through the bridge (bus, outbox, QoS 1 with
  acknowledgement, in order) against bare ``aiomqtt`` QoS 1 publishes of the same payloads
  one after the other, to the same broker (a Mosquitto started for the run when the binary
  exists, else the embedded amqtt broker).

Run: ``python -m benchmarks.runtime [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiomqtt

from controller.bus import EventBus
from controller.config import MqttConfig
from controller.events import Event, RepEvent
from controller.mqtt import EmbeddedBroker, MqttBridge
from controller.mqtt.payloads import message_for
from controller.mqtt.topics import Topics
from controller.store.records import Insert, rows_for
from controller.store.writer import StoreWriter
from kernels.reps import RepMetrics


def _rep(n: int) -> RepEvent:
    metrics = RepMetrics(n % 10, 0.0, 2.5, 1.4, 2.1, 0.55, 0.7, 0.72, 1.1, 0.7, 1.1, 0.3)
    return RepEvent(
        station_id=f"rack-{n % 8}",
        session_id=f"ses-{n // 1000}",
        set_id=f"set-{n // 10}",
        athlete_id="a-bench",
        exercise="back_squat",
        set_index=n // 10,
        rep_index=n % 10,
        load=100.0,
        unit="kg",
        metrics=metrics,
    )


@dataclass
class BusFigures:
    events: int
    events_per_s: float
    baseline_per_s: float
    ratio_vs_deques: float
    publish_us: float


@dataclass
class StoreFigures:
    reps: int
    reps_per_s: float
    baseline_per_s: float
    ratio_vs_executemany: float
    record_us: float  #: loop time per record() call
    batches: int


@dataclass
class MqttFigures:
    broker: str
    events: int
    events_per_s: float
    baseline_per_s: float
    ratio_vs_aiomqtt: float


@dataclass
class RuntimeBenchmark:
    bus: BusFigures
    store: StoreFigures
    mqtt: MqttFigures | None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def bench_bus(n: int, *, chunk: int = 100) -> BusFigures:
    """Publish in chunks of ``chunk`` events, each consumer draining between chunks (as the
    store, MQTT and panel tasks do), so that queues stay short, as they do on a site."""
    events: list[Event] = [_rep(i) for i in range(n)]
    chunks = [events[i : i + chunk] for i in range(0, n, chunk)]
    queues: list[deque[Event]] = [deque(), deque(), deque()]
    start = time.perf_counter()
    for part in chunks:
        for event in part:
            for q in queues:
                q.append(event)
        for q in queues:
            while q:
                q.popleft()
    baseline = time.perf_counter() - start
    bus = EventBus()
    subs = [bus.subscribe(name) for name in ("store", "mqtt", "panel")]
    received = 0
    publishing = 0.0
    start = time.perf_counter()
    for part in chunks:
        begin = time.perf_counter()
        for event in part:
            bus.publish(event)
        publishing += time.perf_counter() - begin
        for sub in subs:
            received += len(sub.drain())
    measured = time.perf_counter() - start
    assert received == 3 * n
    for sub in subs:
        sub.close()
    return BusFigures(n, n / measured, n / baseline, baseline / measured, publishing / n * 1e6)


def _bare_store(path: Path, events: list[RepEvent]) -> float:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE reps (" + ", ".join(_rep_columns()) + ")")
    conn.commit()
    start = time.perf_counter()
    rows = []
    for event in events:
        (insert,) = rows_for(event)
        assert isinstance(insert, Insert)
        rows.append(tuple(insert.row.values()))
    marks = ", ".join("?" * len(rows[0]))
    with conn:
        conn.executemany(f"INSERT INTO reps VALUES ({marks})", rows)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def _rep_columns() -> list[str]:
    (insert,) = rows_for(_rep(0))
    assert isinstance(insert, Insert)
    return list(insert.row)


async def bench_store(n: int, directory: Path) -> StoreFigures:
    events = [_rep(i) for i in range(n)]
    baseline = _bare_store(directory / "bare.db", events)
    async with StoreWriter(directory / "gym.db") as writer:
        start = time.perf_counter()
        for event in events:
            writer.record(event)
        enqueued = time.perf_counter() - start
        await writer.flush()
        measured = time.perf_counter() - start
        batches = writer.stats().batches
    return StoreFigures(
        n, n / measured, n / baseline, baseline / measured, enqueued / n * 1e6, batches
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def _broker() -> AsyncIterator[tuple[str, int]]:
    port = _free_port()
    mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if Path(mosquitto).exists():  # noqa: ASYNC240 - a stat before any event loop work
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "m.conf"
            config.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")
            process = subprocess.Popen(  # noqa: ASYNC220 - a daemon, not awaited
                [mosquitto, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            try:
                for _ in range(250):
                    with socket.socket() as s:
                        if s.connect_ex(("127.0.0.1", port)) == 0:
                            break
                    await asyncio.sleep(0.02)
                yield "mosquitto", port
            finally:
                process.terminate()
                process.wait(timeout=5)
    else:
        async with EmbeddedBroker(port=port):
            yield "amqtt (embedded)", port


async def bench_mqtt(n: int) -> MqttFigures:
    topics = Topics("gymctl", "bench")
    events = [_rep(i) for i in range(n)]
    messages = [
        message_for(e, topics, personal_data=(), seq=i, boot="bench") for i, e in enumerate(events)
    ]
    async with _broker() as (name, port):
        async with aiomqtt.Client("127.0.0.1", port) as client:
            start = time.perf_counter()
            for message in messages:
                assert message is not None
                await client.publish(message.topic, message.payload, qos=1)
            baseline = time.perf_counter() - start
        bus = EventBus()
        bridge = MqttBridge(
            settings=MqttConfig(host="127.0.0.1", port=port, telemetry_hz=0),
            site_id="bench",
            bus=bus,
        )
        async with bridge:
            await bridge.wait_connected()
            await asyncio.sleep(0.1)
            base = bridge.published
            start = time.perf_counter()
            for event in events:
                bus.publish(event)
            while bridge.published - base < n:  # noqa: ASYNC110 - polling a counter
                await asyncio.sleep(0.001)
            measured = time.perf_counter() - start
    return MqttFigures(name, n, n / measured, n / baseline, baseline / measured)


async def run(
    *, bus_events: int = 200_000, reps: int = 50_000, mqtt_events: int = 5_000, mqtt: bool = True
) -> RuntimeBenchmark:
    with tempfile.TemporaryDirectory() as tmp:
        store = await bench_store(reps, Path(tmp))
    return RuntimeBenchmark(
        bus=bench_bus(bus_events),
        store=store,
        mqtt=await bench_mqtt(mqtt_events) if mqtt else None,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.runtime", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--json", action="store_true", help="one JSON object")
    parser.add_argument("--quick", action="store_true", help="smaller counts")
    parser.add_argument("--no-mqtt", action="store_true", help="skip the broker measurement")
    args = parser.parse_args(argv)
    scale = 10 if args.quick else 1
    result = asyncio.run(
        run(
            bus_events=200_000 // scale,
            reps=50_000 // scale,
            mqtt_events=5_000 // scale,
            mqtt=not args.no_mqtt,
        )
    )
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    b, s, m = result.bus, result.store, result.mqtt
    print(
        f"bus    {b.events_per_s:12,.0f} events/s  ({b.ratio_vs_deques:.2f} x three deques, "
        f"{b.publish_us:.2f} us per publish)"
    )
    print(
        f"store  {s.reps_per_s:12,.0f} reps/s    ({s.ratio_vs_executemany:.2f} x executemany, "
        f"{s.record_us:.2f} us per record on the loop, {s.batches} commits)"
    )
    if m is not None:
        print(
            f"mqtt   {m.events_per_s:12,.0f} events/s  ({m.ratio_vs_aiomqtt:.2f} x bare aiomqtt "
            f"QoS 1, {m.broker})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
