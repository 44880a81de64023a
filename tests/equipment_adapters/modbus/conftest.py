"""Helpers of the Modbus tests: a recorder of what an adapter delivers, and the foreign map."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable
from pathlib import Path

import pytest

from equipment_adapters.base import DeviceEvent, LinkChanged, LinkState, SequenceGap
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.modbus.link import TcpEndpoint
from equipment_adapters.modbus.rack import RackAdapter, RackOptions

FOREIGN_MAP = Path(__file__).parent / "maps" / "foreign-rack.toml"

#: Quick to give up and to come back: tests drive outages of a fraction of a second.
FAST = RackOptions(request_timeout=0.3, backoff_initial=0.05, backoff_max=0.4)


class Recorder:
    """Collects an adapter's batches and events; waits for conditions on them."""

    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self.events: list[DeviceEvent] = []
        self._changed = asyncio.Event()

    def on_batch(self, batch: SampleBatch) -> None:
        self.batches.append(batch)
        self._changed.set()

    def on_event(self, event: DeviceEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def channel(self, channel: Channel) -> list[SampleBatch]:
        return [b for b in self.batches if b.channel is channel]

    def samples(self, channel: Channel) -> int:
        return sum(len(b) for b in self.channel(channel))

    def gaps(self) -> list[SequenceGap]:
        return [e for e in self.events if isinstance(e, SequenceGap)]

    def links(self) -> list[LinkState]:
        return [e.state for e in self.events if isinstance(e, LinkChanged)]

    def of(self, kind: type[object]) -> list[object]:
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_for(self, condition: Callable[[], bool], within: float = 5.0) -> None:
        """Until ``condition()`` holds: checked at every delivery and every 20 ms."""
        async with asyncio.timeout(within):
            while not condition():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.02):
                        await self._changed.wait()
                self._changed.clear()

    def assert_contiguous(self, channel: Channel) -> int:
        """Every sample once, in order, timestamped by its sequence number."""
        batches = self.channel(channel)
        assert batches, f"no {channel} batches"
        for before, after in itertools.pairwise(batches):
            assert before.seq is not None
            assert after.seq == before.seq + len(before), (before.seq, len(before), after.seq)
        for batch in batches:
            assert batch.seq is not None
            assert batch.t0 == pytest.approx(batch.seq * batch.period)
        return sum(len(b) for b in batches)


def adapter_for(
    rack: RackEmulator, recorder: Recorder, *, options: RackOptions = FAST, name: str = "rack-1"
) -> RackAdapter:
    return RackAdapter(
        device_id=name,
        regmap=rack.regmap,
        endpoint=TcpEndpoint("127.0.0.1", rack.port),
        on_batch=recorder.on_batch,
        on_event=recorder.on_event,
        options=options,
    )
