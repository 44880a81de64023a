"""JSON for values that may hold NaN, infinities or enums (the store's columns, MQTT)."""

from __future__ import annotations

import enum
import json
import math
from typing import Any


def clean(value: Any) -> Any:
    """Non-finite floats become None, enums their value, tuples lists; recursively."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """Compact, valid JSON (never NaN); unknown objects become their ``str``."""
    return json.dumps(clean(value), allow_nan=False, default=str, separators=(",", ":"))
