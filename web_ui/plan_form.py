"""The plan editor's form: a plan body from form fields and back, and its checks.

A plan body is JSON (``plans.body_json``)::

    {"name": "...", "description": "...",
     "sessions": [{"name": "Day A",
                   "blocks": [{"exercise": "back_squat", "sets": 4,
                               "reps_min": 3, "reps_max": 5,
                               "load": {"kind": "pct_1rm", "value": 80},
                               "velocity_loss_pct": 20, "rest_s": 180}]}]}

Form fields are named by their path in the body (``sessions[0].blocks[1].sets``), and
every problem is a :class:`FieldError` with that path, so the editor shows each message
next to its field. :func:`check_plan` is the panel's own check of this form (types and
ranges); the plan model's validator (``plans``) plugs in through the same signature,
``(body) -> [FieldError]`` (``create_app(plan_validator=...)``), and its messages land
next to the same fields.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOAD_KINDS: Mapping[str, str] = {
    "pct_1rm": "% 1RM",
    "kg": "kg",
    "velocity": "target m/s",
}
#: (lowest, highest) of each load kind's value
LOAD_RANGES: Mapping[str, tuple[float, float]] = {
    "pct_1rm": (20.0, 105.0),
    "kg": (0.5, 500.0),
    "velocity": (0.1, 2.5),
}
EXERCISE = re.compile(r"^[a-z][a-z0-9_]{1,47}$")
MAX_SESSIONS = 14
MAX_BLOCKS = 20
_PATH = re.compile(r"^sessions\[(\d+)\](?:\.blocks\[(\d+)\])?\.([a-z_]+(?:\.[a-z_]+)?)$")


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str  #: e.g. ``sessions[0].blocks[1].sets``; "" for the plan as a whole
    message: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def blank_block() -> dict[str, Any]:
    return {
        "exercise": "",
        "sets": 3,
        "reps_min": 3,
        "reps_max": 5,
        "load": {"kind": "pct_1rm", "value": 75},
        "velocity_loss_pct": 20,
        "rest_s": 180,
    }


def blank_plan() -> dict[str, Any]:
    return {
        "name": "",
        "description": "",
        "sessions": [{"name": "Day A", "blocks": [blank_block()]}],
    }


def _number(raw: str) -> Any:
    """A number from a form field; the text itself when it is not one (the check says so)."""
    text = raw.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text else value


def body_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The plan body from the editor's fields (values kept as typed when they are wrong)."""
    sessions: dict[int, dict[str, Any]] = {}
    for key, raw in form.items():
        match = _PATH.match(key)
        if match is None:
            continue
        s_index = int(match[1])
        session = sessions.setdefault(s_index, {"name": "", "blocks": {}})
        field = match[3]
        if match[2] is None:
            if field == "name":
                session["name"] = raw.strip()
            continue
        block = session["blocks"].setdefault(int(match[2]), {"load": {}})
        if field == "exercise":
            block["exercise"] = raw.strip()
        elif field == "load.kind":
            block["load"]["kind"] = raw.strip()
        elif field == "load.value":
            block["load"]["value"] = _number(raw)
        elif field == "remove":
            block["remove"] = True
        elif field in ("sets", "reps_min", "reps_max", "velocity_loss_pct", "rest_s"):
            block[field] = _number(raw)
    body: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "sessions": [],
    }
    for s_index in sorted(sessions):
        session = sessions[s_index]
        blocks = [
            session["blocks"][b]
            for b in sorted(session["blocks"])
            if not session["blocks"][b].get("remove")
        ]
        body["sessions"].append({"name": session["name"], "blocks": blocks})
    return body


def edit(body: dict[str, Any], action: str) -> dict[str, Any]:
    """Apply an editor button (``add_session``, ``add_block:<session>``) to a body."""
    sessions = body.setdefault("sessions", [])
    if action == "add_session" and len(sessions) < MAX_SESSIONS:
        letter = chr(ord("A") + len(sessions) % 26)
        sessions.append({"name": f"Day {letter}", "blocks": [blank_block()]})
    elif action.startswith("add_block:"):
        try:
            index = int(action.split(":", 1)[1])
        except ValueError:
            return body
        if 0 <= index < len(sessions) and len(sessions[index]["blocks"]) < MAX_BLOCKS:
            sessions[index]["blocks"].append(blank_block())
    return body


