"""An in-test Adapter that records every command it is given (the adapter boundary).

Used by the envelope's property and unit tests; the integration tests drive the real
emulators through the real adapters instead.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType
from typing import Self

import numpy as np

from equipment_adapters.base import (
    Adapter,
    BatchSink,
    Capabilities,
    Command,
    EquipmentKind,
    EventSink,
    LinkState,
    LoadRange,
    LoadUnit,
    ModeKind,
)
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.errors import DeviceUnavailableError

RACK_LOAD = LoadRange(
    LoadUnit.KG, minimum=0.0, maximum=200.0, increment=0.5, max_increase_per_s=100.0
)


def rack_capabilities(*, cue_display: bool = True) -> Capabilities:
    return Capabilities(
        kind=EquipmentKind.RACK,
        model="recording-rack",
        channels=frozenset({Channel.POSITION}),
        load=RACK_LOAD,
        modes=frozenset({ModeKind.STANDARD, ModeKind.ECCENTRIC, ModeKind.SPOTTER}),
        cue_display=cue_display,
    )


def band_capabilities() -> Capabilities:
    return Capabilities(
        kind=EquipmentKind.BAND,
        model="recording-band",
        channels=frozenset({Channel.TENSION}),
        cue_display=True,
    )


class RecordingAdapter(Adapter):
    """Records ``(monotonic time, command)``; can be made slow or failing."""

    def __init__(
        self,
        device_id: str,
        capabilities: Capabilities,
        *,
        on_batch: BatchSink | None = None,
        on_event: EventSink | None = None,
    ) -> None:
        super().__init__(
            device_id=device_id, on_batch=on_batch or (lambda batch: None), on_event=on_event
        )
        self._capabilities = capabilities
        self.commands: list[tuple[float, Command]] = []  #: (time the apply returned, command)
        self.entered: list[float] = []  #: time each recorded apply began
        self.delay_s = 0.0
        self.fail_with: Exception | None = None
        self.hang = False

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    async def apply(self, command: Command) -> None:
        entered = time.monotonic()
        if self.hang:
            await asyncio.sleep(3600)
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self._link is not LinkState.CONNECTED:
            raise DeviceUnavailableError("not connected", device_id=self.device_id)
        if self.fail_with is not None:
            raise self.fail_with
        self.entered.append(entered)
        self.commands.append((time.monotonic(), command))

    def deliver(
        self, n: int = 10, *, channel: Channel = Channel.POSITION, value: float = 0.0
    ) -> None:
        """A batch of samples arrives now (keeps the actuator's data fresh)."""
        self._deliver(
            SampleBatch(
                self.device_id, channel, 0.0, 0.01, np.full(n, value), received=time.monotonic()
            )
        )

    def set_link(self, state: LinkState, reason: str = "") -> None:
        self._set_link(state, reason)

    async def __aenter__(self) -> Self:
        self._set_link(LinkState.CONNECTED)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._set_link(LinkState.DISCONNECTED)
