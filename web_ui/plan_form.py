"""The plan editor's form: a plan body from form fields and back, and its checks.

A plan body (``plans.body_json``) has the shape of the plan model of ``plans.model.Plan``
(strength blocks)::

    {"name": "strength-vl20", "title": "Strength block, VL 20 %", "description": "...",
     "goal": "strength", "weeks": 4,
     "sessions": [{"name": "day-a", "title": "Day A",
                   "blocks": [{"type": "strength", "exercise": "back_squat", "sets": 4,
                               "reps": {"min": 3, "max": 5},
                               "load": {"kind": "percent_1rm", "percent": 80},
                               "velocity_loss_stop_pct": 20, "rest_s": 180}]}]}

Problems are :class:`FieldError` values named by their path in the body
(``sessions[0].blocks[1].reps.max``), the way ``plans.plan_io`` names them, and
:func:`form_field` maps a path to the form field that shows it, so every message lands
next to its field whichever validator found it. :func:`check_plan` is the panel's own
check (types, ranges, order); the plan model's validator plugs in with the same signature,
``(body) -> [FieldError]`` (``create_app(plan_validator=...)``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: load kinds: label, the body's value key, lowest, highest
LOAD_KINDS: Mapping[str, tuple[str, str, float, float]] = {
    "percent_1rm": ("% 1RM", "percent", 1.0, 110.0),
    "kg": ("kg", "kg", 0.0, 500.0),
    "velocity_zone": ("m/s zone", "min_ms", 0.05, 3.0),
}
GOALS: tuple[str, ...] = (
    "strength",
    "hypertrophy",
    "power",
    "endurance",
    "intervals",
    "return_to_training",
)
SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
TEMPO = re.compile(r"^(\d{1,2}|X)-(\d{1,2}|X)-(\d{1,2}|X)-(\d{1,2}|X)$")
MAX_SESSIONS = 14
MAX_BLOCKS = 20
_FIELD = re.compile(r"^sessions\[(\d+)\](?:\.blocks\[(\d+)\])?\.([a-z_]+(?:\.[a-z_]+)?)$")
_BLOCK_FIELDS = frozenset(
    {
        "exercise",
        "sets",
        "reps.min",
        "reps.max",
        "load.kind",
        "load.value",
        "load.max_ms",
        "velocity_loss_stop_pct",
        "rest_s",
        "tempo",
        "remove",
    }
)


@dataclass(frozen=True, slots=True)
class FieldError:
    path: str  #: e.g. ``sessions[0].blocks[1].sets``; "" for the plan as a whole
    message: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


def form_field(path: str) -> str:
    """The editor field that shows a problem at ``path`` of the body."""
    for key in ("percent", "kg", "min_ms"):
        if path.endswith(f".load.{key}"):
            return path.removesuffix(key) + "value"
    if path.endswith(".load"):
        return path + ".kind"
    if path.endswith(".reps"):
        return path + ".max"
    return path


def slugify(text: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.casefold()).strip("-")
    return slug[:60] or "plan"


def blank_block() -> dict[str, Any]:
    return {
        "type": "strength",
        "exercise": "",
        "sets": 3,
        "reps": {"min": 3, "max": 5},
        "load": {"kind": "percent_1rm", "percent": 75},
        "velocity_loss_stop_pct": 20,
        "rest_s": 180,
    }


def blank_plan() -> dict[str, Any]:
    return {
        "name": "",
        "title": "",
        "description": "",
        "goal": "strength",
        "weeks": 4,
        "sessions": [{"name": "day-a", "title": "Day A", "blocks": [blank_block()]}],
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
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def load_value(load: Mapping[str, Any]) -> Any:
    """The number the editor's "load" field shows for a body's load."""
    kind = load.get("kind")
    key = LOAD_KINDS[kind][1] if isinstance(kind, str) and kind in LOAD_KINDS else "percent"
    return load.get(key)


def _load(kind: str, value: Any, max_ms: Any) -> dict[str, Any]:
    if kind == "velocity_zone":
        return {"kind": kind, "min_ms": value, "max_ms": max_ms}
    key = LOAD_KINDS[kind][1] if kind in LOAD_KINDS else "value"
    return {"kind": kind, key: value}


def body_from_form(form: Mapping[str, str]) -> dict[str, Any]:
    """The plan body from the editor's fields (values kept as typed when they are wrong)."""
    sessions: dict[int, dict[str, Any]] = {}
    for key, raw in form.items():
        match = _FIELD.match(key)
        if match is None:
            continue
        session = sessions.setdefault(int(match[1]), {"name": "", "title": "", "blocks": {}})
        field = match[3]
        if match[2] is None:
            if field in ("name", "title"):
                session[field] = raw.strip()
            continue
        if field not in _BLOCK_FIELDS:
            continue
        session["blocks"].setdefault(int(match[2]), {})[field] = raw
    body: dict[str, Any] = {
        "name": form.get("name", "").strip(),
        "title": form.get("title", "").strip(),
        "description": form.get("description", "").strip(),
        "goal": form.get("goal", "").strip(),
        "weeks": _number(form.get("weeks", "")),
        "sessions": [],
    }
    if not body["name"] and body["title"]:
        body["name"] = slugify(body["title"])
    for s_index in sorted(sessions):
        session = sessions[s_index]
        blocks = []
        for b_index in sorted(session["blocks"]):
            raw = session["blocks"][b_index]
            if raw.get("remove"):
                continue
            block: dict[str, Any] = {
                "type": "strength",
                "exercise": raw.get("exercise", "").strip(),
                "sets": _number(raw.get("sets", "")),
                "reps": {
                    "min": _number(raw.get("reps.min", "")),
                    "max": _number(raw.get("reps.max", "")),
                },
                "load": _load(
                    raw.get("load.kind", "").strip(),
                    _number(raw.get("load.value", "")),
                    _number(raw.get("load.max_ms", "")),
                ),
            }
            for name in ("velocity_loss_stop_pct", "rest_s"):
                value = _number(raw.get(name, ""))
                if value is not None:
                    block[name] = value
            if raw.get("tempo", "").strip():
                block["tempo"] = raw["tempo"].strip()
            blocks.append(block)
        body["sessions"].append(
            {"name": session["name"], "title": session["title"], "blocks": blocks}
        )
    return body


