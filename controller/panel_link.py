"""The wire between the controller and a panel in a process of its own.

One stream socket (a ``socketpair`` the controller makes and the panel's process
inherits) carries frames: a 4-byte big-endian length, then the body.

* **Controller to panel**: pickled tuples. The controller is the more trusted side and
  its values are the service API's own (snapshots, events, health, command results), so
  they travel as they are, without a second schema to keep in step:

  - ``("start", PanelStart)``: everything the panel needs, first;
  - ``("update", snapshots, events)``: fresh snapshots of the stations the events are
    about, then the events in the order the bus published them;
  - ``("health", ServiceHealth)``: once a second;
  - ``("answer", call_id, CommandResult | None, StationSnapshot | None, Failure | None)``.

* **Panel to controller**: JSON objects, never pickles. The panel's process is the one
  that faces the network; if it were ever subverted it could still only ask for the
  five staff commands, each checked here (:func:`parse_call`) and then by the station's
  safety envelope, as from the panel inside the controller:

  - ``{"ready": url}`` once its server listens;
  - ``{"call": id, "verb": ..., "station": ..., "by": ..., ...}``.
"""

from __future__ import annotations

import asyncio
import json
import math
import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from controller.config import StoreConfig
from controller.errors import (
    ControllerError,
    NotFoundError,
    SafetyError,
    StoreUnwritableError,
)
from controller.service import ServiceHealth, StationSnapshot
from kernels.errors import GymctlError, InvalidInputError

_LENGTH = struct.Struct(">I")
#: the largest frame the controller reads from the panel (a command is a few hundred bytes)
MAX_CALL_BYTES: Final = 64 * 1024
#: the largest frame the panel reads from the controller (a burst of events)
MAX_UPDATE_BYTES: Final = 256 * 1024 * 1024

#: the staff commands the panel may ask for, with their arguments besides ``station``/``by``
VERBS: Final[dict[str, tuple[str, ...]]] = {
    "estop": ("reason",),
    "release": (),
    "override_load": ("value", "reason"),
    "check_in": ("athlete",),
    "check_out": (),
}


class PanelLinkError(ControllerError):
    """The link between the controller and the panel's process broke or carried nonsense."""


@dataclass(frozen=True, slots=True)
class PanelStart:
    """What the panel's process needs to serve: sent first, once."""

    site_name: str
    db_path: Path
    store: StoreConfig
    settings: Any  #: ``web_ui.PanelSettings`` (the controller does not import the panel)
    snapshots: tuple[StationSnapshot, ...]
    health: ServiceHealth
    log_level: int


@dataclass(frozen=True, slots=True)
class Call:
    """A staff command from the panel, checked."""

    call_id: int
    verb: str
    station: str
    by: str
    reason: str = ""
    value: float | None = None
    athlete: str | None = None


@dataclass(frozen=True, slots=True)
class Failure:
    """An error the controller raised for a call, to be raised again in the panel."""

    kind: str  #: "invalid", "not_found", "safety", "unwritable", "controller"
    message: str
    where: str | None = None

    @classmethod
    def of(cls, exc: GymctlError) -> Failure:
        if isinstance(exc, InvalidInputError):
            return cls("invalid", exc.problem, exc.where)
        if isinstance(exc, NotFoundError):
            return cls("not_found", str(exc))
        if isinstance(exc, SafetyError):
            return cls("safety", str(exc))
        if isinstance(exc, StoreUnwritableError):
            return cls("unwritable", str(exc))
        return cls("controller", str(exc))

    def error(self) -> GymctlError:
        """The exception the panel's handlers map to an HTTP answer."""
        match self.kind:
            case "invalid":
                return InvalidInputError(self.message, where=self.where)
            case "not_found":
                return NotFoundError(self.message)
            case "safety":
                return SafetyError(self.message)
            case "unwritable":
                return StoreUnwritableError(self.message)
            case _:
                return ControllerError(self.message)


def pickled_frame(message: tuple[Any, ...]) -> bytes:
    body = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _LENGTH.pack(len(body)) + body


def json_frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message, separators=(",", ":"), allow_nan=False).encode()
    return _LENGTH.pack(len(body)) + body


async def read_body(reader: asyncio.StreamReader, *, limit: int) -> bytes | None:
    """The next frame's body, or None at the end of the stream (the other side is gone)."""
    try:
        head = await reader.readexactly(_LENGTH.size)
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise PanelLinkError("the link ended inside a frame's length") from None
        return None
    (length,) = _LENGTH.unpack(head)
    if length > limit:
        raise PanelLinkError(f"a frame of {length} bytes is over the link's {limit}")
    try:
        return await reader.readexactly(length)
    except asyncio.IncompleteReadError:
        raise PanelLinkError("the link ended inside a frame") from None


def _text(message: dict[str, Any], key: str, *, limit: int = 200) -> str:
    value = message.get(key, "")
    if not isinstance(value, str) or len(value) > limit:
        raise PanelLinkError(f"call: {key!r} must be a string of at most {limit} characters")
    return value


def parse_message(body: bytes) -> dict[str, Any]:
    """A frame from the panel as a JSON object (anything else breaks the link)."""
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise PanelLinkError(f"the panel sent a frame that is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise PanelLinkError("the panel sent a frame that is not a JSON object")
    return message


def parse_call(message: dict[str, Any]) -> Call:
    """A command from the panel, checked for shape; the station's envelope decides the rest."""
    call_id = message.get("call")
    if not isinstance(call_id, int) or isinstance(call_id, bool) or call_id < 0:
        raise PanelLinkError("call: 'call' must be a non-negative integer id")
    verb = message.get("verb")
    if not isinstance(verb, str) or verb not in VERBS:
        raise PanelLinkError(f"call: unknown verb {verb!r}")
    allowed = {"call", "verb", "station", "by", *VERBS[verb]}
    extra = sorted(set(message) - allowed)
    if extra:
        raise PanelLinkError(f"call: {verb} takes no {', '.join(map(repr, extra))}")
    station, by = _text(message, "station"), _text(message, "by")
    if not station or not by:
        raise PanelLinkError("call: 'station' and 'by' are required")
    value: float | None = None
    if verb == "override_load":
        raw = message.get("value")
        if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
            raise PanelLinkError("call: override_load's 'value' must be a finite number")
        value = float(raw)
    athlete: str | None = None
    if verb == "check_in":
        athlete = _text(message, "athlete")
        if not athlete:
            raise PanelLinkError("call: check_in's 'athlete' is required")
    return Call(
        call_id=call_id,
        verb=verb,
        station=station,
        by=by,
        reason=_text(message, "reason", limit=500),
        value=value,
        athlete=athlete,
    )
