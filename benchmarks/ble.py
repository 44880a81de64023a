"""BLE notification throughput: codec and adapter into sample batches, against bare bumble.

Both paths run in the same process on the same virtual air, fed by the same sender: an
emulated band notifying packed sample batches (16 samples each) as fast as bumble's GATT
server sends them. The *bare* path is a bumble GATT client subscription that only counts
notifications; the *adapter* path is gymctl's ``BandAdapter``: unmodified bleak code on
the bumble backend, the band codec (``np.frombuffer``) and two ``SampleBatch``es per
notification delivered to a callback. ``ratio_vs_bare`` is what the adapter stack keeps of
the bare rate (the goal is at least 0.7).

Rates are per second of this process's CPU time (``time.process_time``): everything runs
on one thread, so CPU time is the cost of the path, and unlike wall time it does not swing
when other processes load the machine. Wall-clock rates are reported beside them. Rounds
alternate between the two paths and the medians are compared.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from bumble import core
from bumble.device import Connection, Peer

from equipment_adapters.batch import SampleBatch
from equipment_adapters.ble import BandAdapter, LinkOptions, VirtualAir, uuids
from equipment_adapters.ble.codecs import band as codec
from equipment_adapters.emulators.band import BandEmulator


@dataclass(frozen=True, slots=True)
class BleBenchResult:
    notifications: int
    rounds: int
    samples_per_notification: int
    bare_notifications_per_s: float
    notifications_per_s: float
    samples_per_s: float
    ratio_vs_bare: float
    wall_bare_notifications_per_s: float
    wall_notifications_per_s: float

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _payloads(count: int, per: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    rows = rng.normal(0.0, 1.0, (per, 7))
    rows[:, 3] += 9.81
    return [
        codec.encode_band_samples(
            (i * per) & 0xFFFF,
            i * per * 0.01,
            0.01,
            tension_n=100 + rows[:, 0],
            accel_ms2=rows[:, 1:4],
            gyro_rads=rows[:, 4:7] * 0.01,
        )
        for i in range(count)
    ]


async def _send(band: BandEmulator, connection: Connection, payloads: list[bytes]) -> None:
    for payload in payloads:
        await band.device.notify_subscriber(connection, band.samples_char, payload)


async def _wait(predicate: Any, limit_s: float = 60.0) -> None:
    async with asyncio.timeout(limit_s):
        while not predicate():  # noqa: ASYNC110 - counters of a synchronous callback
            await asyncio.sleep(0.0005)


Rates = tuple[float, float]  #: (per CPU second, per wall second)


def _rates(count: int, cpu0: float, wall0: float) -> Rates:
    return count / (time.process_time() - cpu0), count / (time.perf_counter() - wall0)


async def _bare_round(air: VirtualAir, band: BandEmulator, payloads: list[bytes]) -> Rates:
    connection = await air.central.connect(band.device.random_address)
    try:
        peer = Peer(connection)
        await peer.request_mtu(247)
        await peer.discover_services()
        for service in peer.services:
            await service.discover_characteristics()
        characteristic = peer.get_characteristics_by_uuid(core.UUID(uuids.BAND_SAMPLES))[0]
        received = 0

        def count(_value: bytes) -> None:
            nonlocal received
            received += 1

        await peer.subscribe(characteristic, count)
        server_side = band.connections[0]
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await _send(band, server_side, payloads)
        await _wait(lambda: received >= len(payloads))
        return _rates(len(payloads), cpu0, wall0)
    finally:
        await connection.disconnect()


async def _adapter_round(air: VirtualAir, band: BandEmulator, payloads: list[bytes]) -> Rates:
    batches = 0

    def count(_batch: SampleBatch) -> None:
        nonlocal batches
        batches += 1

    options = LinkOptions(scan_timeout_s=5.0, freshness_timeout_s=60.0)
    async with BandAdapter(
        device_id="bench", on_batch=count, backend=air.backend, options=options
    ) as adapter:
        if adapter.client is None:
            raise RuntimeError("the band adapter did not connect")
        server_side = band.connections[0]
        await asyncio.sleep(0.05)
        batches = 0
        cpu0, wall0 = time.process_time(), time.perf_counter()
        await _send(band, server_side, payloads)
        await _wait(lambda: batches >= 2 * len(payloads))
        return _rates(len(payloads), cpu0, wall0)


async def run_ble_bench(notifications: int = 1000, rounds: int = 9) -> BleBenchResult:
    """One warm-up pair, then ``rounds`` pairs of back-to-back bare and adapter rounds in
    alternating order; the ratio is the median of the pairs' ratios (a pair sees the same
    machine load), the rates the medians of the rounds."""
    if notifications < 1 or rounds < 1:
        raise ValueError("notifications and rounds must be at least 1")
    per = codec.samples_per_notification(247)
    payloads = _payloads(notifications, per)
    bare: list[Rates] = []
    adapter: list[Rates] = []
    # the band's own model is parked (an hour between ticks): the bench sends
    async with (
        VirtualAir() as air,
        BandEmulator(air, name="bench band", tick_s=3600.0) as band,
    ):
        await _bare_round(air, band, payloads[: min(200, notifications)])
        await _adapter_round(air, band, payloads[: min(200, notifications)])
        for index in range(rounds):
            if index % 2:
                adapter.append(await _adapter_round(air, band, payloads))
                bare.append(await _bare_round(air, band, payloads))
            else:
                bare.append(await _bare_round(air, band, payloads))
                adapter.append(await _adapter_round(air, band, payloads))
    bare_rate = statistics.median(r[0] for r in bare)
    adapter_rate = statistics.median(r[0] for r in adapter)
    ratio = statistics.median(a[0] / b[0] for a, b in zip(adapter, bare, strict=True))
    return BleBenchResult(
        notifications=notifications,
        rounds=rounds,
        samples_per_notification=per,
        bare_notifications_per_s=round(bare_rate, 1),
        notifications_per_s=round(adapter_rate, 1),
        samples_per_s=round(adapter_rate * per, 1),
        ratio_vs_bare=round(ratio, 3),
        wall_bare_notifications_per_s=round(statistics.median(r[1] for r in bare), 1),
        wall_notifications_per_s=round(statistics.median(r[1] for r in adapter), 1),
    )