def edit(body: dict[str, Any], action: str) -> dict[str, Any]:
    """Apply an editor button (``add_session``, ``add_block:<session>``) to a body."""
    sessions = body.setdefault("sessions", [])
    if action == "add_session" and len(sessions) < MAX_SESSIONS:
        letter = chr(ord("a") + len(sessions) % 26)
        sessions.append(
            {"name": f"day-{letter}", "title": f"Day {letter.upper()}", "blocks": [blank_block()]}
        )
    elif action.startswith("add_block:"):
        try:
            index = int(action.split(":", 1)[1])
        except ValueError:
            return body
        if 0 <= index < len(sessions) and len(sessions[index]["blocks"]) < MAX_BLOCKS:
            sessions[index]["blocks"].append(blank_block())
    return body


def editable(body: Mapping[str, Any]) -> bool:
    """Whether the form can show the body (strength blocks only; bike intervals not yet)."""
    sessions = body.get("sessions")
    return isinstance(sessions, list) and all(
        isinstance(s, Mapping)
        and isinstance(s.get("blocks"), list)
        and all(
            isinstance(b, Mapping) and b.get("type", "strength") == "strength" for b in s["blocks"]
        )
        for s in sessions
    )


# -- checks ---------------------------------------------------------------------------


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


def _number_in(
    errors: list[FieldError], path: str, value: Any, *, lo: float, hi: float, what: str
) -> float | None:
    if value is None or value == "":
        errors.append(FieldError(path, f"{what} is required"))
        return None
    if not _is_number(value):
        errors.append(FieldError(path, f"{what} must be a number"))
        return None
    if not lo <= float(value) <= hi:
        errors.append(FieldError(path, f"{what} must be between {lo:g} and {hi:g}"))
        return None
    return float(value)


def _check_load(errors: list[FieldError], path: str, load: Any) -> None:
    if not isinstance(load, Mapping) or load.get("kind") not in LOAD_KINDS:
        kinds = ", ".join(LOAD_KINDS)
        errors.append(FieldError(f"{path}.load", f"choose how the load is given ({kinds})"))
        return
    kind = load["kind"]
    label, key, lo, hi = LOAD_KINDS[kind]
    low = _number_in(errors, f"{path}.load.{key}", load.get(key), lo=lo, hi=hi, what=label)
    if kind == "velocity_zone":
        high = _number_in(
            errors, f"{path}.load.max_ms", load.get("max_ms"), lo=lo, hi=hi, what="the zone's top"
        )
        if low is not None and high is not None and low >= high:
            errors.append(
                FieldError(f"{path}.load.max_ms", f"must be above the zone's bottom ({low:g})")
            )


