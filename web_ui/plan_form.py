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
next to its field whichever validator found it. :func:`check_plan` runs the plan model's
own validation (``plans.plan_io.plan_from_data``), so the editor, the API and
``gymctl plan validate`` refuse exactly the same plans; another validator plugs in with
the same signature, ``(body) -> [FieldError]`` (``create_app(plan_validator=...)``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from plans.errors import PlanValidationError
from plans.plan_io import plan_from_data

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


def check_plan(body: Mapping[str, Any]) -> list[FieldError]:
    """Every problem of a plan body, each at its path, as the plan model finds them."""
    try:
        plan_from_data(dict(body), source="plan")
    except PlanValidationError as exc:
        return [FieldError(path, problem) for path, problem in exc.problems]
    return []


def errors_by_field(errors: Sequence[FieldError]) -> dict[str, list[str]]:
    """Messages by the editor field that shows them (see :func:`form_field`)."""
    out: dict[str, list[str]] = {}
    for error in errors:
        out.setdefault(form_field(error.path), []).append(error.message)
    return out
