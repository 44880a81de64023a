from __future__ import annotations

import asyncio

import pytest

from controller.bus import EventBus
from controller.cue_router import CueRouter
from controller.cues import (
    Cue,
    CueKind,
    CuePriority,
    confirm_load_cue,
    estop_cue,
    last_rep_cue,
    rep_cue,
    rest_cue,
    stop_cue,
    velocity_zone_colour,
)
from controller.events import CommandSource, CueEvent
from controller.safety import ResistanceDrive
from equipment_adapters.base import CueColour, ShowCue
from kernels.errors import InvalidInputError

from .polling import eventually
from .recording_adapter import RecordingAdapter, band_capabilities, rack_capabilities


def test_zone_colours() -> None:
    band = {"low_ms": 0.6, "high_ms": 0.8}
    assert velocity_zone_colour(0.9, **band) is CueColour.BLUE
    assert velocity_zone_colour(0.7, **band) is CueColour.GREEN
    assert velocity_zone_colour(0.55, **band) is CueColour.YELLOW
    assert velocity_zone_colour(0.4, **band) is CueColour.RED
    with pytest.raises(InvalidInputError, match="velocity band"):
        velocity_zone_colour(0.5, low_ms=0.8, high_ms=0.6)


def test_standard_cues_carry_more_than_colour() -> None:
    rep = rep_cue(5, 0.734, CueColour.GREEN)
    assert (rep.number, rep.text, rep.kind) == (5.0, "0.73 m/s", CueKind.REP)
    assert last_rep_cue(6).text == "LAST REP"
    assert stop_cue().priority > last_rep_cue(1).priority > rep.priority > rest_cue(3).priority
    assert rest_cue(2.2).number == 3.0
    confirm = confirm_load_cue(82.5, "kg", ttl_s=8.0)
    assert confirm.text == "UP TO 82.5 kg: CONFIRM"
    assert confirm.priority > rest_cue(1).priority
    assert estop_cue().ttl_s is None
    device = rep.to_device()
    assert (device.text, device.colour, device.number, device.haptic_pulses) == (
        "0.73 m/s",
        CueColour.GREEN,
        5.0,
        1,
    )


@pytest.mark.parametrize(
    ("kwargs", "where"),
    [
        ({"text": "x" * 49}, "cue text"),
        ({"text": "bell\a"}, "cue text"),
        ({"number": float("nan")}, "cue number"),
        ({"haptic_pulses": 11}, "cue haptic_pulses"),
        ({"ttl_s": 0.0}, "cue ttl_s"),
    ],
)
def test_bad_cues_are_refused(kwargs: dict[str, object], where: str) -> None:
    with pytest.raises(InvalidInputError, match=where):
        Cue(CueKind.MESSAGE, **kwargs)  # type: ignore[arg-type]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_priority_wins_and_ttl_expires() -> None:
    shown: list[Cue | None] = []
    bus = EventBus()
    clock = Clock()
    with bus.subscribe("panel", types=[CueEvent]) as panel:
        async with CueRouter(
            station_id="rack-1", show=shown.append, publish=bus.publish, clock=clock
        ) as router:
            assert router.offer(rep_cue(1, 0.7, CueColour.GREEN))
            assert router.offer(stop_cue())
            assert not router.offer(rep_cue(2, 0.6, CueColour.YELLOW))  # stop outranks a rep
            clock.now += 9.0  # the stop cue (8 s) has expired
            assert router.offer(rep_cue(3, 0.5, CueColour.RED))
            assert router.offer(rest_cue(10)) is False  # a rep outranks the rest countdown
            assert [c.kind if c else None for c in shown] == [
                CueKind.REP,
                CueKind.STOP,
                CueKind.REP,
            ]
            published = [e.cue.kind for e in panel.drain() if isinstance(e, CueEvent)]
            assert published == [CueKind.REP, CueKind.STOP, CueKind.REP]


async def test_an_expired_cue_blanks_the_displays() -> None:
    shown: list[Cue | None] = []
    async with CueRouter(station_id="r", show=shown.append, publish=lambda e: None) as router:
        router.offer(Cue(CueKind.MESSAGE, text="hello", ttl_s=0.05))
        await eventually(lambda: len(shown) == 2, within=2.0)
        assert shown[-1] is None
        assert router.current is None


def on_show(router: CueRouter) -> Cue | None:
    return router.current


async def test_the_estop_cue_stays_until_release_through_the_drive() -> None:
    bus = EventBus()
    rack = RecordingAdapter("rack-1-rack", rack_capabilities())
    band = RecordingAdapter("band-1-band", band_capabilities())
    async with rack, band:
        drive = ResistanceDrive(
            station_id="rack-1", actuator=rack, displays=[band], publish=bus.publish
        )
        router = CueRouter(station_id="rack-1", show=drive.show_cue, publish=bus.publish)
        drive.on_cue, drive.on_clear_cue = router.offer, router.clear
        async with drive, router:
            drive.estop(source=CommandSource.STAFF, reason="test")
            current = on_show(router)
            assert current is not None
            assert current.kind is CueKind.ESTOP
            assert current.priority is CuePriority.SAFETY
            assert not router.offer(rep_cue(1, 0.5, CueColour.GREEN))
            await asyncio.sleep(0.05)
            assert on_show(router) is current  # no time to live: still on show
            drive.release(by="coach")
            assert on_show(router) is None
            await drive.settle()
        for adapter in (rack, band):
            texts = [c.cue.text for _, c in adapter.commands if isinstance(c, ShowCue)]
            assert texts == ["E-STOP", ""]
