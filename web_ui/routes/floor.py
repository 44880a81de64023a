"""The floor: the station grid, a station's page, staff commands, and the live feed."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from starlette.responses import JSONResponse, Response, StreamingResponse

from controller.errors import NotFoundError
from controller.service import CommandResult
from kernels.errors import InvalidInputError
from web_ui.auth import Principal
from web_ui.deps import (
    CanCheckIn,
    CanEstop,
    CanOverride,
    CanRelease,
    CanViewFloor,
    authenticate,
    client_ip,
    page,
    runtime,
)
from web_ui.feeds import FeedResponse
from web_ui.permissions import Permission
from web_ui.queries import athletes_overview
from web_ui.runtime import PanelRuntime

router = APIRouter()

REAUTH_EVERY_S = 30.0


# -- pages -------------------------------------------------------------------------------


@router.get("/floor", include_in_schema=False, name="floor_page")
async def floor_page(
    request: Request,
    principal: CanViewFloor,
) -> Response:
    rt = runtime(request)
    tiles = [rt.live.tile(live) for live in rt.live.ordered()]
    return page(
        request, "floor.html", principal, {"tiles": tiles, "site_alerts": rt.live.site_alerts}
    )


@router.get("/stations/{station_id}", include_in_schema=False, name="station_page")
async def station_page(
    request: Request,
    principal: CanViewFloor,
    station_id: str,
) -> Response:
    rt = runtime(request)
    live = rt.live.get(station_id)
    athletes = (
        await athletes_overview(rt.store.reader, with_readiness=False)
        if principal.can(Permission.STATION_CHECKIN)
        else []
    )
    return page(
        request,
        "station.html",
        principal,
        {
            "tile": rt.live.tile(live),
            "reps": rt.live.set_reps(live),
            "athletes": athletes,
        },
    )


# -- JSON API ---------------------------------------------------------------------------


@router.get("/api/v1/stations", tags=["stations"], response_model=dict[str, Any])
async def list_stations(
    request: Request,
    principal: CanViewFloor,
) -> Response:
    """Every station as the floor shows it (state, athlete, set, last rep, load, alerts)."""
    del principal
    # the tiles the live feed has encoded already (a poll costs a join, not an encode)
    return Response(runtime(request).live.tiles_json(), media_type="application/json")


@router.get("/api/v1/stations/{station_id}", tags=["stations"], response_model=dict[str, Any])
async def get_station(
    request: Request,
    principal: CanViewFloor,
    station_id: str,
) -> Response:
    """One station with the reps of its current set and its live velocity trace."""
    del principal
    live = runtime(request).live
    return Response(live.station_json(live.get(station_id)), media_type="application/json")


class EstopBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(default="", max_length=200)


class LoadBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    value: float = Field(ge=0, le=10_000, description="the load wanted, in the station's unit")
    reason: str = Field(default="", max_length=200)
    confirm: bool = Field(
        default=False, description="must be true: the person confirmed the override"
    )

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value


class CheckInBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    athlete_id: str = Field(min_length=1, max_length=64)


class CommandAnswer(BaseModel):
    result: dict[str, Any]
    station: dict[str, Any]


async def _command(
    request: Request,
    principal: Principal,
    station_id: str,
    *,
    verb: str,
    run: Callable[[PanelRuntime], Awaitable[CommandResult]],
    detail: dict[str, Any] | None = None,
) -> Response:
    rt = runtime(request)
    before = rt.gym.station(station_id)  # NotFoundError for an unknown station
    result = await run(rt)
    after = rt.gym.station(station_id)
    rt.audit(
        principal,
        f"station.{verb}",
        target_type="station",
        target_id=station_id,
        athlete_id=after.athlete_id or before.athlete_id,
        detail={**(detail or {}), **result.to_json()},
        ip=client_ip(request),
    )
    body = {"result": result.to_json(), "station": rt.live.tile(rt.live.refresh(after))}
    return JSONResponse(body, status_code=200 if result.accepted else 409)


_REFUSED: dict[int | str, dict[str, Any]] = {
    409: {"description": "the station's envelope refused the command"}
}


@router.post(
    "/api/v1/stations/{station_id}/estop",
    tags=["stations"],
    response_model=CommandAnswer,
    responses=_REFUSED,
)
async def estop(
    request: Request,
    principal: CanEstop,
    station_id: str,
    body: EstopBody | None = None,
) -> Response:
    """Latch the station's e-stop: zero resistance now; released only by staff."""
    reason = body.reason if body is not None else ""
    return await _command(
        request,
        principal,
        station_id,
        verb="estop",
        run=lambda rt: rt.gym.estop(station_id, by=principal.actor, reason=reason),
        detail={"reason": reason},
    )


