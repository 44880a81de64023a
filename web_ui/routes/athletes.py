"""Athletes: the list, the detail page (readiness, trends, profile, history, decisions),
adding athletes and assigning plans."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.responses import RedirectResponse, Response

from controller.store.people import assign_plan, create_athlete
from controller.store.reader import as_rows, athlete_row, decision_rows, fetch_raw
from web_ui.answers import json_answer
from web_ui.auth import Principal
from web_ui.deps import (
    CanEditAthletes,
    CanListAthletes,
    CanViewAthletes,
    client_ip,
    page,
    runtime,
)
from web_ui.forms import field_errors, form_dict
from web_ui.permissions import Permission
from web_ui.queries import (
    assignments_in,
    athletes_overview,
    athletes_overview_sql,
    latest_readiness_in,
    lv_profiles,
    plans,
    readiness_trend_in,
    readiness_view,
    session_history_in,
)
from web_ui.runtime import PanelRuntime

router = APIRouter()

#: the athlete page shows the latest of these (the API and the export have them all)
PAGE_SESSIONS = 15
PAGE_DECISIONS = 25


class AthleteIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    display_name: str = Field(min_length=1, max_length=80)
    external_ref: str | None = Field(default=None, max_length=64)
    sex: Literal["female", "male", "other"] | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=dt.date.today().year)
    body_mass_kg: float | None = Field(default=None, ge=20, le=300)
    notes: str = Field(default="", max_length=2000)


class AssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    plan_id: str = Field(min_length=1, max_length=64)
    start_day: dt.date
    end_day: dt.date | None = None

    @field_validator("end_day")
    @classmethod
    def _after_start(cls, value: dt.date | None, info: Any) -> dt.date | None:
        return end_not_before_start(value, info)


def end_not_before_start(value: dt.date | None, info: Any) -> dt.date | None:
    """An assignment's ``end_day`` validator: not before its ``start_day``."""
    start = info.data.get("start_day")
    if value is not None and start is not None and value < start:
        raise ValueError("must not be before the start day")
    return value


async def _create(rt: PanelRuntime, principal: Principal, ip: str, athlete: AthleteIn) -> str:
    fields = athlete.model_dump(exclude_none=True)
    name = fields.pop("display_name")
    athlete_id: str = await rt.store.writer.call(
        partial(create_athlete, display_name=name, **fields), label="create athlete"
    )
    rt.audit(
        principal,
        "athlete.create",
        target_type="athlete",
        target_id=athlete_id,
        athlete_id=athlete_id,
        ip=ip,
    )
    return athlete_id


async def assign_athlete_plan(
    rt: PanelRuntime, principal: Principal, ip: str, athlete_id: str, body: AssignmentIn
) -> int:
    await rt.store.reader.athlete(athlete_id)
    await rt.store.reader.one(
        "SELECT id FROM plans WHERE id = ?", [body.plan_id], f"plan {body.plan_id!r}"
    )
    assignment_id: int = await rt.store.writer.call(
        partial(
            assign_plan,
            athlete_id=athlete_id,
            plan_id=body.plan_id,
            start_day=body.start_day.isoformat(),
            end_day=body.end_day.isoformat() if body.end_day else None,
            by=principal.actor,
        ),
        label="assign plan",
    )
    rt.audit(
        principal,
        "plan.assign",
        target_type="plan",
        target_id=body.plan_id,
        athlete_id=athlete_id,
        detail={
            "start_day": body.start_day.isoformat(),
            "end_day": body.end_day.isoformat() if body.end_day else None,
        },
        ip=ip,
    )
    return assignment_id


def _list_rows(rows: list[dict[str, Any]], with_readiness: bool) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        item = {
            "id": row["id"],
            "display_name": row["display_name"],
            "external_ref": row.get("external_ref"),
        }
        if with_readiness:
            view = readiness_view(row) if row.get("score") is not None else None
            item["readiness"] = view.to_json() if view is not None else None
        out.append(item)
    return out


# -- pages ------------------------------------------------------------------------------


