"""Settings staff change at run time, kept in ``site_settings`` over the site config.

Only keys listed in :data:`EDITABLE` can be stored, each with its validation, so a row in
the table is always a value the config itself would accept. The retention settings are the
first (the panel's data page); :func:`apply_overrides` gives the ``StoreConfig`` in force.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from controller.config import StoreConfig
from kernels.errors import InvalidInputError


@dataclass(frozen=True, slots=True)
class Editable:
    key: str
    label: str
    check: Callable[[Any], int]


def _days(key: str) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidInputError("must be a whole number of days", where=key)
        if not 1 <= value <= 3650:
            raise InvalidInputError("must be 1..3650 days", where=key)
        return value

    return check


EDITABLE: Mapping[str, Editable] = {
    e.key: e
    for e in (
        Editable(
            "store.trace_retention_days",
            "raw traces are kept for (days)",
            _days("store.trace_retention_days"),
        ),
        Editable(
            "store.readiness_retention_days",
            "readiness inputs are kept for (days)",
            _days("store.readiness_retention_days"),
        ),
    )
}


def validate(key: str, value: Any) -> Any:
    """The value as it will be stored; raises ``InvalidInputError`` naming the key."""
    editable = EDITABLE.get(key)
    if editable is None:
        raise InvalidInputError(f"not a setting that can be changed here ({key!r})", where="key")
    return editable.check(value)


def set_setting(db: Database, *, key: str, value: Any, by: str | None) -> None:
    """Store an override (runs in the writer thread, ``StoreWriter.call``)."""
    checked = validate(key, value)
    db.execute(
        "INSERT INTO site_settings (key, value_json, updated, updated_by) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value_json = excluded.value_json, "
        "updated = excluded.updated, updated_by = excluded.updated_by",
        [key, json.dumps(checked), time.time(), by],
    )


def clear_setting(db: Database, *, key: str) -> None:
    db.execute("DELETE FROM site_settings WHERE key = ?", [key])


def read_overrides(conn: sqlite3.Connection) -> dict[str, Any]:
    """The stored overrides by key (for ``StoreReader.read``); unknown keys are skipped."""
    out: dict[str, Any] = {}
    for key, value_json in conn.execute("SELECT key, value_json FROM site_settings"):
        if key in EDITABLE:
            out[str(key)] = json.loads(value_json)
    return out


def apply_overrides(config: StoreConfig, overrides: Mapping[str, Any]) -> StoreConfig:
    """The store settings in force: the config's, with the stored overrides on top."""
    update = {
        key.removeprefix("store."): value
        for key, value in overrides.items()
        if key.startswith("store.") and key in EDITABLE
    }
    return config.model_copy(update=update) if update else config
