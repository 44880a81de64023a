from __future__ import annotations

import json

import pytest

from controller.bus import EventBus
from controller.errors import CommandRejectedError
from controller.events import CommandEvent, CommandOutcome, CommandSource
from controller.mqtt.commands import (
    CueCommand,
    EstopCommand,
    LoadCommand,
    ReplayGuard,
    dispatch,
    parse_command,
)
from controller.mqtt.topics import Topics
from controller.safety import Limits, ResistanceDrive
from equipment_adapters.base import CueColour, SetLoad
from tests.controller.polling import eventually
from tests.controller.recording_adapter import RecordingAdapter, rack_capabilities

TOPICS = Topics("gymctl", "test")
NOW = 1_750_000_000.0


def parse(
    verb: str,
    body: object,
    *,
    station: str = "rack-1",
    retained: bool = False,
    raw: bytes | None = None,
) -> object:
    payload = raw if raw is not None else json.dumps(body).encode()
    return parse_command(
        f"gymctl/test/station/{station}/cmd/{verb}",
        payload,
        topics=TOPICS,
        now=NOW,
        max_age_s=60.0,
        retained=retained,
        stations={"rack-1", "rack-2"},
    )


def test_valid_commands_become_typed_values() -> None:
    load = parse("load", {"by": "coach-app", "seq": 3, "value": 82.5, "reason": "top set"})
    assert load == LoadCommand(
        station_id="rack-1", by="coach-app", seq=3, value=82.5, reason="top set"
    )
    stop = parse("estop", {"by": "desk", "expires": NOW + 10, "id": "c0ffee-0001"})
    assert isinstance(stop, EstopCommand)
    assert stop.expires == NOW + 10
    cue = parse("cue", {"by": "desk", "seq": 1, "text": "Hydrate", "colour": "blue", "ttl_s": 3})
    assert isinstance(cue, CueCommand)
    assert (cue.cue.text, cue.cue.colour, cue.cue.ttl_s) == ("Hydrate", CueColour.BLUE, 3.0)


