"""Operations: ``/healthz`` (the one route open to anyone), ``/metrics``, the API's
OpenAPI schema and its documentation page (served from local files: no internet)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse, Response

from web_ui.deps import CanViewOps, page, runtime
from web_ui.metrics import CONTENT_TYPE

router = APIRouter()


@router.get("/healthz", tags=["ops"])
async def healthz(request: Request) -> JSONResponse:
    """Liveness and readiness for a supervisor: ``ok`` or ``degraded`` (503), no details
    (anyone may ask; details are in ``/metrics``)."""
    rt = getattr(request.app.state, "runtime", None)
    if rt is None:
        return JSONResponse({"status": "starting"}, status_code=503)
    healthy = rt.store.writer.stats().writable and not rt.live.closed
    return JSONResponse(
        {"status": "ok" if healthy else "degraded"}, status_code=200 if healthy else 503
    )


@router.get(
    "/metrics",
    tags=["ops"],
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}}},
)
async def metrics(
    request: Request,
    principal: CanViewOps,
) -> Response:
    """Prometheus metrics: stations by state, reps, commands, alerts and faults, loop lag,
    MQTT and device links, the store and the bus."""
    del principal
    return Response(runtime(request).metrics.render(), media_type=CONTENT_TYPE)


@router.get("/openapi.json", include_in_schema=False, name="openapi")
async def openapi(
    request: Request,
    principal: CanViewOps,
) -> dict[str, Any]:
    del principal
    schema: dict[str, Any] = request.app.openapi()
    return schema


@router.get("/docs", include_in_schema=False, name="docs")
async def docs(
    request: Request,
    principal: CanViewOps,
) -> Response:
    return page(request, "docs.html", principal)
