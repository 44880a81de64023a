"""The drive: the envelope's commands reach the adapter in order, faults go safe, all logged."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from controller.bus import EventBus
from controller.config import SafetyConfig
from controller.cues import CueKind, rest_cue
from controller.events import (
    Alert,
    CommandEvent,
    CommandOutcome,
    CommandSource,
    DecisionEvent,
)
from controller.safety import Limits, ResistanceDrive
from equipment_adapters.base import (
    DeviceFault,
    EnterSafeState,
    EstopButton,
    LinkChanged,
    LinkState,
    ResetFault,
    SetLoad,
    ShowCue,
)
from equipment_adapters.errors import ProtocolError

from .polling import eventually
from .recording_adapter import RecordingAdapter, band_capabilities, rack_capabilities

PLAN = CommandSource.PLAN


class Harness:
    def __init__(
        self, drive: ResistanceDrive, rack: RecordingAdapter, band: RecordingAdapter, bus: EventBus
    ) -> None:
        self.drive, self.rack, self.band, self.bus = drive, rack, band, bus
        self.events = bus.subscribe("test")

    def loads(self) -> list[float]:
        return [c.value for _, c in self.rack.commands if isinstance(c, SetLoad)]

    def kinds(self) -> list[str]:
        return [type(c).__name__ for _, c in self.rack.commands]

    async def wait_for_load(self, value: float) -> None:
        await eventually(lambda: bool(self.loads()) and self.loads()[-1] == value)


@pytest.fixture
async def harness() -> AsyncIterator[Harness]:
    bus = EventBus()
    rack = RecordingAdapter("rack-1-rack", rack_capabilities())
    band = RecordingAdapter("band-1-band", band_capabilities())
    safety = SafetyConfig(announce_threshold=1000.0, max_increase_per_s=100.0)
    async with rack, band:
        drive = ResistanceDrive(
            station_id="rack-1",
            actuator=rack,
            displays=[band],
            publish=bus.publish,
            safety=safety,
            tick_s=0.01,
        )
        async with drive:
            await drive.settle()
            yield Harness(drive, rack, band, bus)


async def test_starts_safe_and_ramps_requests_to_the_device(harness: Harness) -> None:
    assert harness.kinds() == ["EnterSafeState"]  # every station comes up safe
    harness.drive.set_limits(Limits(athlete_id="a-1", athlete_e1rm=50.0, margin_pct=10.0))
    verdict = harness.drive.request_load(80.0, source=PLAN, reason="plan set 1")
    assert verdict.outcome is CommandOutcome.CLAMPED
    await harness.wait_for_load(55.0)
    loads = harness.loads()
    assert max(loads) == 55.0
    times = [t for t, c in harness.rack.commands if isinstance(c, SetLoad)]
    for (t0, v0), (t1, v1) in zip(
        zip(times, loads, strict=True), zip(times[1:], loads[1:], strict=True), strict=False
    ):
        assert v1 - v0 <= 100.0 * (t1 - t0) + 1e-6  # the rate, on the device's own clock
    events = harness.events.drain()
    (command,) = [e for e in events if isinstance(e, CommandEvent)]
    assert (command.verb, command.outcome, command.requested, command.target) == (
        "load",
        CommandOutcome.CLAMPED,
        80.0,
        55.0,
    )
    assert command.athlete_id == "a-1"
    (decision,) = [e for e in events if isinstance(e, DecisionEvent)]
    assert decision.decision.rule == "ceiling"


async def test_estop_goes_before_everything_queued(harness: Harness) -> None:
    harness.drive.request_load(20.0, source=PLAN)
    await harness.wait_for_load(20.0)
    harness.rack.delay_s = 0.05  # a slow link: commands pile up
    harness.drive.request_load(10.0, source=PLAN)
    harness.drive.request_load(5.0, source=PLAN)
    harness.drive.request_load(15.0, source=PLAN)
    await asyncio.sleep(0.01)  # the first of them is in flight
    harness.drive.estop(source=CommandSource.MQTT, reason="panel button")
    await harness.drive.settle()
    kinds = harness.kinds()
    stop = len(kinds) - 1 - kinds[::-1].index("EnterSafeState")
    assert all(k != "SetLoad" for k in kinds[stop:])
    assert harness.loads()[-1] == 10.0  # the one in flight; the queued ones were dropped
    refused = harness.drive.request_load(5.0, source=CommandSource.STAFF, by="coach")
    assert refused.outcome is CommandOutcome.REFUSED
    assert harness.drive.release(by="app", source=CommandSource.MQTT).outcome is (
        CommandOutcome.REFUSED
    )
    assert harness.drive.release(by="coach").outcome is CommandOutcome.APPLIED
    await harness.drive.settle()
    assert harness.kinds()[-2:] == ["ResetFault", "ShowCue"]  # and the e-stop cue comes down
    alerts = [e for e in harness.events.drain() if isinstance(e, Alert)]
    assert [(a.code, a.cleared) for a in alerts] == [("estop", False), ("estop", True)]
    # the e-stop cue went to the displays
    band_cues = [c.cue.text for _, c in harness.band.commands if isinstance(c, ShowCue)]
    assert band_cues == ["E-STOP", ""]  # shown, then taken down on release


async def test_the_device_button_latches_the_estop(harness: Harness) -> None:
    harness.drive.request_load(5.0, source=PLAN)
    await harness.wait_for_load(5.0)
    harness.drive.on_device_event(EstopButton("rack-1-rack", pressed=True))
    await harness.drive.settle()
    assert harness.drive.estopped
    assert harness.kinds()[-2:] == ["EnterSafeState", "ShowCue"]


async def test_stale_data_during_a_set_goes_safe_and_alerts(harness: Harness) -> None:
    harness.drive.request_load(10.0, source=PLAN)
    await harness.wait_for_load(10.0)
    harness.rack.deliver()
    harness.drive.begin_set(set_id="set-1")
    for _ in range(10):  # fresh data keeps it going
        harness.rack.deliver()
        await asyncio.sleep(0.02)
    assert not harness.drive.in_safe_state
    # the data stops: within the limit (250 ms) and a tick, the device is put safe
    alert = None
    async with asyncio.timeout(1.0):
        while alert is None:
            event = await harness.events.get()
            if isinstance(event, Alert) and event.code == "safe_state":
                alert = event
    assert "stale data during a set" in alert.message
    await harness.drive.settle()
    assert harness.kinds()[-2:] == ["EnterSafeState", "ShowCue"]  # then the fault cue
    assert harness.drive.request_load(5.0, source=PLAN).outcome is CommandOutcome.REFUSED
    harness.drive.clear_fault(reason="data back")
    await harness.drive.settle()
    assert isinstance(harness.rack.commands[-2][1], ResetFault)


@pytest.mark.parametrize(
    "event",
    [
        DeviceFault("rack-1-rack", "motor overtemperature", code=7),
        LinkChanged("rack-1-rack", LinkState.DISCONNECTED, "timeout"),
    ],
)
async def test_device_faults_and_lost_links_go_safe(harness: Harness, event: object) -> None:
    harness.drive.request_load(10.0, source=PLAN)
    await harness.wait_for_load(10.0)
    harness.drive.on_device_event(event)  # type: ignore[arg-type]
    await harness.drive.settle()
    assert harness.drive.in_safe_state
    assert "EnterSafeState" in harness.kinds()[-2:]
    assert harness.kinds()[-1] != "SetLoad"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (
            ProtocolError("illegal data value", code=3, device_id="rack-1-rack"),
            "SetLoad failed: rack-1-rack: illegal data value (code 0x03)",
        ),
        (RuntimeError("bug in a codec"), "SetLoad failed: adapter error RuntimeError: bug in a"),
    ],
)
async def test_a_refused_command_or_an_adapter_bug_puts_the_station_safe(
    harness: Harness, error: Exception, message: str
) -> None:
    harness.rack.fail_with = error
    harness.drive.request_load(10.0, source=PLAN)
    await eventually(lambda: harness.drive.in_safe_state, within=2.0)
    alerts = [e for e in harness.events.drain() if isinstance(e, Alert)]
    assert message in alerts[0].message


async def test_a_device_that_does_not_answer_puts_the_station_safe() -> None:
    bus = EventBus()
    rack = RecordingAdapter("rack-1-rack", rack_capabilities())
    async with rack:
        drive = ResistanceDrive(
            station_id="rack-1",
            actuator=rack,
            publish=bus.publish,
            apply_timeout_s=0.1,
            tick_s=0.01,
        )
        async with drive:
            await drive.settle()
            rack.hang = True
            drive.request_load(1.0, source=PLAN)
            await eventually(lambda: drive.in_safe_state, within=2.0)
            rack.hang = False


async def test_cues_reach_every_display(harness: Harness) -> None:
    harness.drive.show_cue(rest_cue(42))
    await harness.drive.settle()
    for adapter in (harness.rack, harness.band):
        (cue,) = [c.cue for _, c in adapter.commands if isinstance(c, ShowCue)]
        assert cue.number == 42.0


async def test_a_cue_reaches_the_devices_before_the_loops_other_ready_work(
    harness: Harness,
) -> None:
    # on the site's loop the drive's worker goes right after the callback that queued the
    # cue: the panel's work already queued waits, not the cue
    loop = asyncio.get_running_loop()
    seen: list[int] = []
    done = loop.create_future()

    def panel_step() -> None:
        seen.append(len([c for _, c in harness.band.commands if isinstance(c, ShowCue)]))
        if len(seen) == 2:
            done.set_result(None)

    def rep_completed() -> None:
        harness.drive.show_cue(rest_cue(7))
        loop.call_soon(panel_step)

    loop.call_soon(rep_completed)
    loop.call_soon(panel_step)
    await done
    assert seen == [1, 1]


async def test_a_station_without_actuator_still_latches_estop() -> None:
    bus = EventBus()
    band = RecordingAdapter("band-1-band", band_capabilities())
    with bus.subscribe("t") as events:
        async with (
            band,
            ResistanceDrive(
                station_id="band-1", actuator=None, displays=[band], publish=bus.publish
            ) as drive,
        ):
            drive.estop(source=CommandSource.STAFF, reason="test")
            await drive.settle()
            assert drive.estopped
            assert drive.release(by=None, source=CommandSource.PLAN).outcome is (
                CommandOutcome.REFUSED
            )
            assert drive.release(by="coach").outcome is CommandOutcome.APPLIED
            assert not drive.in_safe_state
            await drive.settle()
        cues = [c.cue.text for _, c in band.commands if isinstance(c, ShowCue)]
        assert cues == ["E-STOP", ""]  # shown, then cleared on release
        assert [type(e).__name__ for e in events.drain()].count("CommandEvent") == 3


async def test_announced_increase_is_shown_and_waits() -> None:
    bus = EventBus()
    rack = RecordingAdapter("rack-1-rack", rack_capabilities())
    shown: list[CueKind] = []
    async with rack:
        drive = ResistanceDrive(
            station_id="rack-1",
            actuator=rack,
            publish=bus.publish,
            safety=SafetyConfig(announce_threshold=5.0),
            on_cue=lambda cue: shown.append(cue.kind),
            tick_s=0.01,
        )
        async with drive:
            verdict = drive.request_load(30.0, source=CommandSource.AUTOREGULATION)
            assert verdict.outcome is CommandOutcome.ANNOUNCED
            assert shown == [CueKind.CONFIRM_LOAD]  # to the cue router, not straight out
            await asyncio.sleep(0.1)
            assert [c for _, c in rack.commands if isinstance(c, SetLoad)] == []
            assert drive.confirm(by="athlete").outcome is CommandOutcome.RAMPING
            await eventually(lambda: bool(rack.commands) and rack.commands[-1][1] == SetLoad(30.0))


# -- the same properties, end to end through the drive's task and a real (slow) adapter ----

drive_ops = st.one_of(
    st.tuples(
        st.just("load"),
        st.one_of(st.floats(0, 15), st.floats(0, 300)),  # small steps ramp, large are announced
        st.sampled_from(list(CommandSource)),
    ),
    st.tuples(st.just("estop"), st.none(), st.sampled_from(list(CommandSource))),
    st.tuples(
        st.just("release"), st.none(), st.sampled_from([CommandSource.STAFF, CommandSource.MQTT])
    ),
    st.tuples(st.just("confirm"), st.none(), st.just(CommandSource.ATHLETE)),
    st.tuples(st.just("begin"), st.none(), st.none()),
    st.tuples(st.just("end"), st.none(), st.none()),
)


async def run_script(
    script: list[tuple[float, tuple[str, float | None, CommandSource | None]]],
    delay: float,
    e1rm: float,
) -> None:
    rack = RecordingAdapter("rack-1-rack", rack_capabilities(cue_display=False))
    rack.delay_s = delay
    bus = EventBus()
    estop_windows: list[list[float]] = []  # [called, released]
    async with rack:
        drive = ResistanceDrive(
            station_id="rack-1",
            actuator=rack,
            publish=bus.publish,
            safety=SafetyConfig(announce_threshold=10.0, announce_s=1.0, announce_mode="timeout"),
            tick_s=0.005,
        )
        async with drive:
            drive.set_limits(Limits(athlete_id="a-1", athlete_e1rm=e1rm, margin_pct=10.0))
            for dt, (op, value, source) in script:
                await asyncio.sleep(dt)
                rack.deliver()
                if op == "load":
                    assert value is not None
                    assert source is not None
                    drive.request_load(value, source=source)
                elif op == "estop":
                    assert source is not None
                    was = drive.estopped
                    drive.estop(source=source, reason="prop")
                    if not was:
                        estop_windows.append([time.monotonic(), math.inf])
                elif op == "release":
                    assert source is not None
                    if drive.release(by="x", source=source).outcome is CommandOutcome.APPLIED:
                        estop_windows[-1][1] = time.monotonic()
                elif op == "confirm":
                    drive.confirm()
                elif op == "begin":
                    drive.begin_set()
                else:
                    drive.end_set()
            rack.deliver()
            await asyncio.sleep(0.05)
            await drive.settle()
    ceiling = min(200.0, e1rm * 1.1)
    assert drive.envelope is not None
    rate = drive.envelope.settings.rate_per_s
    previous: tuple[float, float] | None = None  # (time its apply returned, value)
    for (done, command), entered in zip(rack.commands, rack.entered, strict=True):
        if isinstance(command, EnterSafeState):
            previous = None
        elif isinstance(command, SetLoad):
            assert command.value <= ceiling + 1e-9
            if previous is not None:  # the rate, as the device sees it
                assert command.value - previous[1] <= rate * (entered - previous[0]) + 1e-6
            for called, released in estop_windows:
                assert not called < entered < released, "a load went out while e-stopped"
            previous = (done, command.value)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@example([(0.0, ("load", 8.0, CommandSource.PLAN)), (0.1, ("end", None, None))], 0.004, 200.0)
@given(
    st.lists(st.tuples(st.floats(0, 0.02), drive_ops), max_size=14),
    st.sampled_from([0.0, 0.004]),
    st.floats(20, 250),
)
def test_through_the_drive_no_command_passes_the_ceiling_the_rate_or_an_estop(
    script: list[tuple[float, tuple[str, float | None, CommandSource | None]]],
    delay: float,
    e1rm: float,
) -> None:
    asyncio.run(run_script(script, delay, e1rm))
