"""Commands that arrive over MQTT: parsed, validated and typed before anything uses them.

A command is a message on ``<prefix>/<site>/station/<id>/cmd/<verb>`` (QoS 1, never
retained) whose payload is one JSON object::

    {"by": "front-desk", "seq": 42, "expires": 1767225600.5, ...the verb's fields}

* ``by`` (required): who sends it (1-64 of ``A-Za-z0-9_.@-``); the log and the replay
  check use it.
* ``seq``: an integer that grows with every command of this sender; a command whose
  ``seq`` is not above the last accepted one of the same sender and station is a replay.
* ``expires``: UNIX time after which the command is void; it may not lie further ahead
  than ``mqtt.command_max_age_s``. A command with ``expires`` but no ``seq`` needs an
  ``id`` (8-64 characters) that is not repeated while the command is valid.

At least one of ``seq`` and ``expires`` is required; with both, both are checked. The verbs:

============  =====================================================================
``estop``     ``reason`` (optional text): latch the station's e-stop
``release``   release it (refused unless the site sets ``mqtt.remote_release``)
``load``      ``value`` (number, 0..10000, the device's unit), ``reason``: a new target
              load, through the safety envelope like any other (clamped, ramped,
              announced)
``confirm``   confirm an announced increase (the athlete's app or button)
``cue``       ``text`` (up to 48 characters), ``colour``, ``number``, ``ttl_s`` (0..60)
============  =====================================================================

Anything else (unknown verb or field, wrong type, out of range, retained, replayed,
expired, a station that does not exist) raises ``CommandRejectedError`` with a message
naming the problem and the topic; the bridge logs it and never applies the command.
Note that the sequence memory starts empty when the controller starts: senders that
must survive a controller restart without a replay window add ``expires``.
"""

from __future__ import annotations

import json
import math
import re
from collections import OrderedDict
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, ClassVar

from controller.cue_router import CueRouter
from controller.cues import Cue, CueKind, CuePriority
from controller.errors import CommandRejectedError
from controller.events import CommandEvent, CommandOutcome, CommandSource, Event
from controller.mqtt.topics import Topics
from controller.safety import ResistanceDrive, Verdict
from equipment_adapters.base import CueColour
from kernels.errors import InvalidInputError

MAX_PAYLOAD = 4096
MAX_LOAD = 10_000.0
_SENDER = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_COMMON = frozenset({"by", "seq", "expires", "id"})


@dataclass(frozen=True, slots=True, kw_only=True)
class StationCommand:
    """What every command carries besides its own fields."""

    VERB: ClassVar[str] = ""

    station_id: str
    by: str
    seq: int | None = None
    expires: float | None = None
    nonce: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class EstopCommand(StationCommand):
    VERB: ClassVar[str] = "estop"
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ReleaseCommand(StationCommand):
    VERB: ClassVar[str] = "release"


@dataclass(frozen=True, slots=True, kw_only=True)
class LoadCommand(StationCommand):
    VERB: ClassVar[str] = "load"
    value: float
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfirmCommand(StationCommand):
    VERB: ClassVar[str] = "confirm"


@dataclass(frozen=True, slots=True, kw_only=True)
class CueCommand(StationCommand):
    VERB: ClassVar[str] = "cue"
    cue: Cue


AnyCommand = EstopCommand | ReleaseCommand | LoadCommand | ConfirmCommand | CueCommand

_FIELDS: dict[str, frozenset[str]] = {
    "estop": frozenset({"reason"}),
    "release": frozenset(),
    "load": frozenset({"value", "reason"}),
    "confirm": frozenset(),
    "cue": frozenset({"text", "colour", "number", "ttl_s"}),
}


def _number(data: dict[str, Any], key: str, where: str, lo: float, hi: float) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CommandRejectedError(f"'{key}' must be a number", where=where)
    if not math.isfinite(value) or not lo <= value <= hi:
        raise CommandRejectedError(f"'{key}' must be {lo:g}..{hi:g}, not {value!r}", where=where)
    return float(value)


def _text(data: dict[str, Any], key: str, where: str, limit: int) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or len(value) > limit or not value.isprintable():
        raise CommandRejectedError(
            f"'{key}' must be printable text of at most {limit}", where=where
        )
    return value


