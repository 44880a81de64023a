"""Fixtures: a virtual BLE air per test, fast link options, a recorder of batches/events."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from equipment_adapters.base import DeviceEvent, LinkChanged, LinkState
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.ble import Backoff, LinkOptions, VirtualAir

FAST = LinkOptions(
    scan_timeout_s=1.0,
    connect_timeout_s=2.0,
    freshness_timeout_s=1.5,
    backoff=Backoff(initial_s=0.05, factor=2.0, maximum_s=0.4, jitter=0.1),
)


@dataclass
class Recorder:
    batches: list[SampleBatch] = field(default_factory=list)
    events: list[DeviceEvent] = field(default_factory=list)

    def batch(self, b: SampleBatch) -> None:
        self.batches.append(b)

    def event(self, e: DeviceEvent) -> None:
        self.events.append(e)

    def channel(self, channel: Channel) -> list[SampleBatch]:
        return [b for b in self.batches if b.channel is channel]

    def links(self) -> list[LinkState]:
        return [e.state for e in self.events if isinstance(e, LinkChanged)]


@pytest.fixture
async def air() -> AsyncIterator[VirtualAir]:
    async with VirtualAir() as a:
        yield a


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


async def eventually(predicate: Callable[[], Any], within: float = 5.0) -> None:
    """Wait until ``predicate()`` holds (it reads plain state, so it is polled)."""
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - no event to wait on: state is polled
            await asyncio.sleep(0.01)
