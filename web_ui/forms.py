"""HTML form helpers: fields as text, pydantic's errors as one message per field."""

from __future__ import annotations

from fastapi import Request
from pydantic import ValidationError

from web_ui.auth import CSRF_FIELD

_MESSAGES = {
    "missing": "is required",
    "string_too_short": "must not be empty",
    "greater_than_equal": "is too small",
    "less_than_equal": "is too large",
    "int_parsing": "must be a whole number",
    "float_parsing": "must be a number",
    "date_from_datetime_parsing": "must be a date (YYYY-MM-DD)",
    "date_parsing": "must be a date (YYYY-MM-DD)",
    "literal_error": "is not one of the choices",
}


async def form_dict(request: Request) -> dict[str, str]:
    """The text fields of a posted form (the CSRF token and files left out)."""
    form = await request.form()
    return {k: v for k, v in form.items() if isinstance(v, str) and k != CSRF_FIELD}


def field_errors(exc: ValidationError) -> dict[str, str]:
    """The first problem of each field, in words a person reads next to the field."""
    out: dict[str, str] = {}
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"]) or "form"
        if field in out:
            continue
        kind = error["type"]
        ctx = error.get("ctx") or {}
        if kind in ("greater_than_equal", "less_than_equal") and ctx:
            bound = ctx.get("ge", ctx.get("le"))
            word = "at least" if kind == "greater_than_equal" else "at most"
            out[field] = f"must be {word} {bound}"
        elif kind == "value_error":
            out[field] = str(error["msg"]).removeprefix("Value error, ")
        elif kind == "string_too_long":
            out[field] = f"must be at most {ctx.get('max_length')} characters"
        else:
            out[field] = _MESSAGES.get(kind, str(error["msg"]))
    return out
