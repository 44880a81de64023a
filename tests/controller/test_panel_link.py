"""The wire between the controller and the panel's process: frames, the checks on what
the panel may ask, errors carried back, and the panel's side when the controller goes."""

from __future__ import annotations

import asyncio
import json
import math
import pickle
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from controller.config import StoreConfig
from controller.errors import (
    ControllerError,
    EstopLatchedError,
    NotFoundError,
    SafetyError,
    StoreUnwritableError,
)
from controller.events import Alert, AlertSeverity, CommandOutcome, Telemetry
from controller.panel_link import (
    MAX_CALL_BYTES,
    Call,
    Failure,
    PanelLinkError,
    PanelStart,
    json_frame,
    parse_call,
    parse_message,
    pickled_frame,
    read_body,
)
from controller.service import CommandResult, ServiceHealth, StationSnapshot
from controller.states import StationState
from kernels.errors import InvalidInputError
from web_ui.remote import RemoteGym


def _reader(data: bytes, *, eof: bool = True) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    if eof:
        reader.feed_eof()
    return reader


def _call(**fields: Any) -> dict[str, Any]:
    return {"call": 1, "verb": "estop", "station": "rack-1", "by": "user:carl", **fields}


# -- frames --------------------------------------------------------------------------------


async def test_frames_come_back_as_they_were_sent() -> None:
    rep = Alert(station_id="rack-1", severity=AlertSeverity.WARNING, code="stale_data", message="m")
    telemetry = Telemetry(
        station_id="rack-1", device_id="d", channel="velocity", unit="m/s", t0=1.0,
        period=0.02, values=(0.1, 0.2),
    )  # fmt: skip
    reader = _reader(
        pickled_frame(("update", (), [rep, telemetry])) + json_frame({"ready": "http://x"})
    )
    first = await read_body(reader, limit=1 << 20)
    assert first is not None
    assert pickle.loads(first) == ("update", (), [rep, telemetry])
    second = await read_body(reader, limit=MAX_CALL_BYTES)
    assert second is not None
    assert parse_message(second) == {"ready": "http://x"}
    assert await read_body(reader, limit=MAX_CALL_BYTES) is None  # the end, between frames


async def test_a_frame_cut_short_or_too_long_breaks_the_link() -> None:
    whole = json_frame(_call())
    with pytest.raises(PanelLinkError, match="inside a frame's length"):
        await read_body(_reader(whole[:2]), limit=MAX_CALL_BYTES)
    with pytest.raises(PanelLinkError, match="inside a frame"):
        await read_body(_reader(whole[:-1]), limit=MAX_CALL_BYTES)
    with pytest.raises(PanelLinkError, match=r"a frame of \d+ bytes is over the link's 16"):
        await read_body(_reader(whole), limit=16)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"\x80\x05K\x01.", "not JSON"),  # a pickle: never read from the panel
        (b"[1, 2]", "not a JSON object"),
        (b"\xff\xfe", "not JSON"),
    ],
)
def test_the_controller_reads_only_json_objects_from_the_panel(body: bytes, problem: str) -> None:
    with pytest.raises(PanelLinkError, match=problem):
        parse_message(body)


# -- calls ---------------------------------------------------------------------------------


def test_each_staff_command_is_checked_into_a_call() -> None:
    assert parse_call(_call(reason="bar slipped")) == Call(
        call_id=1, verb="estop", station="rack-1", by="user:carl", reason="bar slipped"
    )
    load = parse_call(_call(verb="override_load", value=120, reason="coach"))
    assert load.value == 120.0
    assert isinstance(load.value, float)
    assert parse_call(_call(verb="check_in", athlete="a-1")).athlete == "a-1"
    assert parse_call(_call(verb="release")).verb == "release"
    assert parse_call(_call(verb="check_out")).verb == "check_out"


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"verb": "shutdown"}, "unknown verb 'shutdown'"),
        ({"verb": ["estop"]}, "unknown verb"),
        ({"call": True}, "non-negative integer id"),
        ({"call": -1}, "non-negative integer id"),
        ({"call": "7"}, "non-negative integer id"),
        ({"station": ""}, "'station' and 'by' are required"),
        ({"by": 3}, "'by' must be a string"),
        ({"station": "r" * 201}, "'station' must be a string of at most 200"),
        ({"reason": "x" * 501}, "'reason' must be a string of at most 500"),
        ({"value": 100}, "estop takes no 'value'"),
        ({"verb": "release", "reason": "x"}, "release takes no 'reason'"),
        ({"verb": "override_load"}, "'value' must be a finite number"),
        ({"verb": "override_load", "value": True}, "'value' must be a finite number"),
        ({"verb": "override_load", "value": "100"}, "'value' must be a finite number"),
        ({"verb": "override_load", "value": math.inf}, "'value' must be a finite number"),
        ({"verb": "check_in"}, "'athlete' is required"),
    ],
)
def test_a_call_of_the_wrong_shape_breaks_the_link(fields: dict[str, Any], problem: str) -> None:
    with pytest.raises(PanelLinkError, match=problem):
        parse_call(_call(**fields))


