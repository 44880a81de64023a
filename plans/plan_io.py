"""Plan files: JSON and YAML in, JSON and YAML out, every problem named by its field.

Errors read like ``plan.yaml: 2 problems: sessions[0].blocks[1].load.percent: must be at most
110``; syntax errors carry the line.
"""

from __future__ import annotations

import enum
import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from plans.errors import PlanValidationError
from plans.exercises import Catalogue
from plans.model import PROBLEM_SEPARATOR, Plan


class Format(enum.StrEnum):
    JSON = "json"
    YAML = "yaml"


def format_of(path: Path) -> Format:
    suffix = path.suffix.lower()
    if suffix == ".json":
        return Format.JSON
    if suffix in (".yaml", ".yml"):
        return Format.YAML
    raise PlanValidationError(
        [("", f"unknown file type {suffix or '(none)'!r}: use .json, .yaml or .yml")],
        source=str(path),
    )


def _field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _problems(exc: ValidationError) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    errors = exc.errors(include_url=False)
    for error in errors:
        # pydantic also reports "too short" for a list whose items failed: the items'
        # own errors say what is wrong, the count would only mislead.
        if error["type"] == "too_short" and any(
            len(other["loc"]) > len(error["loc"])
            and other["loc"][: len(error["loc"])] == error["loc"]
            for other in errors
        ):
            continue
        # Discriminated unions add the tag to the location ("load.percent_1rm.percent");
        # people think of the field, not the tag.
        loc = tuple(
            part for part in error["loc"] if not (isinstance(part, str) and part in _UNION_TAGS)
        )
        message = _plain(error["type"], error.get("ctx") or {}) or str(error["msg"]).removeprefix(
            "Value error, "
        )
        if error["type"] == "union_tag_not_found":
            tag = str((error.get("ctx") or {}).get("discriminator", "kind")).strip("'")
            message = f"needs a {tag!r} field saying which kind this is"
        if PROBLEM_SEPARATOR in message or (not loc and ": " in message):
            for line in message.split(PROBLEM_SEPARATOR):
                path, _, problem = line.partition(": ")
                problems.append((path, problem))
        else:
            problems.append((_field_path(loc), message))
    return problems


#: pydantic's error types in the words staff and coaches read next to a field
_PLAIN: dict[str, str] = {
    "greater_than_equal": "must be at least {ge}",
    "less_than_equal": "must be at most {le}",
    "greater_than": "must be more than {gt}",
    "less_than": "must be less than {lt}",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "finite_number": "must be a finite number",
    "missing": "is required",
    "extra_forbidden": "is not a field here (remove it or check its spelling)",
    "string_too_short": "must have at least {min_length} characters",
    "string_too_long": "must have at most {max_length} characters",
    "literal_error": "must be one of {expected}",
    "enum": "must be one of {expected}",
}


def _plain(kind: str, ctx: dict[str, Any]) -> str | None:
    template = _PLAIN.get(kind)
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if template is None:
        return None
    try:
        return template.format(**{k: _show(v) for k, v in ctx.items()})
    except (KeyError, IndexError):
        return None


def _show(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


_UNION_TAGS = frozenset(
    {"percent_1rm", "kg", "velocity_zone", "power", "percent_threshold", "hr_zone", "erg"}
    | {"strength", "bike"}
)


def plan_from_data(data: Any, *, source: str = "plan", catalogue: Catalogue | None = None) -> Plan:
    """Validate parsed data (a dict) as a plan."""
    if not isinstance(data, dict):
        raise PlanValidationError(
            [("", f"a plan is a mapping of fields, got {type(data).__name__}")], source=source
        )
    try:
        return Plan.model_validate(data, context={"catalogue": catalogue} if catalogue else None)
    except ValidationError as exc:
        raise PlanValidationError(_problems(exc), source=source) from None


def parse_plan(text: str, fmt: Format, *, source: str = "plan") -> Plan:
    """Parse and validate the text of a plan file."""
    try:
        data = json.loads(text) if fmt is Format.JSON else yaml.safe_load(text)
    except json.JSONDecodeError as exc:
        raise PlanValidationError(
            [("", f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})")],
            source=source,
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise PlanValidationError([("", f"not valid YAML: {problem}{at}")], source=source) from None
    except RecursionError:  # both parsers recurse per level of nesting
        raise PlanValidationError(
            [("", f"not valid {fmt.name}: nested too deeply")], source=source
        ) from None
    return plan_from_data(data, source=source)


def load_plan(path: Path, text: str) -> Plan:
    """Validate a plan file's text, the format from its suffix."""
    return parse_plan(text, format_of(path), source=str(path))


def plan_to_data(plan: Plan) -> dict[str, Any]:
    """Plain data (JSON types); unset optional fields left out."""
    return plan.model_dump(mode="json", exclude_none=True)


def dump_plan(plan: Plan, fmt: Format) -> str:
    data = plan_to_data(plan)
    if fmt is Format.JSON:
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


# The built-in library --------------------------------------------------------------


def _library_files() -> dict[str, str]:
    folder = resources.files("plans.library").joinpath("programmes")
    return {
        entry.name.rsplit(".", 1)[0]: entry.read_text("utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith((".yaml", ".yml"))
    }


@cache
def builtin_plans() -> dict[str, Plan]:
    """The built-in programmes by name (package data under plans/library/programmes)."""
    plans: dict[str, Plan] = {}
    for stem, text in sorted(_library_files().items()):
        plan = parse_plan(text, Format.YAML, source=f"plans/library/programmes/{stem}.yaml")
        plans[plan.name] = plan
    return plans


def builtin_plan(name: str) -> Plan:
    plans = builtin_plans()
    try:
        return plans[name]
    except KeyError:
        raise PlanValidationError(
            [("name", f"no built-in plan {name!r} (known: {', '.join(sorted(plans))})")],
            source="plan library",
        ) from None
