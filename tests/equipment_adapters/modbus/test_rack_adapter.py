"""The rack adapter against the emulated reference rack over Modbus TCP."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools

import numpy as np
import pytest

from equipment_adapters.base import (
    CueColour,
    DeviceCue,
    DeviceFault,
    EnterSafeState,
    EstopButton,
    LinkState,
    ModeKind,
    ResetFault,
    ResistanceMode,
    SetLoad,
    SetMode,
    ShowCue,
)
from equipment_adapters.batch import Channel
from equipment_adapters.emulators.athlete import DEMO_ATHLETES
from equipment_adapters.emulators.rack import RackEmulator
from equipment_adapters.errors import (
    DeviceUnavailableError,
    ModbusExceptionError,
    ProtocolError,
)
from equipment_adapters.modbus.rack import RackOptions
from kernels.errors import InvalidInputError
from tests.equipment_adapters.modbus.conftest import FAST, Recorder, adapter_for

DUAL = (Channel.POSITION_LEFT, Channel.POSITION_RIGHT, Channel.FORCE_LEFT, Channel.FORCE_RIGHT)


async def test_streams_every_sample_once_per_channel() -> None:
    recorder = Recorder()
    async with (
        RackEmulator(athlete=DEMO_ATHLETES[0]) as rack,
        adapter_for(rack, recorder) as adapter,
    ):
        assert adapter.connected
        assert adapter.link is LinkState.CONNECTED
        rack.start_set("back_squat", reps=1)
        async with asyncio.timeout(10):
            await rack.wait_set()
        stats = adapter.stats
    counts = {channel: recorder.assert_contiguous(channel) for channel in DUAL}
    assert len(set(counts.values())) == 1
    assert recorder.gaps() == []
    assert stats.gaps == 0
    # one batch per channel per poll, the FIFO's own period
    first = recorder.channel(Channel.POSITION_LEFT)[0]
    assert first.period == pytest.approx(0.001)
    assert first.device_id == "rack-1"
    # the athlete moved the bar: the cable went down and up by about the range of motion
    left = np.concatenate([b.values for b in recorder.channel(Channel.POSITION_LEFT)])
    rom = DEMO_ATHLETES[0].lift("back_squat").rom_m
    assert np.ptp(left) == pytest.approx(rom * (1 + DEMO_ATHLETES[0].asymmetry / 2), abs=0.01)
    assert adapter.capabilities.sides == 2


async def test_load_ramps_on_the_device_and_the_force_follows() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack, adapter_for(rack, recorder) as adapter:
        await adapter.apply(SetLoad(40.0))
        assert rack.state.target_load_kg == pytest.approx(40.0)
        assert rack.state.actual_load_kg < 40.0  # ramping at 20 kg/s
        await recorder.wait_for(lambda: adapter.values.get("actual_load") == pytest.approx(40.0))
        rack.start_set("back_squat", reps=1)
        await asyncio.sleep(0.5)  # the athlete holds the bar at the top during the setup
        right = recorder.channel(Channel.FORCE_RIGHT)[-1].values
        left = recorder.channel(Channel.FORCE_LEFT)[-1].values
    total = float(np.mean(left + right))
    assert total == pytest.approx(40.0 * 9.80665, rel=0.03)


async def test_modes_and_cues_reach_the_device() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack, adapter_for(rack, recorder) as adapter:
        await adapter.apply(SetMode(ResistanceMode(ModeKind.ECCENTRIC, eccentric_pct=30)))
        state = rack.state
        assert (state.mode, state.eccentric_pct, state.spotter) == ("eccentric", 30, False)
        await adapter.apply(SetMode(ResistanceMode(ModeKind.CHAINS, chains_kg_per_m=12.5)))
        state = rack.state
        assert (state.mode, state.chains_kg_per_m) == ("chains", 12.5)
        await adapter.apply(SetMode(ResistanceMode(ModeKind.SPOTTER, spotter_velocity_ms=0.3)))
        state = rack.state
        assert (state.mode, state.spotter, state.spotter_threshold_ms) == ("standard", True, 0.3)
        await adapter.apply(
            ShowCue(DeviceCue(text="0.72 m/s  GOOD", colour=CueColour.GREEN, number=0.72))
        )
        cue = rack.state.cue
        assert (cue.colour, cue.text) == ("green", "0.72 m/s  GOOD")
        assert cue.number == pytest.approx(0.72)
        # longer than the display: cut at 16 bytes, never splitting a character
        await adapter.apply(ShowCue(DeviceCue(text="vélocité moyenne 0.5")))
        assert rack.state.cue.text == "vélocité moyen"
        await adapter.apply(EnterSafeState())
        state = rack.state
        assert (state.target_load_kg, state.mode, state.spotter, state.cue.colour) == (
            0,
            "standard",
            False,
            "off",
        )


async def test_bad_commands_are_refused_before_any_write() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack, adapter_for(rack, recorder) as adapter:
        with pytest.raises(
            InvalidInputError, match=r"point 'target_load': 250.0 kg is above the maximum 220.0 kg"
        ):
            await adapter.apply(SetLoad(250.0))
        with pytest.raises(InvalidInputError, match="point 'eccentric_pct'"):
            await adapter.apply(SetMode(ResistanceMode(ModeKind.ECCENTRIC, eccentric_pct=150)))
        assert rack.state.target_load_kg == 0
        assert rack.state.mode == "standard"


async def test_device_exceptions_are_mapped_and_polling_carries_on() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack, adapter_for(rack, recorder) as adapter:
        rack.fail_requests(4)
        with pytest.raises(ModbusExceptionError) as info:
            await adapter.apply(SetLoad(10.0))
        error = info.value
        assert isinstance(error, ProtocolError)
        assert (error.code, error.function, error.address) == (4, 6, 0)
        assert "server device failure" in str(error)
        # Refused reads are reported as a fault when they start, not on every tick, and
        # the polls go on. Five refusals in a row hit the FIFO poller's counter reads
        # (and maybe one status or heartbeat request): at most one report per request.
        rack.fail_requests(2, count=5)
        await recorder.wait_for(lambda: adapter.stats.failed_requests >= 5)
        before = adapter.stats.samples
        await recorder.wait_for(lambda: adapter.stats.samples > before + 100)
        refusals = [
            e for e in recorder.of(DeviceFault) if isinstance(e, DeviceFault) and e.code == 2
        ]
        assert 1 <= len(refusals) <= 3
        assert adapter.link is LinkState.CONNECTED


async def test_watchdog_trip_is_a_fault_until_reset() -> None:
    recorder = Recorder()
    quick = dataclasses.replace(FAST, watchdog_timeout=0.3)
    async with RackEmulator() as rack:
        async with adapter_for(rack, recorder, options=quick) as adapter:
            await adapter.apply(SetLoad(30.0))
            await asyncio.sleep(0.4)  # heartbeats keep it alive past the timeout
            alive = rack.state
            assert alive.fault is None
            assert alive.actual_load_kg > 0
        # The adapter is gone: no heartbeat. The device drops the load and latches.
        await asyncio.sleep(0.5)
        tripped = rack.state
        assert tripped.fault == "watchdog"
        assert tripped.actual_load_kg == 0
        second = Recorder()
        async with adapter_for(rack, second, options=quick) as adapter:
            assert adapter.link is LinkState.FAULT
            faults = second.of(DeviceFault)
            assert faults
            assert "watchdog" in str(faults[0])
            with pytest.raises(ModbusExceptionError) as info:
                await adapter.apply(SetLoad(30.0))
            assert info.value.code == 4
            await adapter.apply(ResetFault())
            await adapter.apply(SetLoad(30.0))  # accepted at once: the reset re-armed the watchdog
            await second.wait_for(lambda: adapter.link is LinkState.CONNECTED)
            assert rack.state.target_load_kg == 30


async def test_the_device_estop_button_becomes_events() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack, adapter_for(rack, recorder) as adapter:
        await adapter.apply(SetLoad(50.0))
        rack.start_set("back_squat", reps=5)
        await asyncio.sleep(0.2)
        rack.press_estop()
        await recorder.wait_for(
            lambda: recorder.of(EstopButton) == [EstopButton("rack-1", pressed=True)]
        )
        assert adapter.link is LinkState.FAULT
        assert rack.state.actual_load_kg == 0
        assert rack.sets[-1].ended_by == "estop"
        with pytest.raises(ModbusExceptionError, match="server device failure"):
            await adapter.apply(ResetFault())  # still pressed
        rack.release_estop()
        await recorder.wait_for(lambda: len(recorder.of(EstopButton)) == 2)
        await adapter.apply(ResetFault())
        await recorder.wait_for(lambda: adapter.link is LinkState.CONNECTED)
    assert recorder.of(EstopButton)[-1] == EstopButton("rack-1", pressed=False)


async def test_a_device_of_another_model_gets_no_write() -> None:
    recorder = Recorder()
    async with (
        RackEmulator(identity={"model_id": 0x1234}) as rack,
        adapter_for(rack, recorder) as adapter,
    ):
        assert not adapter.connected
        faults = recorder.of(DeviceFault)
        assert faults
        assert "model_id is 4660, expected 21074" in str(faults[0])
        with pytest.raises(DeviceUnavailableError):
            await adapter.apply(SetLoad(10.0))
        assert rack.state.heartbeats == 0
        assert rack.state.watchdog_timeout_s == 1.0


async def test_short_outage_loses_no_sample() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack, adapter_for(rack, recorder) as adapter:
        await recorder.wait_for(lambda: recorder.samples(Channel.POSITION_LEFT) > 100)
        await rack.stop_serving()
        await recorder.wait_for(lambda: adapter.link is LinkState.DISCONNECTED)
        await asyncio.sleep(0.3)
        await rack.start_serving()
        await recorder.wait_for(
            lambda: adapter.link is LinkState.CONNECTED and adapter.stats.sessions == 2
        )
        await recorder.wait_for(lambda: recorder.samples(Channel.POSITION_LEFT) > 1200)
    assert recorder.gaps() == []
    recorder.assert_contiguous(Channel.POSITION_LEFT)
    assert recorder.links()[:4] == [
        LinkState.CONNECTING,
        LinkState.CONNECTED,
        LinkState.DISCONNECTED,
        LinkState.CONNECTING,
    ]


async def test_outage_longer_than_the_ring_is_reported_as_a_gap() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack, adapter_for(rack, recorder) as adapter:
        await recorder.wait_for(lambda: recorder.samples(Channel.POSITION_LEFT) > 100)
        await rack.stop_serving()
        await asyncio.sleep(1.3)  # the ring holds 1 s
        await rack.start_serving()
        await recorder.wait_for(lambda: bool(recorder.gaps()))
        # longer than the watchdog's second too: the device dropped its load and latched
        await recorder.wait_for(lambda: adapter.link is LinkState.FAULT)
        # a second outage: the fault is still latched when the link comes back
        await rack.stop_serving()
        await recorder.wait_for(lambda: adapter.link is LinkState.DISCONNECTED)
        await rack.start_serving()
        await recorder.wait_for(lambda: adapter.stats.sessions == 3)
        assert adapter.link is LinkState.FAULT
        assert recorder.links()[-2:] == [LinkState.CONNECTED, LinkState.FAULT]
    gap = recorder.gaps()[0]
    assert gap.reason == "overrun"
    assert 300 < gap.lost < 1500
    # around the gap, batches are contiguous and never overlap
    batches = recorder.channel(Channel.POSITION_LEFT)
    for before, after in itertools.pairwise(batches):
        assert before.seq is not None
        assert after.seq is not None
        assert after.seq >= before.seq + len(before)


async def test_slow_answers_skip_ticks_but_lose_nothing() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack, adapter_for(rack, recorder) as adapter:
        rack.response_delay = 0.015  # two requests per FIFO tick: 30 ms for a 20 ms tick
        await asyncio.sleep(1.0)
        rack.response_delay = 0.0
        await asyncio.sleep(0.1)
        stats = adapter.stats
    assert stats.skipped_ticks > 5
    assert recorder.gaps() == []
    assert recorder.assert_contiguous(Channel.FORCE_LEFT) > 900


async def test_unanswered_requests_end_the_session_and_it_comes_back() -> None:
    recorder = Recorder()
    options = RackOptions(request_timeout=0.1, backoff_initial=0.05, backoff_max=0.2)
    async with RackEmulator() as rack, adapter_for(rack, recorder, options=options) as adapter:
        rack.response_delay = 0.25
        await recorder.wait_for(lambda: adapter.link is LinkState.DISCONNECTED)
        rack.response_delay = 0.0
        await recorder.wait_for(lambda: adapter.link is LinkState.CONNECTED, within=10)
        assert adapter.stats.failed_requests >= 3
        assert adapter.stats.sessions >= 2
        await adapter.apply(SetLoad(5.0))


async def test_cancellation_stays_cancellation() -> None:
    recorder = Recorder()
    options = RackOptions(request_timeout=2.0)
    async with RackEmulator() as rack, adapter_for(rack, recorder, options=options) as adapter:
        rack.response_delay = 0.5
        task = asyncio.create_task(adapter.apply(SetLoad(5.0)), name="slow write")
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.1):
                await adapter.apply(SetLoad(5.0))
        rack.response_delay = 0.0


async def test_exit_leaves_the_device_safe() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack:
        async with adapter_for(rack, recorder) as adapter:
            await adapter.apply(SetLoad(25.0))
            await adapter.apply(SetMode(ResistanceMode(ModeKind.ECCENTRIC, eccentric_pct=20)))
            await adapter.apply(ShowCue(DeviceCue(text="GO", colour=CueColour.BLUE)))
        state = rack.state
        assert (state.target_load_kg, state.mode, state.eccentric_pct, state.cue.text) == (
            0,
            "standard",
            0,
            "",
        )
    assert recorder.links()[-1] is LinkState.DISCONNECTED


async def test_adapter_is_not_reentrant_and_starts_without_a_device() -> None:
    recorder = Recorder()
    async with RackEmulator() as rack:
        port = rack.port
    # nothing listens on the port any more: the adapter keeps trying, quietly
    from equipment_adapters.modbus.link import TcpEndpoint
    from equipment_adapters.modbus.rack import RackAdapter

    adapter = RackAdapter(
        device_id="nobody",
        regmap="reference-rack",
        endpoint=TcpEndpoint("127.0.0.1", port),
        on_batch=recorder.on_batch,
        on_event=recorder.on_event,
        options=FAST,
    )
    async with adapter:
        assert not adapter.connected
        with pytest.raises(RuntimeError, match="not re-entrant"):
            await adapter.__aenter__()
        await asyncio.sleep(0.3)
    assert recorder.links().count(LinkState.CONNECTING) >= 2


async def test_a_bug_downstream_is_reported_and_supervision_goes_on() -> None:
    recorder = Recorder()
    raised: list[int] = []

    def fragile(batch: object) -> None:
        if not raised:
            raised.append(1)
            raise ZeroDivisionError("a consumer's bug")
        recorder.on_batch(batch)  # type: ignore[arg-type]

    async with RackEmulator() as rack:
        from equipment_adapters.modbus.link import TcpEndpoint
        from equipment_adapters.modbus.rack import RackAdapter

        adapter = RackAdapter(
            device_id="rack-1",
            regmap=rack.regmap,
            endpoint=TcpEndpoint("127.0.0.1", rack.port),
            on_batch=fragile,
            on_event=recorder.on_event,
            options=dataclasses.replace(FAST, backoff_max=0.1),
        )
        async with adapter:
            await recorder.wait_for(lambda: recorder.samples(Channel.FORCE_LEFT) > 200)
    faults = [e for e in recorder.of(DeviceFault) if isinstance(e, DeviceFault)]
    assert any("adapter error: ZeroDivisionError" in f.description for f in faults)
    assert adapter.stats.sessions >= 2