def test_nan_sent_as_json_is_refused() -> None:
    body = b'{"call": 1, "verb": "override_load", "station": "r", "by": "u", "value": NaN}'
    with pytest.raises(PanelLinkError, match="finite number"):
        parse_call(parse_message(body))


@pytest.mark.parametrize(
    ("error", "kind", "raised"),
    [
        (InvalidInputError("must be >= 0", where="load"), "invalid", InvalidInputError),
        (NotFoundError("no athlete 'x'"), "not_found", NotFoundError),
        (EstopLatchedError("the e-stop is latched"), "safety", SafetyError),
        (StoreUnwritableError("disk full"), "unwritable", StoreUnwritableError),
        (ControllerError("something else"), "controller", ControllerError),
    ],
)
def test_errors_of_a_call_are_raised_again_in_the_panel(
    error: Exception, kind: str, raised: type[Exception]
) -> None:
    assert isinstance(error, ControllerError | InvalidInputError)
    failure = Failure.of(error)
    assert failure.kind == kind
    again = failure.error()
    assert type(again) is raised
    assert str(again) == str(error)


# -- the panel's side ----------------------------------------------------------------------


def _snapshot(station_id: str, state: StationState = StationState.IDLE) -> StationSnapshot:
    return StationSnapshot(station_id=station_id, name=station_id, state=state)


@pytest.fixture
async def link() -> AsyncIterator[tuple[RemoteGym, asyncio.StreamReader, asyncio.StreamWriter]]:
    """A RemoteGym on one end of a real socketpair; the test plays the controller."""
    ours, theirs = socket.socketpair()
    reader, writer = await asyncio.open_connection(sock=theirs)
    c_reader, c_writer = await asyncio.open_connection(sock=ours)
    start = PanelStart(
        site_name="test gym",
        db_path=Path("unused.db"),
        store=StoreConfig(),
        settings=None,
        snapshots=(_snapshot("rack-1"), _snapshot("rack-2")),
        health=ServiceHealth(),
        log_level=30,
    )
    async with RemoteGym(start, reader, writer, call_timeout_s=2.0) as gym:
        yield gym, c_reader, c_writer
    c_writer.close()


async def test_the_panel_side_follows_updates_and_answers(
    link: tuple[RemoteGym, asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    gym, c_reader, c_writer = link
    assert [s.station_id for s in gym.stations()] == ["rack-1", "rack-2"]
    with pytest.raises(NotFoundError):
        gym.station("rack-9")
    with gym.bus.subscribe("test") as sub:
        rep = Alert(station_id="rack-1", severity=AlertSeverity.INFO, code="c", message="m")
        active = _snapshot("rack-1", StationState.SET_ACTIVE)
        c_writer.write(pickled_frame(("update", (active,), [rep])))
        got = await asyncio.wait_for(sub.get(), 2)
        assert got == rep
        # the snapshot came before the event: a reader of the event sees the new state
        assert gym.station("rack-1").state is StationState.SET_ACTIVE

    async def controller() -> None:
        body = await read_body(c_reader, limit=MAX_CALL_BYTES)
        assert body is not None
        call = parse_call(parse_message(body))
        assert call.verb == "estop"
        assert call.reason == "test"
        result = CommandResult(CommandOutcome.APPLIED, "safe state")
        after = _snapshot("rack-1", StationState.ESTOPPED)
        c_writer.write(pickled_frame(("answer", call.call_id, result, after, None)))
        body = await read_body(c_reader, limit=MAX_CALL_BYTES)
        assert body is not None
        call = parse_call(parse_message(body))
        failure = Failure.of(InvalidInputError("-1 is not a load", where="load"))
        c_writer.write(pickled_frame(("answer", call.call_id, None, None, failure)))

    task = asyncio.create_task(controller())
    result = await gym.estop("rack-1", by="user:carl", reason="test")
    assert result.outcome is CommandOutcome.APPLIED
    assert gym.station("rack-1").state is StationState.ESTOPPED
    with pytest.raises(InvalidInputError, match="load: -1 is not a load"):
        await gym.override_load("rack-2", 10.0, by="user:carl")
    await task


async def test_the_panel_side_fails_calls_clearly_when_the_controller_goes(
    link: tuple[RemoteGym, asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    gym, c_reader, c_writer = link
    call = asyncio.create_task(gym.release("rack-1", by="user:carl"))
    body = await read_body(c_reader, limit=MAX_CALL_BYTES)
    assert body is not None
    assert json.loads(body)["verb"] == "release"
    c_writer.close()  # the controller is gone before it answered
    with pytest.raises(PanelLinkError, match="the controller went away"):
        await call
    await asyncio.wait_for(gym.gone(), 2)
    with pytest.raises(PanelLinkError, match="cannot be reached"):
        await gym.check_out("rack-1", by="user:carl")


async def test_a_call_the_controller_does_not_answer_times_out(
    link: tuple[RemoteGym, asyncio.StreamReader, asyncio.StreamWriter],
) -> None:
    gym, _, _ = link
    gym.call_timeout_s = 0.2
    with pytest.raises(PanelLinkError, match=r"did not answer check_out within 0\.2 s"):
        await gym.check_out("rack-2", by="user:carl")
