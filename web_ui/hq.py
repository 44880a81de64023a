"""The chain view's web app: every site of a chain, live, in the panel's look.

``create_hq_app(monitor, settings)`` serves ``/`` (the page), ``/hq/events`` (the page's
sites as server-sent events: a fresh fragment whenever the view changes, at most every
``HqSettings.min_frame_s``, each rendered once per version and shared by every viewer),
``/api/v1/chain`` (the same as JSON) and ``/healthz``. It reuses the panel's base
template, CSS and security headers, not its accounts: the chain view has no site
database. Access is by one shared token (``HqSettings.token``): a browser signs in with
it on ``/login`` (an HttpOnly, SameSite=Strict cookie holding a keyed hash of the token,
never the token), a machine sends ``Authorization: Bearer <token>``. Without a token the
view is open, which ``gymctl hq`` allows only on a loopback address. The page only
reads: there is nothing to change, so no CSRF token beyond the same-origin check of the
sign-in form.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse

from controller import __version__
from controller.chain.monitor import ChainMonitor
from controller.states import StationState
from web_ui.app import STATIC_DIR, SecurityHeaders
from web_ui.deps import templates
from web_ui.live import STATE_LABELS

COOKIE = "gymctl_hq"
MAX_FORM_BYTES = 4096
KEEPALIVE_S = 15.0

SITE_STATUS_LABELS: Mapping[str, str] = {
    "online": "Online",
    "offline": "Offline: site unreachable",
    "controller_offline": "Controller offline",
    "unknown": "Waiting for the site",
}
#: the panel's badge classes, so a site's status reads like a station's state
SITE_STATUS_BADGES: Mapping[str, str] = {
    "online": "set_active",
    "offline": "estopped",
    "controller_offline": "fault",
    "unknown": "offline",
}


@dataclass(frozen=True, slots=True)
class HqSettings:
    token: str | None = None  #: None: open (loopback only, ``gymctl hq`` enforces it)
    title: str = "gymctl chain"
    min_frame_s: float = 0.2  #: changes closer together than this reach a page as one frame
    secure_cookie: bool = False


def _cookie_value(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"gymctl-hq-session", hashlib.sha256).hexdigest()


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


def authorized(request: Request, settings: HqSettings) -> bool:
    """Whether the request carries the token (Bearer) or the sign-in cookie."""
    if settings.token is None:
        return True
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer ") and _same(header[7:].strip(), settings.token):
        return True
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and _same(cookie, _cookie_value(settings.token))


def _state_label(state: str | None) -> str:
    if state is None:
        return "Unknown"
    try:
        return STATE_LABELS.get(StationState(state), state)
    except ValueError:
        return state


def create_hq_app(monitor: ChainMonitor, settings: HqSettings | None = None) -> FastAPI:
    """The chain view over ``monitor`` (entered and running while the app serves)."""
    settings = settings or HqSettings()
    app = FastAPI(
        title=settings.title,
        version=__version__,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")

    def snapshot() -> dict[str, Any]:
        data = monitor.view.snapshot()
        data["central"] = {
            "host": monitor.host,
            "port": monitor.port,
            "connected": monitor.connected,
        }
        for site in data["sites"]:
            site["status_label"] = SITE_STATUS_LABELS.get(site["status"], site["status"])
            site["badge"] = SITE_STATUS_BADGES.get(site["status"], "offline")
            for station in site["stations"]:
                station["state_label"] = _state_label(station["state"])
        return data

    def render(request: Request, name: str, context: dict[str, Any], status: int = 200) -> Response:
        signed_in = settings.token is not None and authorized(request, settings)
        return templates.TemplateResponse(
            request,
            name,
            {
                "principal": None,
                "csrf_token": "",
                "nav": [("/", "Chain")],
                "site_name": settings.title,
                "signed_in": signed_in,
                **context,
            },
            status_code=status,
        )

    def refuse(request: Request) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"detail": "sign in: Authorization: Bearer <token>"},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="gymctl-hq"'},
            )
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, Any]:
        return {"ok": True, "central_connected": monitor.connected}

    @app.get("/", include_in_schema=False)
    async def chain_page(request: Request) -> Response:
        if not authorized(request, settings):
            return refuse(request)
        return render(request, "hq.html", {"chain": snapshot()})

    fragment: list[tuple[int, bool, bytes]] = []  # (version, connected, encoded frame)

    def sites_frame() -> tuple[int, bytes]:
        """The sites fragment as one SSE frame, rendered once per version of the view."""
        version, connected = monitor.view.version, monitor.connected
        if not fragment or fragment[0][:2] != (version, connected):
            html = templates.get_template("_hq_sites.html").render(chain=snapshot())
            data = "".join(f"data: {line}\n" for line in html.strip().splitlines())
            fragment[:] = [(version, connected, f"event: sites\n{data}\n".encode())]
        return version, fragment[0][2]

    async def stream() -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        sent = -1
        last = time.monotonic()
        while True:
            version, frame = sites_frame()
            now = time.monotonic()
            if version != sent:
                yield frame
                sent, last = version, now
            elif now - last >= KEEPALIVE_S:
                yield b": keep-alive\n\n"
                last = now
            await asyncio.sleep(settings.min_frame_s)
            await monitor.wait_change(sent, KEEPALIVE_S)

    @app.get("/hq/events", include_in_schema=False)
    async def chain_events(request: Request) -> Response:
        if not authorized(request, settings):
            return refuse(request)
        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={"X-Accel-Buffering": "no"}
        )

    @app.get("/api/v1/chain")
    async def chain_json(request: Request) -> Response:
        if not authorized(request, settings):
            return refuse(request)
        return JSONResponse(snapshot())

    @app.get("/login", include_in_schema=False)
    async def login_page(request: Request) -> Response:
        if settings.token is None:
            return RedirectResponse("/", status_code=303)
        return render(request, "hq_login.html", {"error": ""})

    @app.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        if settings.token is None:
            return RedirectResponse("/", status_code=303)
        if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
            return render(request, "hq_login.html", {"error": "sign in from this page"}, 403)
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return render(request, "hq_login.html", {"error": "the form is too large"}, 413)
        fields = parse_qs(body.decode("utf-8", errors="replace"))
        given = (fields.get("token") or [""])[0].strip()
        if not given or not _same(given, settings.token):
            return render(
                request, "hq_login.html", {"error": "that token is not the right one"}, 401
            )
        response = RedirectResponse("/", status_code=303)
        response.set_cookie(
            COOKIE,
            _cookie_value(settings.token),
            httponly=True,
            samesite="strict",
            secure=settings.secure_cookie,
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout() -> Response:
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    return app
