"""Request dependencies: the runtime, who is asking, what they may do, CSRF, templates.

Every route but the login routes and ``/healthz`` takes ``Depends(require(Permission.X))``:
that is where authentication, the role check and (for state-changing methods) the CSRF
check happen, in that order. ``tests/web_ui/test_auth.py`` walks every route to prove it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from controller.errors import ControllerError
from web_ui.auth import CSRF_FIELD, CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE, Principal
from web_ui.errors import CsrfError, ForbiddenError, NotAuthenticatedError
from web_ui.permissions import ROLE_LABELS, Permission
from web_ui.runtime import PanelRuntime

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))

#: A shape for each state, so that the state never rests on colour alone.
STATE_ICONS = {
    "offline": "\u25cb",  # white circle
    "idle": "\u25cc",  # dotted circle
    "checked_in": "\u25cf",  # black circle
    "set_ready": "\u25c6",  # diamond
    "set_active": "\u25b6",  # play
    "resting": "\u2016",  # double vertical line (pause)
    "session_done": "\u2713",  # check mark
    "fault": "\u26a0",  # warning sign
    "estopped": "\u25a0",  # stop square
}


def _num(value: Any) -> str:
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:.3g}"
    return str(value)


def _localtime(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def _isotime(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(ts))


templates.env.filters.update(
    num=_num,
    localtime=_localtime,
    isotime=_isotime,
    state_icon=lambda state: STATE_ICONS.get(str(state), "?"),
)

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def runtime(request: Request) -> PanelRuntime:
    rt: PanelRuntime | None = getattr(request.app.state, "runtime", None)
    if rt is None:
        raise ControllerError("the panel is not running (its lifespan has not started)")
    return rt


def client_ip(request: Request) -> str:
    return request.client.host if request.client is not None else "unknown"


async def authenticate(request: Request) -> Principal | None:
    """The principal of a Bearer token or of the session cookie (a bad token never falls
    back to the cookie)."""
    rt = runtime(request)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return await rt.auth.from_token(token.strip())
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        return await rt.auth.from_session(cookie)
    return None


def same_origin(request: Request, origin: str) -> bool:
    parts = urlsplit(origin)
    host = request.headers.get("host", "")
    return parts.scheme == request.url.scheme and parts.netloc == host


async def check_csrf(request: Request, principal: Principal) -> None:
    """A cookie-authenticated state change must come from our own page, with its token."""
    if principal.via != "session":
        return
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfError(f"a {site} request may not change anything here")
    origin = request.headers.get("origin")
    if origin is not None and not same_origin(request, origin):
        raise CsrfError("the request comes from another origin")
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(_FORM_TYPES):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not principal.csrf_ok(token):
        raise CsrfError("the request has no valid CSRF token: reload the page and try again")


def require(permission: Permission) -> Callable[[Request], Awaitable[Principal]]:
    """The dependency of a protected route: signed in, allowed, and CSRF-checked."""

    async def dependency(request: Request) -> Principal:
        principal = await authenticate(request)
        if principal is None:
            raise NotAuthenticatedError()
        if not principal.can(permission):
            raise ForbiddenError(permission.value)
        if request.method not in SAFE_METHODS:
            await check_csrf(request, principal)
        request.state.principal = principal
        # the handler runs at the loop's next turn: a request's routing and dependencies,
        # then its handler and answer, are two short steps that a station's tick falling
        # due can come between, not one long one (benchmarks/RESULTS.md, panel load)
        await asyncio.sleep(0)
        return principal

    dependency.__name__ = f"require_{permission.name.lower()}"
    return dependency


# Route parameters: ``principal: CanViewFloor`` signs in, checks the role and CSRF.
CanViewFloor = Annotated[Principal, Depends(require(Permission.FLOOR_VIEW))]
CanEstop = Annotated[Principal, Depends(require(Permission.STATION_ESTOP))]
CanCheckIn = Annotated[Principal, Depends(require(Permission.STATION_CHECKIN))]
CanRelease = Annotated[Principal, Depends(require(Permission.STATION_RELEASE))]
CanOverride = Annotated[Principal, Depends(require(Permission.STATION_OVERRIDE))]
CanListAthletes = Annotated[Principal, Depends(require(Permission.ATHLETE_LIST))]
CanViewAthletes = Annotated[Principal, Depends(require(Permission.ATHLETE_VIEW))]
CanEditAthletes = Annotated[Principal, Depends(require(Permission.ATHLETE_EDIT))]
CanViewPlans = Annotated[Principal, Depends(require(Permission.PLAN_VIEW))]
CanEditPlans = Annotated[Principal, Depends(require(Permission.PLAN_EDIT))]
CanViewAudit = Annotated[Principal, Depends(require(Permission.AUDIT_VIEW))]
CanExport = Annotated[Principal, Depends(require(Permission.DATA_EXPORT))]
CanErase = Annotated[Principal, Depends(require(Permission.DATA_ERASE))]
CanEditSettings = Annotated[Principal, Depends(require(Permission.SETTINGS_EDIT))]
CanManageTokens = Annotated[Principal, Depends(require(Permission.TOKENS_MANAGE))]
CanViewOps = Annotated[Principal, Depends(require(Permission.OPS_VIEW))]


NAV: tuple[tuple[str, str, Permission], ...] = (
    ("/floor", "Floor", Permission.FLOOR_VIEW),
    ("/athletes", "Athletes", Permission.ATHLETE_LIST),
    ("/plans", "Plans", Permission.PLAN_VIEW),
    ("/audit", "Audit log", Permission.AUDIT_VIEW),
    ("/data", "Data", Permission.DATA_EXPORT),
    ("/staff", "Staff", Permission.TOKENS_MANAGE),
)


def page(
    request: Request,
    name: str,
    principal: Principal | None,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """Render a page with what every page needs (the viewer, their CSRF token, the nav)."""
    rt: PanelRuntime | None = getattr(request.app.state, "runtime", None)
    nav = (
        [(href, label) for href, label, perm in NAV if principal.can(perm)]
        if principal is not None
        else []
    )
    return templates.TemplateResponse(
        request,
        name,
        {
            "principal": principal,
            "role_label": ROLE_LABELS.get(principal.role, principal.role) if principal else "",
            "csrf_token": principal.csrf_token if principal is not None else "",
            "nav": nav,
            "site_name": rt.gym.site_name if rt is not None else "gymctl",
            "now": time.time(),
            "Permission": Permission,
            **(context or {}),
        },
        status_code=status_code,
        headers=dict(headers) if headers else None,
    )