@router.post(
    "/api/v1/stations/{station_id}/release",
    tags=["stations"],
    response_model=CommandAnswer,
    responses=_REFUSED,
)
async def release(
    request: Request,
    principal: CanRelease,
    station_id: str,
) -> Response:
    """Release a latched e-stop; the machine stays unloaded until a load is asked for."""
    return await _command(
        request,
        principal,
        station_id,
        verb="release",
        run=lambda rt: rt.gym.release(station_id, by=principal.actor),
    )


@router.post(
    "/api/v1/stations/{station_id}/load",
    tags=["stations"],
    response_model=CommandAnswer,
    responses=_REFUSED,
)
async def override_load(
    request: Request,
    principal: CanOverride,
    station_id: str,
    body: LoadBody,
) -> Response:
    """Set the load by hand. It passes the safety envelope like any other command: it may
    be clamped to the ceiling, ramped, or announced to the athlete first; the answer says
    which and why. ``confirm`` must be true."""
    if not body.confirm:
        raise InvalidInputError("confirm the override (confirm: true)", where="confirm")
    return await _command(
        request,
        principal,
        station_id,
        verb="override_load",
        run=lambda rt: rt.gym.override_load(
            station_id, body.value, by=principal.actor, reason=body.reason
        ),
        detail={"value": body.value, "reason": body.reason},
    )


@router.post(
    "/api/v1/stations/{station_id}/checkin",
    tags=["stations"],
    response_model=CommandAnswer,
    responses=_REFUSED,
)
async def check_in(
    request: Request,
    principal: CanCheckIn,
    station_id: str,
    body: CheckInBody,
) -> Response:
    """Check an athlete in at a station (their caps apply at once)."""
    rt = runtime(request)
    try:
        await rt.store.reader.athlete(body.athlete_id)
    except NotFoundError:
        raise InvalidInputError(f"no athlete {body.athlete_id!r}", where="athlete_id") from None
    return await _command(
        request,
        principal,
        station_id,
        verb="checkin",
        run=lambda rt: rt.gym.check_in(station_id, body.athlete_id, by=principal.actor),
        detail={"athlete_id": body.athlete_id},
    )


@router.post(
    "/api/v1/stations/{station_id}/checkout",
    tags=["stations"],
    response_model=CommandAnswer,
    responses=_REFUSED,
)
async def check_out(
    request: Request,
    principal: CanCheckIn,
    station_id: str,
) -> Response:
    """The athlete leaves the station."""
    return await _command(
        request,
        principal,
        station_id,
        verb="checkout",
        run=lambda rt: rt.gym.check_out(station_id, by=principal.actor),
    )


# -- live feed ----------------------------------------------------------------------------


@router.get(
    "/api/v1/feed",
    tags=["stations"],
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def feed(
    request: Request,
    principal: CanViewFloor,
    station: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    """Server-sent events: ``stations`` (changed tiles), ``site`` (site-wide alerts) and,
    with ``station``, ``trace`` (bar velocity points) and ``reps`` (the current set).

    At most ``feed_hz`` frames a second; a frame holds only what changed since the last.
    The stream ends when the session ends.
    """
    del principal
    rt = runtime(request)
    if station is not None:
        rt.live.get(station)
    kind: Literal["floor", "station"] = "station" if station else "floor"

    async def still_allowed() -> bool:
        return await authenticate(request) is not None

    def opened() -> None:
        rt.metrics.viewers[kind] += 1

    def closed() -> None:
        rt.metrics.viewers[kind] -= 1

    return FeedResponse(
        rt.feeds,
        station,
        still_allowed=still_allowed,
        reauth_s=REAUTH_EVERY_S,
        on_open=opened,
        on_close=closed,
    )
