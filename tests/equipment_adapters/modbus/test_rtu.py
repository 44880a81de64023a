"""The same adapter and emulator over Modbus RTU, through a pseudo-terminal pair."""

from __future__ import annotations

import asyncio

import pytest

from equipment_adapters.base import CueColour, DeviceCue, LinkState, SetLoad, ShowCue
from equipment_adapters.batch import Channel
from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.emulators.serial_line import PtyPair
from equipment_adapters.modbus.link import RtuEndpoint
from equipment_adapters.modbus.rack import RackAdapter, RackOptions
from tests.equipment_adapters.modbus.conftest import FAST, Recorder


async def test_rack_over_rtu_streams_and_takes_commands() -> None:
    recorder = Recorder()
    async with PtyPair() as line, RackEmulator(serial_port=line.port_a) as rack:
        adapter = RackAdapter(
            device_id="rtu-rack",
            regmap="reference-rack",
            endpoint=RtuEndpoint(line.port_b, baudrate=115200),
            on_batch=recorder.on_batch,
            on_event=recorder.on_event,
            options=FAST,
        )
        async with adapter:
            assert adapter.link is LinkState.CONNECTED
            rack.start_set("back_squat", reps=1)
            await adapter.apply(SetLoad(35.5))
            await adapter.apply(ShowCue(DeviceCue(text="RTU", colour=CueColour.YELLOW, number=1.5)))
            await recorder.wait_for(lambda: recorder.samples(Channel.POSITION_RIGHT) >= 1000)
            await recorder.wait_for(
                lambda: adapter.values.get("target_load") == pytest.approx(35.5)
            )
            state = rack.state
            assert state.target_load_kg == pytest.approx(35.5)
            assert (state.cue.text, state.cue.colour) == ("RTU", "yellow")
        assert line.bytes_a_to_b > 0
        assert line.bytes_b_to_a > 0
    for channel in (
        Channel.POSITION_LEFT,
        Channel.POSITION_RIGHT,
        Channel.FORCE_LEFT,
        Channel.FORCE_RIGHT,
    ):
        assert recorder.assert_contiguous(channel) >= 1000
    assert recorder.gaps() == []


async def test_rtu_line_that_goes_quiet_is_a_lost_link() -> None:
    recorder = Recorder()
    async with PtyPair() as line, RackEmulator(serial_port=line.port_a) as rack:
        adapter = RackAdapter(
            device_id="rtu-rack",
            regmap="reference-rack",
            endpoint=RtuEndpoint(line.port_b),
            on_batch=recorder.on_batch,
            on_event=recorder.on_event,
            options=RackOptions(request_timeout=0.1, backoff_initial=0.05, backoff_max=0.2),
        )
        async with adapter:
            await recorder.wait_for(lambda: adapter.stats.samples > 50)
            await rack.stop_serving()  # the device stops answering; the line stays open
            await recorder.wait_for(lambda: adapter.link is LinkState.DISCONNECTED)
            await asyncio.sleep(0.1)
            await rack.start_serving()
            await recorder.wait_for(lambda: adapter.stats.sessions >= 2, within=10)
            before = adapter.stats.samples
            await recorder.wait_for(lambda: adapter.stats.samples > before + 100)
    # back within the ring's second: nothing lost while the line was quiet
    recorder.assert_contiguous(Channel.FORCE_LEFT)
    assert recorder.gaps() == []
