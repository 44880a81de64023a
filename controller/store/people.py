"""Writes about people and the site: athletes, staff users, API tokens, web sessions, the
audit log, plans and their assignment, stations and devices.

Each function takes the writer's ``Database`` and runs in the writer thread, inside the
savepoint of ``StoreWriter.call``::

    user_id = await writer.call(partial(create_staff_user, username="ana", role="coach",
                                        password_hash=hasher.hash(password)))

Secrets are never stored: passwords arrive hashed (argon2 by the panel), tokens and session
cookies are stored as their SHA-256 (:func:`hash_secret`).
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from datetime import time as dt_time
from typing import Any, Literal

from sqlite_utils import Database

from controller.config import RackConfig, SiteConfig
from controller.errors import NotFoundError
from controller.jsonable import to_json
from kernels.errors import InvalidInputError

Role = Literal["admin", "coach", "front_desk"]
ROLES: tuple[Role, ...] = ("admin", "coach", "front_desk")
_PSEUDONYM_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: read aloud safely


def new_athlete_id() -> str:
    """A pseudonymous athlete id: random, says nothing about the person (``a-`` + 10 chars)."""
    return "a-" + "".join(secrets.choice(_PSEUDONYM_ALPHABET) for _ in range(10))


def new_secret() -> str:
    """A token or session cookie value (256 random bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """What the store keeps of a token or a session cookie."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _changed(cursor: sqlite3.Cursor, what: str) -> None:
    if cursor.rowcount == 0:
        raise NotFoundError(f"no {what}")


# -- athletes -------------------------------------------------------------------------

ATHLETE_FIELDS = frozenset(
    {"display_name", "external_ref", "sex", "birth_year", "body_mass_kg", "notes"}
)


def create_athlete(
    db: Database, *, display_name: str, athlete_id: str | None = None, **fields: Any
) -> str:
    """A new athlete; returns the pseudonymous id (generated unless given)."""
    unknown = set(fields) - ATHLETE_FIELDS
    if unknown:
        raise InvalidInputError(f"unknown athlete fields {sorted(unknown)}", where="athlete")
    if not display_name.strip():
        raise InvalidInputError("must not be empty", where="athlete display_name")
    now = time.time()
    athlete_id = athlete_id or new_athlete_id()
    try:
        db.execute(
            "INSERT INTO athletes (id, display_name, external_ref, sex, birth_year, body_mass_kg,"
            " notes, created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                athlete_id,
                display_name.strip(),
                fields.get("external_ref"),
                fields.get("sex"),
                fields.get("birth_year"),
                fields.get("body_mass_kg"),
                fields.get("notes", ""),
                now,
                now,
            ],
        )
    except sqlite3.IntegrityError as exc:
        raise InvalidInputError(f"refused by the store: {exc}", where="athlete") from None
    return athlete_id


#: the readiness inputs a wearable export carries, with their units (``readiness_inputs``)
IMPORTED_KINDS: dict[str, str] = {
    "ln_rmssd": "ln(ms)",
    "resting_hr_bpm": "bpm",
    "sleep_h": "h",
    "sleep_quality": "1-5",
}


def import_readiness_inputs(
    db: Database, *, athlete_id: str, rows: Sequence[Mapping[str, Any]], source: str
) -> int:
    """Store a wearable export's days (``WearableRecord.to_row()`` rows) as readiness inputs.

    Importing the same source again replaces its values rather than doubling them; another
    source adds its own rows (the newest value of a kind on a day is the one read). Each
    value is dated at noon of its day (UTC), or now if that is later, so the retention
    period counts from the day it describes. Returns how many values were written.
    """
    if db.execute("SELECT 1 FROM athletes WHERE id = ?", [athlete_id]).fetchone() is None:
        raise NotFoundError(f"no athlete {athlete_id}")
    now = time.time()
    written = 0
    for row in rows:
        day = str(row["day"])
        noon = datetime.combine(date.fromisoformat(day), dt_time(12), tzinfo=UTC).timestamp()
        origin = str(row.get("source") or source)
        for kind, unit in IMPORTED_KINDS.items():
            value = row.get(kind)
            if value is None:
                continue
            db.execute(
                "DELETE FROM readiness_inputs WHERE athlete_id = ? AND day = ? AND kind = ?"
                " AND source = ?",
                [athlete_id, day, kind, origin],
            )
            db.execute(
                "INSERT INTO readiness_inputs (athlete_id, day, kind, value, unit, source, ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                [athlete_id, day, kind, float(value), unit, origin, min(now, noon)],
            )
            written += 1
    return written


def update_athlete(db: Database, athlete_id: str, **fields: Any) -> None:
    unknown = set(fields) - ATHLETE_FIELDS
    if unknown or not fields:
        raise InvalidInputError(f"unknown or no fields {sorted(unknown)}", where="athlete")
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cursor = db.execute(
        f"UPDATE athletes SET {assignments}, updated = ? WHERE id = ?",
        [*fields.values(), time.time(), athlete_id],
    )
    _changed(cursor, f"athlete {athlete_id!r}")


# -- staff ------------------------------------------------------------------------------


def create_staff_user(db: Database, *, username: str, role: Role, password_hash: str) -> int:
    if role not in ROLES:
        raise InvalidInputError(f"must be one of {', '.join(ROLES)}", where="role")
    if not username or len(username) > 64 or not username.isprintable() or " " in username:
        raise InvalidInputError(
            "must be 1-64 printable characters without spaces", where="username"
        )
    try:
        cursor = db.execute(
            "INSERT INTO staff_users (username, role, password_hash, created) VALUES (?, ?, ?, ?)",
            [username, role, password_hash, time.time()],
        )
    except sqlite3.IntegrityError:
        raise InvalidInputError(f"{username!r} is taken", where="username") from None
    return int(cursor.lastrowid or 0)


def set_password_hash(db: Database, *, username: str, password_hash: str) -> None:
    cursor = db.execute(
        "UPDATE staff_users SET password_hash = ? WHERE username = ?", [password_hash, username]
    )
    _changed(cursor, f"user {username!r}")


def set_role(db: Database, *, username: str, role: Role) -> None:
    if role not in ROLES:
        raise InvalidInputError(f"must be one of {', '.join(ROLES)}", where="role")
    cursor = db.execute("UPDATE staff_users SET role = ? WHERE username = ?", [role, username])
    _changed(cursor, f"user {username!r}")


def set_disabled(db: Database, *, username: str, disabled: bool) -> None:
    cursor = db.execute(
        "UPDATE staff_users SET disabled = ? WHERE username = ?", [int(disabled), username]
    )
    _changed(cursor, f"user {username!r}")
    if disabled:
        db.execute(
            "DELETE FROM web_sessions WHERE user_id = (SELECT id FROM staff_users WHERE "
            "username = ?)",
            [username],
        )


def delete_staff_user(db: Database, *, username: str) -> None:
    """Remove a user with their tokens and web sessions (foreign keys cascade)."""
    cursor = db.execute("DELETE FROM staff_users WHERE username = ?", [username])
    _changed(cursor, f"user {username!r}")


def record_login(db: Database, *, user_id: int) -> None:
    db.execute("UPDATE staff_users SET last_login = ? WHERE id = ?", [time.time(), user_id])


def create_api_token(
    db: Database, *, user_id: int, name: str, token_hash: str, expires: float | None = None
) -> int:
    cursor = db.execute(
        "INSERT INTO api_tokens (user_id, name, token_hash, created, expires) "
        "VALUES (?, ?, ?, ?, ?)",
        [user_id, name, token_hash, time.time(), expires],
    )
    return int(cursor.lastrowid or 0)


def revoke_api_token(db: Database, *, token_id: int) -> None:
    cursor = db.execute(
        "UPDATE api_tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
        [time.time(), token_id],
    )
    _changed(cursor, f"live token {token_id}")


def touch_api_token(db: Database, *, token_hash: str) -> None:
    db.execute(
        "UPDATE api_tokens SET last_used = ? WHERE token_hash = ?", [time.time(), token_hash]
    )


def create_web_session(
    db: Database,
    *,
    user_id: int,
    session_hash: str,
    expires: float,
    csrf_hash: str | None = None,
    user_agent: str = "",
) -> int:
    now = time.time()
    cursor = db.execute(
        "INSERT INTO web_sessions (session_hash, user_id, csrf_hash, created, expires, last_seen,"
        " user_agent) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [session_hash, user_id, csrf_hash, now, expires, now, user_agent[:200]],
    )
    return int(cursor.lastrowid or 0)


def touch_web_session(db: Database, *, session_hash: str, expires: float | None = None) -> None:
    if expires is None:
        db.execute(
            "UPDATE web_sessions SET last_seen = ? WHERE session_hash = ?",
            [time.time(), session_hash],
        )
    else:
        db.execute(
            "UPDATE web_sessions SET last_seen = ?, expires = ? WHERE session_hash = ?",
            [time.time(), expires, session_hash],
        )


def delete_web_session(db: Database, *, session_hash: str) -> None:
    db.execute("DELETE FROM web_sessions WHERE session_hash = ?", [session_hash])


def audit(
    db: Database,
    *,
    actor: str,
    action: str,
    target_type: str | None = None,
    target_id: str | None = None,
    athlete_id: str | None = None,
    detail: dict[str, Any] | None = None,
    ip: str | None = None,
) -> int:
    """One line of the staff audit log (who did what to what, from where)."""
    cursor = db.execute(
        "INSERT INTO audit_log (ts, actor, action, target_type, target_id, athlete_id, "
        "detail_json, ip) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [time.time(), actor, action, target_type, target_id, athlete_id, to_json(detail or {}), ip],
    )
    return int(cursor.lastrowid or 0)


# -- plans ------------------------------------------------------------------------------


def save_plan(
    db: Database, *, plan_id: str, name: str, body: dict[str, Any], by: str | None = None
) -> int:
    """Create or update a plan (the body is validated by ``plans`` before it gets here);
    returns its version, which goes up by one on every save."""
    now = time.time()
    row = db.execute("SELECT version FROM plans WHERE id = ?", [plan_id]).fetchone()
    if row is None:
        db.execute(
            "INSERT INTO plans (id, name, version, body_json, created, updated, created_by) "
            "VALUES (?, ?, 1, ?, ?, ?, ?)",
            [plan_id, name, to_json(body), now, now, by],
        )
        return 1
    version = int(row[0]) + 1
    db.execute(
        "UPDATE plans SET name = ?, version = ?, body_json = ?, updated = ? WHERE id = ?",
        [name, version, to_json(body), now, plan_id],
    )
    return version


def assign_plan(
    db: Database,
    *,
    athlete_id: str,
    plan_id: str,
    start_day: str,
    end_day: str | None = None,
    by: str | None = None,
) -> int:
    try:
        cursor = db.execute(
            "INSERT INTO plan_assignments (athlete_id, plan_id, start_day, end_day, assigned_by,"
            " created) VALUES (?, ?, ?, ?, ?, ?)",
            [athlete_id, plan_id, start_day, end_day, by, time.time()],
        )
    except sqlite3.IntegrityError:
        raise InvalidInputError(
            f"unknown athlete {athlete_id!r} or plan {plan_id!r}", where="plan assignment"
        ) from None
    return int(cursor.lastrowid or 0)


# -- the site -----------------------------------------------------------------------------


def sync_site(db: Database, config: SiteConfig) -> None:
    """Make the stations and devices tables match the site config (run at start-up)."""
    now = time.time()
    for station in config.stations:
        db.execute(
            "INSERT INTO stations (id, name, state, updated) VALUES (?, ?, 'offline', ?) "
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, state = 'offline', "
            "updated = excluded.updated",
            [station.id, station.display_name, now],
        )
        for role, device in station.devices.roles():
            if isinstance(device, RackConfig):
                transport = f"modbus_{device.transport}"
                address = (
                    f"{device.host}:{device.port}/{device.unit}"
                    if device.transport == "tcp"
                    else f"{device.serial}/{device.unit}"
                )
            else:
                transport = "ble"
                address = device.address or f"name={device.name}"
            db.execute(
                "INSERT INTO devices (id, station_id, role, transport, address) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "station_id = excluded.station_id, role = excluded.role, "
                "transport = excluded.transport, address = excluded.address",
                [station.device_id(role), station.id, role, transport, address],
            )
