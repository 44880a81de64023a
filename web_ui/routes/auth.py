"""Signing in and out: the login page, the JSON login, logout, ``/api/v1/me``."""

from __future__ import annotations

import logging
import secrets
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import JSONResponse, RedirectResponse, Response

from controller.errors import NotFoundError
from controller.store.people import set_password_hash
from web_ui.auth import LOGIN_COOKIE, SESSION_COOKIE, Principal, same_secret
from web_ui.deps import CanViewFloor, client_ip, page, runtime
from web_ui.errors import CsrfError, NotAuthenticatedError, RateLimitedError
from web_ui.permissions import ROLE_PERMISSIONS
from web_ui.runtime import PanelRuntime

log = logging.getLogger(__name__)
router = APIRouter()

LOGIN_FORM_TTL_S = 3600


def safe_next(target: str | None) -> str:
    """Only a path on this site (never ``//host`` or ``https://...``) after login."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/floor"
    return target


def cookie_secure(request: Request) -> bool:
    setting = runtime(request).settings.cookie_secure
    return setting if setting is not None else request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, secret: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=int(runtime(request).settings.session_max_s),
        path="/",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )


async def attempt_login(
    rt: PanelRuntime, request: Request, username: str, password: str
) -> tuple[str, str, dict[str, Any]]:
    """Check a password; on success a fresh session: ``(secret, csrf_token, user row)``.

    Refused (same message whether the user exists or not) with ``NotAuthenticatedError``;
    while the (username, address) pair or the address is over its limit, refused with
    ``RateLimitedError`` before the password is looked at.
    """
    ip = client_ip(request)
    wait = rt.limiter.retry_after(username, ip)
    if wait is not None:
        log.warning("sign-in refused by the rate limit for %s", ip)
        raise RateLimitedError(wait)
    try:
        row: dict[str, Any] | None = await rt.store.reader.staff_user(username)
    except NotFoundError:
        row = None
    encoded = row["password_hash"] if row is not None else None
    ok = await rt.passwords.verify(encoded, password)
    if row is None or not ok or row["disabled"]:
        rt.limiter.failed(username, ip)
        if row is not None:
            rt.audit(
                str(row["username"]),
                "login.failed",
                target_type="user",
                target_id=str(row["username"]),
                ip=ip,
            )
        else:
            log.info("failed sign-in with an unknown username from %s", ip)
        raise NotAuthenticatedError("wrong username or password")
    rt.limiter.succeeded(username, ip)
    secret, csrf = await rt.auth.start_session(
        user_id=int(row["id"]),
        user_agent=request.headers.get("user-agent", ""),
        previous=request.cookies.get(SESSION_COOKIE),
    )
    if rt.passwords.needs_rehash(str(row["password_hash"])):
        new_hash = rt.passwords.hasher.hash(password)
        await rt.store.writer.call(
            partial(set_password_hash, username=str(row["username"]), password_hash=new_hash),
            label="rehash password",
        )
    rt.audit(
        str(row["username"]), "login", target_type="user", target_id=str(row["username"]), ip=ip
    )
    return secret, csrf, row


def _login_form(
    request: Request, *, next_url: str, error: str = "", username: str = "", status: int = 200
) -> Response:
    token = secrets.token_urlsafe(24)
    response = page(
        request,
        "login.html",
        None,
        {"form_token": token, "next_url": next_url, "error": error, "username": username},
        status_code=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=LOGIN_FORM_TTL_S,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=cookie_secure(request),
    )
    return response


@router.get("/login", include_in_schema=False, name="login_page")
async def login_page(request: Request, next: str | None = None) -> Response:
    return _login_form(request, next_url=safe_next(next))


@router.post("/login", include_in_schema=False, name="login_submit")
async def login_submit(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    form_token: Annotated[str, Form(alias="csrf_token")] = "",
    next_url: Annotated[str, Form(alias="next")] = "/floor",
) -> Response:
    rt = runtime(request)
    target = safe_next(next_url)
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not form_token or not same_secret(cookie, form_token):
        return _login_form(
            request,
            next_url=target,
            username=username,
            error="This sign-in form was not sent from this page or has expired: try again.",
            status=403,
        )
    try:
        secret, _csrf, _row = await attempt_login(rt, request, username, password)
    except NotAuthenticatedError as exc:
        return _login_form(request, next_url=target, username=username, error=str(exc), status=401)
    except RateLimitedError as exc:
        response = _login_form(
            request, next_url=target, username=username, error=str(exc), status=429
        )
        response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, secret)
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Me(BaseModel):
    username: str
    role: str
    via: str
    permissions: list[str]
    csrf_token: str | None = None


def _me(principal: Principal, csrf: str | None = None) -> Me:
    return Me(
        username=principal.username,
        role=principal.role,
        via=principal.via,
        permissions=sorted(p.value for p in ROLE_PERMISSIONS.get(principal.role, frozenset())),
        csrf_token=csrf,
    )


@router.post("/api/v1/auth/login", tags=["auth"], response_model=Me)
async def api_login(request: Request, body: LoginBody) -> Response:
    """Sign in for a browser-like client: sets the session cookie, returns the CSRF token
    that state-changing requests must send in ``X-CSRF-Token``."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        raise CsrfError(f"a {site} sign-in is not accepted")
    rt = runtime(request)
    secret, csrf, row = await attempt_login(rt, request, body.username, body.password)
    principal = Principal(
        user_id=int(row["id"]),
        username=str(row["username"]),
        role=str(row["role"]),
        via="session",
    )
    response = JSONResponse(_me(principal, csrf).model_dump())
    set_session_cookie(response, request, secret)
    return response


async def _logout(request: Request, principal: Principal) -> None:
    rt = runtime(request)
    secret = request.cookies.get(SESSION_COOKIE)
    if principal.via == "session" and secret:
        await rt.auth.end_session(secret)
    rt.audit(
        principal, "logout", target_type="user", target_id=principal.username, ip=client_ip(request)
    )


@router.post("/logout", include_in_schema=False, name="logout")
async def logout_page(
    request: Request,
    principal: CanViewFloor,
) -> Response:
    await _logout(request, principal)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/api/v1/auth/logout", tags=["auth"], status_code=204)
async def api_logout(
    request: Request,
    principal: CanViewFloor,
) -> Response:
    await _logout(request, principal)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/api/v1/me", tags=["auth"], response_model=Me)
async def me(principal: CanViewFloor) -> Me:
    """Who the request is authenticated as, and what the role may do."""
    return _me(principal, principal.csrf_token)