@pytest.mark.parametrize(
    ("verb", "body", "kwargs", "message"),
    [
        ("load", None, {"raw": b"{nope"}, "payload is not JSON"),
        ("load", None, {"raw": b"\xff\xfe"}, "payload is not JSON"),
        ("load", None, {"raw": b"[" * 4000}, "payload is nested too deeply"),
        ("load", [1, 2], {}, "payload must be a JSON object"),
        ("load", {"by": "a", "seq": 1, "value": 10, "extra": 1}, {}, "unknown field(s) ['extra']"),
        ("launch", {"by": "a", "seq": 1}, {}, "unknown verb 'launch'"),
        ("load", {"seq": 1, "value": 10}, {}, "'by' must name the sender"),
        ("load", {"by": "a b", "seq": 1, "value": 10}, {}, "'by' must name the sender"),
        ("load", {"by": "a", "value": 10}, {}, "a command needs 'seq' or 'expires'"),
        ("load", {"by": "a", "seq": True, "value": 10}, {}, "'seq' must be an integer"),
        ("load", {"by": "a", "seq": 0, "value": 10}, {}, "'seq' must be an integer"),
        ("load", {"by": "a", "seq": 1.5, "value": 10}, {}, "'seq' must be an integer"),
        ("load", {"by": "a", "seq": 1}, {}, "'value' is required"),
        ("load", {"by": "a", "seq": 1, "value": -1}, {}, "'value' must be 0..10000"),
        ("load", {"by": "a", "seq": 1, "value": 1e9}, {}, "'value' must be 0..10000"),
        ("load", {"by": "a", "seq": 1, "value": "80"}, {}, "'value' must be a number"),
        ("load", {"by": "a", "seq": 1, "value": True}, {}, "'value' must be a number"),
        ("estop", {"by": "a", "expires": NOW - 5, "id": "abcdefgh"}, {}, "expired 5.0 s ago"),
        ("estop", {"by": "a", "expires": NOW + 600, "id": "abcdefgh"}, {}, "600 s ahead"),
        ("estop", {"by": "a", "expires": NOW + 5}, {}, "needs an 'id'"),
        ("estop", {"by": "a", "seq": 1}, {"retained": True}, "retained commands are refused"),
        ("estop", {"by": "a", "seq": 1}, {"station": "rack-9"}, "no station 'rack-9'"),
        ("estop", {"by": "a", "seq": 1, "reason": "x" * 201}, {}, "'reason' must be printable"),
        ("cue", {"by": "a", "seq": 1, "colour": "pink"}, {}, "'colour' must be one of"),
        ("cue", {"by": "a", "seq": 1, "text": "x" * 49}, {}, "'text' must be printable"),
        ("cue", {"by": "a", "seq": 1, "ttl_s": 0}, {}, "'ttl_s' must be 0.1..60"),
    ],
)
def test_bad_commands_are_refused_with_a_reason(
    verb: str, body: object, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(CommandRejectedError) as info:
        parse(verb, body, **kwargs)  # type: ignore[arg-type]
    assert message in str(info.value)
    assert str(info.value).startswith("gymctl/test/station/")


def test_foreign_topics_are_refused() -> None:
    for topic in (
        "other/test/station/rack-1/cmd/estop",
        "gymctl/test/station/rack-1/estop",
        "gymctl/test/station/Rack 1/cmd/estop",
    ):
        with pytest.raises(CommandRejectedError):
            parse_command(topic, b"{}", topics=TOPICS, now=NOW, max_age_s=60)


def test_replays_are_refused_per_sender_and_station() -> None:
    guard = ReplayGuard()
    first = parse("load", {"by": "app", "seq": 5, "value": 10})
    assert isinstance(first, LoadCommand)
    guard.check(first, now=NOW, where="t")
    with pytest.raises(CommandRejectedError, match="replayed: seq 5 is not above 5"):
        guard.check(first, now=NOW, where="t")
    older = parse("load", {"by": "app", "seq": 4, "value": 10})
    with pytest.raises(CommandRejectedError, match="replayed"):
        guard.check(older, now=NOW, where="t")  # type: ignore[arg-type]
    other_sender = parse("load", {"by": "desk", "seq": 1, "value": 10})
    guard.check(other_sender, now=NOW, where="t")  # type: ignore[arg-type]
    other_station = parse("load", {"by": "app", "seq": 1, "value": 10}, station="rack-2")
    guard.check(other_station, now=NOW, where="t")  # type: ignore[arg-type]
    once = parse("estop", {"by": "app", "expires": NOW + 10, "id": "nonce-0001"})
    guard.check(once, now=NOW, where="t")  # type: ignore[arg-type]
    with pytest.raises(CommandRejectedError, match="id 'nonce-0001' seen"):
        guard.check(once, now=NOW + 1, where="t")  # type: ignore[arg-type]


async def test_dispatch_goes_through_the_envelope() -> None:
    bus = EventBus()
    rack = RecordingAdapter("rack-1-rack", rack_capabilities())
    with bus.subscribe("log", types=[CommandEvent]) as log:
        async with (
            rack,
            ResistanceDrive(station_id="rack-1", actuator=rack, publish=bus.publish) as drive,
        ):
            drive.set_limits(Limits(athlete_id="a-1", athlete_e1rm=2.0, margin_pct=0.0))
            command = parse("load", {"by": "app", "seq": 1, "value": 9000})
            assert isinstance(command, LoadCommand)
            verdict = dispatch(command, drive=drive)
            assert verdict.outcome is CommandOutcome.CLAMPED
            await eventually(lambda: bool(rack.commands) and rack.commands[-1][1] == SetLoad(2.0))
            stop = parse("estop", {"by": "app", "seq": 2})
            assert isinstance(stop, EstopCommand)
            dispatch(stop, drive=drive)
            assert drive.estopped
            release = parse("release", {"by": "app", "seq": 3})
            assert dispatch(release, drive=drive).outcome is CommandOutcome.REFUSED  # type: ignore[arg-type]
            assert drive.estopped
        logged = [
            (e.verb, e.source, e.outcome, e.by) for e in log.drain() if isinstance(e, CommandEvent)
        ]
        assert logged == [
            ("load", CommandSource.MQTT, CommandOutcome.CLAMPED, "app"),
            ("estop", CommandSource.MQTT, CommandOutcome.APPLIED, "app"),
            ("release", CommandSource.MQTT, CommandOutcome.REFUSED, "app"),
        ]
