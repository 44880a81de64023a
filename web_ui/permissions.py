"""Roles and what each may do in the panel and the API.

Three roles, as the studio works: **admin** (everything, including staff data, the audit
log, exports and erasure), **coach** (athletes, plans, load overrides, releasing an
e-stop), **front desk** (the floor: check-in and e-stop). Any signed-in person can press an
e-stop: stopping a machine must never wait for the right person.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from controller.store.people import ROLES


class Permission(enum.StrEnum):
    FLOOR_VIEW = "floor.view"  #: the station grid and station pages, live feeds
    STATION_ESTOP = "station.estop"
    STATION_CHECKIN = "station.checkin"  #: check an athlete in or out
    STATION_RELEASE = "station.release"  #: release a latched e-stop
    STATION_OVERRIDE = "station.override"  #: set a load by hand (through the envelope)
    ATHLETE_LIST = "athlete.list"  #: names and ids (to check athletes in)
    ATHLETE_VIEW = "athlete.view"  #: readiness, history, decisions (health data)
    ATHLETE_EDIT = "athlete.edit"  #: add athletes, assign plans
    PLAN_VIEW = "plan.view"
    PLAN_EDIT = "plan.edit"
    AUDIT_VIEW = "audit.view"
    DATA_EXPORT = "data.export"
    DATA_ERASE = "data.erase"
    SETTINGS_EDIT = "settings.edit"  #: retention and other run-time settings
    TOKENS_MANAGE = "tokens.manage"  #: API tokens of any user
    OPS_VIEW = "ops.view"  #: /metrics and the API documentation


_FRONT_DESK = frozenset(
    {
        Permission.FLOOR_VIEW,
        Permission.STATION_ESTOP,
        Permission.STATION_CHECKIN,
        Permission.ATHLETE_LIST,
        Permission.OPS_VIEW,
    }
)
_COACH = _FRONT_DESK | {
    Permission.STATION_RELEASE,
    Permission.STATION_OVERRIDE,
    Permission.ATHLETE_VIEW,
    Permission.ATHLETE_EDIT,
    Permission.PLAN_VIEW,
    Permission.PLAN_EDIT,
}

ROLE_PERMISSIONS: Mapping[str, frozenset[Permission]] = {
    "admin": frozenset(Permission),
    "coach": frozenset(_COACH),
    "front_desk": _FRONT_DESK,
}

ROLE_LABELS: Mapping[str, str] = {"admin": "Admin", "coach": "Coach", "front_desk": "Front desk"}

assert set(ROLE_PERMISSIONS) == set(ROLES)


def allowed(role: str, permission: Permission) -> bool:
    perms = ROLE_PERMISSIONS.get(role)
    return perms is not None and permission in perms