def parse_command(
    topic: str,
    payload: bytes,
    *,
    topics: Topics,
    now: float,
    max_age_s: float,
    retained: bool = False,
    stations: Collection[str] | None = None,
) -> AnyCommand:
    """Validate one command message; raises ``CommandRejectedError`` naming the problem."""
    station_id, verb = topics.parse_command(topic)
    where = topic
    if retained:
        raise CommandRejectedError("retained commands are refused", where=where)
    if stations is not None and station_id not in stations:
        raise CommandRejectedError(f"no station {station_id!r} at this site", where=where)
    if verb not in _FIELDS:
        raise CommandRejectedError(
            f"unknown verb {verb!r} (known: {', '.join(_FIELDS)})", where=where
        )
    if len(payload) > MAX_PAYLOAD:
        raise CommandRejectedError(f"payload larger than {MAX_PAYLOAD} bytes", where=where)
    try:
        data = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandRejectedError(f"payload is not JSON: {exc}", where=where) from None
    except RecursionError:  # "[[[[..." within MAX_PAYLOAD: the parser's stack, not ours
        raise CommandRejectedError("payload is nested too deeply", where=where) from None
    if not isinstance(data, dict):
        raise CommandRejectedError("payload must be a JSON object", where=where)
    unknown = set(data) - _COMMON - _FIELDS[verb]
    if unknown:
        raise CommandRejectedError(f"unknown field(s) {sorted(unknown)}", where=where)
    by = data.get("by")
    if not isinstance(by, str) or not _SENDER.match(by):
        raise CommandRejectedError("'by' must name the sender (1-64 of A-Za-z0-9_.@-)", where=where)
    seq = data.get("seq")
    if seq is not None and (type(seq) is not int or not 0 < seq < 2**53):
        raise CommandRejectedError("'seq' must be an integer 1..2^53", where=where)
    expires = None
    if "expires" in data:
        expires = _number(data, "expires", where, 0.0, 1e11)
        if expires <= now:
            raise CommandRejectedError(f"expired {now - expires:.1f} s ago", where=where)
        if expires > now + max_age_s:
            raise CommandRejectedError(
                f"'expires' is {expires - now:.0f} s ahead; at most {max_age_s:g} s", where=where
            )
    nonce = data.get("id")
    if nonce is not None and (not isinstance(nonce, str) or not 8 <= len(nonce) <= 64):
        raise CommandRejectedError("'id' must be 8-64 characters", where=where)
    if seq is None and expires is None:
        raise CommandRejectedError("a command needs 'seq' or 'expires'", where=where)
    if seq is None and nonce is None:
        raise CommandRejectedError(
            "a command with 'expires' and no 'seq' needs an 'id'", where=where
        )
    common: dict[str, Any] = {
        "station_id": station_id,
        "by": by,
        "seq": seq,
        "expires": expires,
        "nonce": nonce,
    }
    match verb:
        case "estop":
            return EstopCommand(**common, reason=_text(data, "reason", where, 200))
        case "release":
            return ReleaseCommand(**common)
        case "confirm":
            return ConfirmCommand(**common)
        case "load":
            if "value" not in data:
                raise CommandRejectedError("'value' is required", where=where)
            return LoadCommand(
                **common,
                value=_number(data, "value", where, 0.0, MAX_LOAD),
                reason=_text(data, "reason", where, 200),
            )
    # cue
    colour_name = data.get("colour", "white")
    try:
        colour = CueColour(colour_name)
    except ValueError:
        known = ", ".join(c.value for c in CueColour)
        raise CommandRejectedError(f"'colour' must be one of {known}", where=where) from None
    number = _number(data, "number", where, -1e6, 1e6) if "number" in data else None
    ttl = _number(data, "ttl_s", where, 0.1, 60.0) if "ttl_s" in data else 5.0
    try:
        cue = Cue(
            CueKind.MESSAGE,
            text=_text(data, "text", where, 48),
            colour=colour,
            number=number,
            priority=CuePriority.INFO,
            ttl_s=ttl,
        )
    except InvalidInputError as exc:
        raise CommandRejectedError(exc.problem, where=where) from None
    return CueCommand(**common, cue=cue)


class ReplayGuard:
    """Remembers, per station and sender, the last accepted ``seq`` and the live ``id``s."""

    def __init__(self, *, max_senders: int = 10_000) -> None:
        self.max_senders = max_senders
        self._last_seq: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._ids: dict[str, float] = {}

    def check(self, command: StationCommand, *, now: float, where: str) -> None:
        """Refuse a replay; remember the command when it is new."""
        key = (command.station_id, command.by)
        if command.seq is not None:
            last = self._last_seq.get(key)
            if last is not None and command.seq <= last:
                raise CommandRejectedError(
                    f"replayed: seq {command.seq} is not above {last}, the last accepted "
                    f"from {command.by!r}",
                    where=where,
                )
        if command.nonce is not None:
            self._ids = {k: t for k, t in self._ids.items() if t > now}
            if command.nonce in self._ids:
                raise CommandRejectedError(f"replayed: id {command.nonce!r} seen", where=where)
            if command.expires is not None:
                self._ids[command.nonce] = command.expires
        if command.seq is not None:
            self._last_seq[key] = command.seq
            self._last_seq.move_to_end(key)
            while len(self._last_seq) > self.max_senders:
                self._last_seq.popitem(last=False)


def dispatch(
    command: AnyCommand,
    *,
    drive: ResistanceDrive,
    cues: CueRouter | None = None,
    publish: Callable[[Event], None] | None = None,
) -> Verdict:
    """Hand a validated MQTT command to the station: every one goes through the envelope."""
    source = CommandSource.MQTT
    match command:
        case EstopCommand():
            return drive.estop(source=source, reason=command.reason or "MQTT", by=command.by)
        case ReleaseCommand():
            return drive.release(by=command.by, source=source)
        case LoadCommand():
            return drive.request_load(
                command.value, source=source, reason=command.reason, by=command.by
            )
        case ConfirmCommand():
            return drive.confirm(source=source, by=command.by)
    if cues is not None:
        shown = cues.offer(command.cue)
    else:
        drive.show_cue(command.cue)
        shown = True
    verdict = Verdict(
        CommandOutcome.APPLIED if shown else CommandOutcome.REFUSED,
        "cue shown" if shown else "a cue of higher priority is on show",
    )
    (publish or drive.publish)(
        CommandEvent(
            station_id=command.station_id,
            source=source,
            verb="cue",
            outcome=verdict.outcome,
            reason=verdict.reason,
            by=command.by,
            params={"text": command.cue.text},
        )
    )
    return verdict