def _is_number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _whole(
    errors: list[FieldError], path: str, value: Any, *, lo: int, hi: int, what: str
) -> int | None:
    if value is None or value == "":
        errors.append(FieldError(path, f"{what} is required"))
        return None
    if not _is_number(value) or float(value) != int(value):
        errors.append(FieldError(path, f"{what} must be a whole number"))
        return None
    if not lo <= int(value) <= hi:
        errors.append(FieldError(path, f"{what} must be {lo} to {hi}"))
        return None
    return int(value)


def _block(errors: list[FieldError], path: str, block: Any) -> None:
    if not isinstance(block, Mapping):
        errors.append(FieldError(path, "must be an object"))
        return
    exercise = block.get("exercise")
    if not exercise:
        errors.append(FieldError(f"{path}.exercise", "choose an exercise"))
    elif not isinstance(exercise, str) or not EXERCISE.match(exercise):
        errors.append(
            FieldError(
                f"{path}.exercise",
                "use the exercise's name: lower-case letters, digits and '_' (e.g. back_squat)",
            )
        )
    _whole(errors, f"{path}.sets", block.get("sets"), lo=1, hi=20, what="sets")
    low = _whole(errors, f"{path}.reps_min", block.get("reps_min"), lo=1, hi=50, what="reps")
    high = _whole(errors, f"{path}.reps_max", block.get("reps_max"), lo=1, hi=50, what="reps")
    if low is not None and high is not None and high < low:
        errors.append(FieldError(f"{path}.reps_max", f"must be at least the minimum ({low})"))
    load = block.get("load")
    if not isinstance(load, Mapping):
        errors.append(FieldError(f"{path}.load.kind", "choose how the load is given"))
    else:
        kind = load.get("kind")
        if kind not in LOAD_KINDS:
            errors.append(
                FieldError(f"{path}.load.kind", f"must be one of {', '.join(LOAD_KINDS)}")
            )
        value = load.get("value")
        if value is None or value == "":
            errors.append(FieldError(f"{path}.load.value", "the load is required"))
        elif not _is_number(value):
            errors.append(FieldError(f"{path}.load.value", "must be a number"))
        elif isinstance(kind, str) and kind in LOAD_RANGES:
            lo, hi = LOAD_RANGES[kind]
            if not lo <= float(value) <= hi:
                errors.append(
                    FieldError(
                        f"{path}.load.value",
                        f"{LOAD_KINDS[kind]} must be between {lo:g} and {hi:g}",
                    )
                )
    vl = block.get("velocity_loss_pct")
    if vl is not None and vl != "":
        if not _is_number(vl):
            errors.append(FieldError(f"{path}.velocity_loss_pct", "must be a number"))
        elif not 5 <= float(vl) <= 60:
            errors.append(
                FieldError(f"{path}.velocity_loss_pct", "velocity loss stop must be 5 to 60 %")
            )
    rest = block.get("rest_s")
    if rest is not None and rest != "":
        _whole(errors, f"{path}.rest_s", rest, lo=0, hi=900, what="rest")


def check_plan(body: Mapping[str, Any]) -> list[FieldError]:
    """Every problem of a plan body, each at its field's path (empty: the plan is valid)."""
    errors: list[FieldError] = []
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        errors.append(FieldError("name", "give the plan a name"))
    elif len(name) > 80:
        errors.append(FieldError("name", "must be at most 80 characters"))
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        errors.append(FieldError("description", "must be text of at most 2000 characters"))
    sessions = body.get("sessions")
    if not isinstance(sessions, list) or not sessions:
        errors.append(FieldError("sessions", "a plan needs at least one session"))
        return errors
    if len(sessions) > MAX_SESSIONS:
        errors.append(FieldError("sessions", f"at most {MAX_SESSIONS} sessions"))
    for s_index, session in enumerate(sessions):
        path = f"sessions[{s_index}]"
        if not isinstance(session, Mapping):
            errors.append(FieldError(path, "must be an object"))
            continue
        session_name = session.get("name")
        if not isinstance(session_name, str) or not session_name.strip():
            errors.append(FieldError(f"{path}.name", "give the session a name"))
        blocks = session.get("blocks")
        if not isinstance(blocks, list) or not blocks:
            errors.append(FieldError(f"{path}.blocks", "a session needs at least one exercise"))
            continue
        if len(blocks) > MAX_BLOCKS:
            errors.append(FieldError(f"{path}.blocks", f"at most {MAX_BLOCKS} exercises"))
        for b_index, block in enumerate(blocks):
            _block(errors, f"{path}.blocks[{b_index}]", block)
    return errors


def errors_by_path(errors: list[FieldError]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for error in errors:
        out.setdefault(error.path, []).append(error.message)
    return out