def _check_block(errors: list[FieldError], path: str, block: Any) -> None:
    if not isinstance(block, Mapping):
        errors.append(FieldError(path, "must be an object"))
        return
    if block.get("type", "strength") != "strength":
        errors.append(FieldError(f"{path}.type", "the editor handles strength blocks only"))
        return
    exercise = block.get("exercise")
    if not exercise:
        errors.append(FieldError(f"{path}.exercise", "choose an exercise"))
    elif not isinstance(exercise, str) or not SLUG.match(exercise):
        errors.append(
            FieldError(
                f"{path}.exercise",
                "use the exercise's name: lower-case letters, digits and '_' (e.g. back_squat)",
            )
        )
    _whole(errors, f"{path}.sets", block.get("sets"), lo=1, hi=20, what="sets")
    reps = block.get("reps")
    if not isinstance(reps, Mapping):
        errors.append(FieldError(f"{path}.reps", "give the reps as a minimum and a maximum"))
    else:
        low = _whole(errors, f"{path}.reps.min", reps.get("min"), lo=1, hi=50, what="reps")
        high = _whole(errors, f"{path}.reps.max", reps.get("max"), lo=1, hi=50, what="reps")
        if low is not None and high is not None and high < low:
            errors.append(FieldError(f"{path}.reps.max", f"must be at least the minimum ({low})"))
    _check_load(errors, path, block.get("load"))
    vl = block.get("velocity_loss_stop_pct")
    if vl is not None and vl != "":
        _number_in(
            errors,
            f"{path}.velocity_loss_stop_pct",
            vl,
            lo=5,
            hi=60,
            what="the velocity loss stop (%)",
        )
    rest = block.get("rest_s")
    if rest is not None and rest != "":
        _whole(errors, f"{path}.rest_s", rest, lo=0, hi=4 * 3600, what="rest")
    tempo = block.get("tempo")
    if tempo is not None and (not isinstance(tempo, str) or not TEMPO.match(tempo)):
        errors.append(FieldError(f"{path}.tempo", "four parts like 3-1-X-0 (seconds or X)"))


def check_plan(body: Mapping[str, Any]) -> list[FieldError]:
    """Every problem of a plan body, each at its path (empty: the plan is valid)."""
    errors: list[FieldError] = []
    name = body.get("name")
    if not isinstance(name, str) or not SLUG.match(name):
        errors.append(
            FieldError("name", "a short id: lower-case letters, digits, '-' or '_' (e.g. vl20)")
        )
    title = body.get("title")
    if not isinstance(title, str) or not title.strip():
        errors.append(FieldError("title", "give the plan a title"))
    elif len(title) > 80:
        errors.append(FieldError("title", "must be at most 80 characters"))
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        errors.append(FieldError("description", "must be text of at most 2000 characters"))
    if body.get("goal") not in GOALS:
        errors.append(FieldError("goal", f"must be one of {', '.join(GOALS)}"))
    _whole(errors, "weeks", body.get("weeks"), lo=1, hi=52, what="weeks")
    sessions = body.get("sessions")
    if not isinstance(sessions, list) or not sessions:
        errors.append(FieldError("sessions", "a plan needs at least one session"))
        return errors
    if len(sessions) > MAX_SESSIONS:
        errors.append(FieldError("sessions", f"at most {MAX_SESSIONS} sessions"))
    seen: set[str] = set()
    for s_index, session in enumerate(sessions):
        path = f"sessions[{s_index}]"
        if not isinstance(session, Mapping):
            errors.append(FieldError(path, "must be an object"))
            continue
        session_name = session.get("name")
        if not isinstance(session_name, str) or not SLUG.match(session_name):
            errors.append(FieldError(f"{path}.name", "a short id like day-a"))
        elif session_name in seen:
            errors.append(FieldError(f"{path}.name", f"another session is named {session_name!r}"))
        else:
            seen.add(session_name)
        blocks = session.get("blocks")
        if not isinstance(blocks, list) or not blocks:
            errors.append(FieldError(f"{path}.blocks", "a session needs at least one exercise"))
            continue
        if len(blocks) > MAX_BLOCKS:
            errors.append(FieldError(f"{path}.blocks", f"at most {MAX_BLOCKS} exercises"))
        for b_index, block in enumerate(blocks):
            _check_block(errors, f"{path}.blocks[{b_index}]", block)
    return errors


def errors_by_field(errors: Sequence[FieldError]) -> dict[str, list[str]]:
    """Messages by the editor field that shows them (see :func:`form_field`)."""
    out: dict[str, list[str]] = {}
    for error in errors:
        out.setdefault(form_field(error.path), []).append(error.message)
    return out
