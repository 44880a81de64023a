"""The panel's app factory: ``create_app(gym, store, settings)``.

The app runs on the controller's event loop: its lifespan starts a :class:`PanelRuntime`
(live floor, metrics, auth) inside the loop, and ``web_ui.server.PanelServer`` serves it
with uvicorn's ``Server`` as a task of the controller's task group. Errors are mapped to
HTTP answers here, once: JSON under ``/api/``, a page (or the login page) elsewhere.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from controller import __version__
from controller.errors import (
    ControllerError,
    NotFoundError,
    SafetyError,
    StoreUnwritableError,
)
from controller.service import GymService
from controller.store import Store
from kernels.errors import InvalidInputError
from web_ui.deps import CanViewFloor, page
from web_ui.errors import CsrfError, ForbiddenError, NotAuthenticatedError, RateLimitedError
from web_ui.runtime import PanelRuntime, PlanValidator
from web_ui.settings import PanelSettings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"

#: Nothing but our own files: no inline script, no other origin (there is no internet).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


class SecurityHeaders:
    """Adds the security headers to every response, and ``no-store`` to all but static
    files (pages and API answers hold health data: no cache keeps them)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name for name, _ in headers}
                headers.extend(h for h in _SECURITY_HEADERS if h[0] not in names)
                if not static and b"cache-control" not in names:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _wants_json(request: Request) -> bool:
    path = request.url.path
    if path.startswith(("/api/", "/metrics", "/openapi.json")):
        return True
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


def _error(request: Request, status: int, message: str, **extra: Any) -> Response:
    headers = {k: str(v) for k, v in extra.pop("headers", {}).items()}
    if _wants_json(request):
        return JSONResponse({"detail": message, **extra}, status_code=status, headers=headers)
    principal = getattr(request.state, "principal", None)
    return page(
        request,
        "error.html",
        principal,
        {"status": status, "message": message},
        status_code=status,
        headers=headers,
    )


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotAuthenticatedError)
    async def not_authenticated(request: Request, exc: NotAuthenticatedError) -> Response:
        if _wants_json(request):
            return JSONResponse(
                {"detail": str(exc)},
                status_code=401,
                headers={"WWW-Authenticate": 'Bearer realm="gymctl"'},
            )
        target = request.url.path
        if request.url.query:
            target += "?" + request.url.query
        login = app.url_path_for("login_page") + (
            f"?next={target}" if request.method == "GET" else ""
        )
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, status_code=303)

    @app.exception_handler(ForbiddenError)
    async def forbidden(request: Request, exc: ForbiddenError) -> Response:
        return _error(request, 403, str(exc), permission=exc.permission)

    @app.exception_handler(CsrfError)
    async def csrf(request: Request, exc: CsrfError) -> Response:
        log.warning(
            "refused a request without CSRF protection: %s %s: %s",
            request.method,
            request.url.path,
            exc,
        )
        return _error(request, 403, str(exc))

    @app.exception_handler(RateLimitedError)
    async def rate_limited(request: Request, exc: RateLimitedError) -> Response:
        return _error(
            request,
            429,
            str(exc),
            retry_after=exc.retry_after,
            headers={"Retry-After": exc.retry_after},
        )

    @app.exception_handler(InvalidInputError)
    async def invalid(request: Request, exc: InvalidInputError) -> Response:
        return _error(request, 422, str(exc), problem=exc.problem, where=exc.where)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return _error(request, 404, str(exc))

    @app.exception_handler(SafetyError)
    async def refused(request: Request, exc: SafetyError) -> Response:
        return _error(request, 409, str(exc))

    @app.exception_handler(StoreUnwritableError)
    async def unwritable(request: Request, exc: StoreUnwritableError) -> Response:
        return _error(request, 503, f"the database cannot be written now: {exc}")

    @app.exception_handler(ControllerError)
    async def controller_error(request: Request, exc: ControllerError) -> Response:
        return _error(request, 503, str(exc))


def create_app(
    gym: GymService,
    store: Store,
    settings: PanelSettings | None = None,
    *,
    plan_validator: PlanValidator | None = None,
) -> FastAPI:
    """The panel for one site. ``store`` must be entered (running) while the app runs.

    ``plan_validator`` checks plan bodies in the editor and the API (default: the form's
    own checks, ``web_ui.plan_form.check_plan``).
    """
    from web_ui.plan_form import check_plan
    from web_ui.routes import admin, athletes, auth, floor, ops, plans

    settings = settings or PanelSettings()
    validator = plan_validator or check_plan

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with PanelRuntime(gym, store, settings, plan_validator=validator) as rt:
            app.state.runtime = rt
            try:
                yield
            finally:
                app.state.runtime = None

    app = FastAPI(
        # the routers' routes go straight into the app's own list: an included router is
        # matched twice a request (once to pick it, once inside it), about a third of a
        # request's loop time with six routers
        routes=[
            route
            for module in (auth, ops, floor, athletes, plans, admin)
            for route in module.router.routes
        ],
        title="gymctl studio panel",
        version=__version__,
        description=(
            "The JSON API of the gymctl panel: everything the pages do. Authenticate with "
            "a session cookie (state changes then need the `X-CSRF-Token` header) or with "
            "`Authorization: Bearer <token>` (tokens: `POST /api/v1/tokens` or "
            "`gymctl user token`)."
        ),
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.runtime = None
    app.state.settings = settings
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    _install_error_handlers(app)

    @app.get("/", include_in_schema=False, name="home")
    async def home(principal: CanViewFloor) -> Response:
        del principal
        return RedirectResponse("/floor", status_code=303)

    return app