async def _list_page(
    request: Request,
    principal: Principal,
    *,
    q: str = "",
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    with_readiness = principal.can(Permission.ATHLETE_VIEW)
    rows = _list_rows(
        await athletes_overview(rt.store.reader, with_readiness=with_readiness), with_readiness
    )
    if q:
        needle = q.casefold()
        rows = [
            r
            for r in rows
            if needle in r["display_name"].casefold()
            or needle in r["id"]
            or needle in (r.get("external_ref") or "").casefold()
        ]
    return page(
        request,
        "athletes.html",
        principal,
        {
            "athletes": rows,
            "q": q,
            "with_readiness": with_readiness,
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status,
    )


@router.get("/athletes", include_in_schema=False, name="athletes_page")
async def athletes_page(
    request: Request,
    principal: CanListAthletes,
    q: Annotated[str, Query(max_length=80)] = "",
) -> Response:
    return await _list_page(request, principal, q=q)


@router.post("/athletes", include_in_schema=False, name="athletes_create")
async def athletes_create(
    request: Request,
    principal: CanEditAthletes,
) -> Response:
    values = await form_dict(request)
    data = {k: v for k, v in values.items() if k in AthleteIn.model_fields and v.strip()}
    try:
        athlete = AthleteIn.model_validate(data)
    except ValidationError as exc:
        return await _list_page(
            request, principal, errors=field_errors(exc), values=values, status=422
        )
    athlete_id = await _create(runtime(request), principal, client_ip(request), athlete)
    return RedirectResponse(f"/athletes/{athlete_id}", status_code=303)


@router.get("/athletes/{athlete_id}", include_in_schema=False, name="athlete_page")
async def athlete_page(
    request: Request,
    principal: CanViewAthletes,
    athlete_id: str,
) -> Response:
    rt = runtime(request)
    detail = await _detail(rt, athlete_id)
    rt.audit(
        principal,
        "athlete.view",
        target_type="athlete",
        target_id=athlete_id,
        athlete_id=athlete_id,
        ip=client_ip(request),
    )
    charts = {
        "trend": detail["trend"],
        "profiles": detail["profiles"],
    }
    return page(
        request,
        "athlete.html",
        principal,
        {
            **detail,
            "charts": charts,
            "plans": await plans(rt.store.reader) if principal.can(Permission.ATHLETE_EDIT) else [],
            "today": dt.date.today().isoformat(),
            "errors": {},
        },
    )


@router.post("/athletes/{athlete_id}/assign", include_in_schema=False, name="athlete_assign")
async def athlete_assign(
    request: Request,
    principal: CanEditAthletes,
    athlete_id: str,
) -> Response:
    values = await form_dict(request)
    data = {k: v for k, v in values.items() if k in AssignmentIn.model_fields and v.strip()}
    rt = runtime(request)
    try:
        body = AssignmentIn.model_validate(data)
        await assign_athlete_plan(rt, principal, client_ip(request), athlete_id, body)
    except ValidationError as exc:
        detail = await _detail(rt, athlete_id)
        return page(
            request,
            "athlete.html",
            principal,
            {
                **detail,
                "charts": {"trend": detail["trend"], "profiles": detail["profiles"]},
                "plans": await plans(rt.store.reader),
                "today": dt.date.today().isoformat(),
                "errors": field_errors(exc),
                "values": values,
            },
            status_code=422,
        )
    return RedirectResponse(f"/athletes/{athlete_id}#plans", status_code=303)


def _athlete_in(conn: sqlite3.Connection, athlete_id: str) -> dict[str, Any]:
    """The athlete, today's readiness and plan assignments (the API's answer, the page's
    start); :class:`NotFoundError` for an unknown athlete."""
    athlete = athlete_row(conn, athlete_id)
    today = latest_readiness_in(conn, athlete_id)
    return {
        "athlete": athlete,
        "readiness": today.to_json() if today is not None else None,
        "assignments": assignments_in(conn, athlete_id=athlete_id),
    }


async def _detail(rt: PanelRuntime, athlete_id: str) -> dict[str, Any]:
    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        return {
            **_athlete_in(conn, athlete_id),
            "trend": readiness_trend_in(conn, athlete_id),
            "sessions": session_history_in(conn, athlete_id, limit=PAGE_SESSIONS),
            "decisions": decision_rows(conn, athlete_id=athlete_id, limit=PAGE_DECISIONS),
        }

    detail = await rt.store.reader.read(read)
    return {
        **detail,
        "profiles": await lv_profiles(rt.store.reader, athlete_id),
        "stations": [
            live.snapshot.station_id
            for live in rt.live.ordered()
            if live.snapshot.athlete_id == athlete_id
        ],
    }


# -- JSON API ---------------------------------------------------------------------------


class _EncodedList:
    """The athletes list as last answered, encoded, with the raw rows it came from: the
    list changes a few times a day (an athlete added, a morning's readiness), while the
    panel asks for it many times a minute. Used in the read's worker thread, which holds
    the GIL the loop needs while it runs Python: the raw rows are compared as SQLite gives
    them, and only a changed list is parsed (each readiness's components), built into
    readiness views and encoded."""

    def __init__(self) -> None:
        self._last: dict[bool, tuple[list[tuple[Any, ...]], bytes]] = {}

    def body(self, conn: sqlite3.Connection, with_readiness: bool) -> bytes:
        names, raw = fetch_raw(conn, athletes_overview_sql(with_readiness=with_readiness))
        last = self._last.get(with_readiness)
        if last is not None and last[0] == raw:
            return last[1]
        body = json.dumps(
            {"athletes": _list_rows(as_rows(names, raw), with_readiness)},
            ensure_ascii=False,
            allow_nan=False,
            separators=(",", ":"),
        ).encode()
        self._last[with_readiness] = (raw, body)
        return body


_ENCODED_LIST = _EncodedList()


@router.get("/api/v1/athletes", tags=["athletes"], response_model=dict[str, Any])
async def list_athletes(
    request: Request,
    principal: CanListAthletes,
) -> Response:
    """Every athlete (with the latest readiness when the role may see health data)."""
    rt = runtime(request)
    with_readiness = principal.can(Permission.ATHLETE_VIEW)
    body = await rt.store.reader.read(partial(_ENCODED_LIST.body, with_readiness=with_readiness))
    return Response(body, media_type="application/json")


@router.post("/api/v1/athletes", tags=["athletes"], status_code=201)
async def add_athlete(
    request: Request,
    principal: CanEditAthletes,
    body: AthleteIn,
) -> dict[str, Any]:
    """A new athlete; the answer holds the pseudonymous id used everywhere else."""
    rt = runtime(request)
    athlete_id = await _create(rt, principal, client_ip(request), body)
    return {"athlete": await rt.store.reader.athlete(athlete_id)}


@router.get("/api/v1/athletes/{athlete_id}", tags=["athletes"], response_model=dict[str, Any])
async def get_athlete(
    request: Request,
    principal: CanViewAthletes,
    athlete_id: str,
) -> Response:
    """An athlete with today's readiness (each component's reason) and plan assignments."""
    rt = runtime(request)
    # one thread hop: each waits for the GIL
    answer = await rt.store.reader.read(partial(_athlete_in, athlete_id=athlete_id))
    rt.audit(
        principal,
        "athlete.view",
        target_type="athlete",
        target_id=athlete_id,
        athlete_id=athlete_id,
        ip=client_ip(request),
    )
    return json_answer(answer)


async def _known(rt: PanelRuntime, athlete_id: str) -> None:
    await rt.store.reader.athlete(athlete_id)


@router.get(
    "/api/v1/athletes/{athlete_id}/readiness", tags=["athletes"], response_model=dict[str, Any]
)
async def get_readiness(
    request: Request,
    principal: CanViewAthletes,
    athlete_id: str,
    days: Annotated[int, Query(ge=1, le=365)] = 60,
) -> Response:
    """The readiness score and morning lnRMSSD per day, and the latest score in detail."""
    del principal

    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        athlete_row(conn, athlete_id)  # an unknown athlete is a 404, not an empty trend
        today = latest_readiness_in(conn, athlete_id)
        return {
            "latest": today.to_json() if today is not None else None,
            "trend": readiness_trend_in(conn, athlete_id, days=days),
        }

    return json_answer(await runtime(request).store.reader.read(read))


@router.get("/api/v1/athletes/{athlete_id}/lvp", tags=["athletes"])
async def get_lvp(
    request: Request,
    principal: CanViewAthletes,
    athlete_id: str,
) -> dict[str, Any]:
    """Per exercise: load-velocity points, the fitted line, e1RM and its history."""
    del principal
    rt = runtime(request)
    await _known(rt, athlete_id)
    return {"profiles": await lv_profiles(rt.store.reader, athlete_id)}


@router.get(
    "/api/v1/athletes/{athlete_id}/sessions", tags=["athletes"], response_model=dict[str, Any]
)
async def get_sessions(
    request: Request,
    principal: CanViewAthletes,
    athlete_id: str,
    limit: Annotated[int, Query(ge=1, le=500)] = 30,
) -> Response:
    del principal

    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        athlete_row(conn, athlete_id)
        return {"sessions": session_history_in(conn, athlete_id, limit=limit)}

    return json_answer(await runtime(request).store.reader.read(read))


@router.get(
    "/api/v1/athletes/{athlete_id}/decisions", tags=["athletes"], response_model=dict[str, Any]
)
async def get_decisions(
    request: Request,
    principal: CanViewAthletes,
    athlete_id: str,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Response:
    """The decision log of the athlete: what changed, from what to what, and why."""
    del principal

    def read(conn: sqlite3.Connection) -> dict[str, Any]:
        athlete_row(conn, athlete_id)
        return {"decisions": decision_rows(conn, athlete_id=athlete_id, limit=limit)}

    return json_answer(await runtime(request).store.reader.read(read))


@router.post("/api/v1/athletes/{athlete_id}/assignments", tags=["athletes"], status_code=201)
async def add_assignment(
    request: Request,
    principal: CanEditAthletes,
    athlete_id: str,
    body: AssignmentIn,
) -> dict[str, Any]:
    """Assign a plan to the athlete from a day (to a day)."""
    rt = runtime(request)
    assignment_id = await assign_athlete_plan(rt, principal, client_ip(request), athlete_id, body)
    return {"assignment_id": assignment_id}
