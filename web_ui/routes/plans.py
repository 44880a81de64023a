"""Plans: the library, the editor (messages next to the fields), assignment to athletes."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from starlette.responses import JSONResponse, RedirectResponse, Response

from controller.store.people import save_plan
from web_ui.answers import json_answer
from web_ui.auth import Principal
from web_ui.deps import (
    CanEditAthletes,
    CanEditPlans,
    CanViewPlans,
    client_ip,
    page,
    runtime,
)
from web_ui.forms import field_errors, form_dict
from web_ui.lvp import exercise_names
from web_ui.permissions import Permission
from web_ui.plan_form import (
    GOALS,
    LOAD_KINDS,
    FieldError,
    blank_plan,
    body_from_form,
    edit,
    editable,
    errors_by_field,
    load_value,
)
from web_ui.queries import assignments, athletes_overview, plan, plans
from web_ui.routes.athletes import AssignmentIn, assign_athlete_plan, end_not_before_start
from web_ui.runtime import PanelRuntime

router = APIRouter()

_ID_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


async def new_plan_id(rt: PanelRuntime, body: Mapping[str, Any]) -> str:
    """The plan's short id (``name``) when it is free, else that id with a random suffix."""
    name = body.get("name")
    base = name if isinstance(name, str) and name else "p"
    rows = await rt.store.reader.query("SELECT id FROM plans WHERE id = ?", [base])
    if not rows and base != "p":
        return base
    return f"{base}-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(5))


def _check(rt: PanelRuntime, body: Mapping[str, Any]) -> list[FieldError]:
    return list(rt.plan_validator(body))


async def _save(
    rt: PanelRuntime, principal: Principal, ip: str, plan_id: str, body: Mapping[str, Any]
) -> int:
    version: int = await rt.store.writer.call(
        partial(
            save_plan,
            plan_id=plan_id,
            name=str(body.get("title") or body["name"]).strip(),
            body=dict(body),
            by=principal.actor,
        ),
        label="save plan",
    )
    rt.audit(
        principal,
        "plan.save",
        target_type="plan",
        target_id=plan_id,
        detail={"version": version, "name": body.get("name")},
        ip=ip,
    )
    return version


def _editor_context(
    body: Mapping[str, Any], errors: list[FieldError], *, plan_id: str | None, checked: bool
) -> dict[str, Any]:
    return {
        "body": body,
        "errors": errors_by_field(errors),
        "error_count": len(errors),
        "plan_id": plan_id,
        "checked": checked,
        "can_edit": editable(body),
        "load_kinds": LOAD_KINDS,
        "load_value": load_value,
        "goals": GOALS,
        "exercises": exercise_names(),
    }


# -- pages ------------------------------------------------------------------------------


@router.get("/plans", include_in_schema=False, name="plans_page")
async def plans_page(
    request: Request,
    principal: CanViewPlans,
) -> Response:
    rt = runtime(request)
    return page(request, "plans.html", principal, {"plans": await plans(rt.store.reader)})


@router.get("/plans/new", include_in_schema=False, name="plan_new")
async def plan_new(
    request: Request,
    principal: CanEditPlans,
) -> Response:
    return page(
        request,
        "plan_edit.html",
        principal,
        _editor_context(blank_plan(), [], plan_id=None, checked=False),
    )


async def _editor_post(request: Request, principal: Principal, plan_id: str | None) -> Response:
    rt = runtime(request)
    form = await form_dict(request)
    action = form.get("action", "save")
    body = body_from_form(form)
    if action != "save":
        body = edit(body, action)
        return page(
            request,
            "plan_edit.html",
            principal,
            _editor_context(body, [], plan_id=plan_id, checked=False),
        )
    errors = _check(rt, body)
    if errors:
        return page(
            request,
            "plan_edit.html",
            principal,
            _editor_context(body, errors, plan_id=plan_id, checked=True),
            status_code=422,
        )
    target = plan_id or await new_plan_id(rt, body)
    await _save(rt, principal, client_ip(request), target, body)
    return RedirectResponse(f"/plans/{target}", status_code=303)


@router.post("/plans/new", include_in_schema=False, name="plan_create")
async def plan_create(
    request: Request,
    principal: CanEditPlans,
) -> Response:
    return await _editor_post(request, principal, None)


@router.post("/plans/check", include_in_schema=False, name="plan_check")
async def plan_check(
    request: Request,
    principal: CanEditPlans,
) -> Response:
    """The editor's live check (htmx): the form again with every message, nothing saved."""
    rt = runtime(request)
    form = await form_dict(request)
    body = body_from_form(form)
    plan_id = form.get("plan_id") or None
    return page(
        request,
        "plan_form.html",
        principal,
        _editor_context(body, _check(rt, body), plan_id=plan_id, checked=True),
    )


@router.get("/plans/{plan_id}", include_in_schema=False, name="plan_page")
async def plan_page(
    request: Request,
    principal: CanViewPlans,
    plan_id: str,
) -> Response:
    return await _plan_page(request, principal, plan_id)


async def _plan_page(
    request: Request,
    principal: Principal,
    plan_id: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    row = await plan(rt.store.reader, plan_id)
    athletes = (
        await athletes_overview(rt.store.reader, with_readiness=False)
        if principal.can(Permission.ATHLETE_EDIT)
        else []
    )
    return page(
        request,
        "plan.html",
        principal,
        {
            "plan": row,
            "assignments": await assignments(rt.store.reader, plan_id=plan_id),
            "athletes": athletes,
            "load_kinds": LOAD_KINDS,
            "today": dt.date.today().isoformat(),
            "errors": errors or {},
            "values": values or {},
        },
        status_code=status,
    )


@router.get("/plans/{plan_id}/edit", include_in_schema=False, name="plan_edit")
async def plan_edit(
    request: Request,
    principal: CanEditPlans,
    plan_id: str,
) -> Response:
    rt = runtime(request)
    row = await plan(rt.store.reader, plan_id)
    return page(
        request,
        "plan_edit.html",
        principal,
        _editor_context(row["body"], [], plan_id=plan_id, checked=False),
    )


@router.post("/plans/{plan_id}/edit", include_in_schema=False, name="plan_update")
async def plan_update(
    request: Request,
    principal: CanEditPlans,
    plan_id: str,
) -> Response:
    await plan(runtime(request).store.reader, plan_id)
    return await _editor_post(request, principal, plan_id)


@router.post("/plans/{plan_id}/assign", include_in_schema=False, name="plan_assign")
async def plan_assign(
    request: Request,
    principal: CanEditAthletes,
    plan_id: str,
) -> Response:
    values = await form_dict(request)
    athlete_id = values.get("athlete_id", "")
    data = {k: v for k, v in values.items() if k in ("start_day", "end_day") and v.strip()}
    try:
        body = AssignmentIn.model_validate({**data, "plan_id": plan_id})
    except ValidationError as exc:
        return await _plan_page(
            request, principal, plan_id, errors=field_errors(exc), values=values, status=422
        )
    if not athlete_id:
        return await _plan_page(
            request,
            principal,
            plan_id,
            errors={"athlete_id": "choose an athlete"},
            values=values,
            status=422,
        )
    await assign_athlete_plan(runtime(request), principal, client_ip(request), athlete_id, body)
    return RedirectResponse(f"/plans/{plan_id}#assignments", status_code=303)


# -- JSON API ---------------------------------------------------------------------------

PLAN_EXAMPLE = {
    "name": "strength-vl20",
    "title": "Strength block, VL 20 %",
    "description": "Four weeks of heavy squats stopped at 20 % velocity loss.",
    "goal": "strength",
    "weeks": 4,
    "sessions": [
        {
            "name": "day-a",
            "title": "Day A",
            "blocks": [
                {
                    "type": "strength",
                    "exercise": "back_squat",
                    "sets": 4,
                    "reps": {"min": 3, "max": 5},
                    "load": {"kind": "percent_1rm", "percent": 80},
                    "velocity_loss_stop_pct": 20,
                    "rest_s": 180,
                }
            ],
        }
    ],
}


class PlanProblems(BaseModel):
    detail: str
    errors: list[dict[str, str]]


def _problems(errors: list[FieldError]) -> JSONResponse:
    return JSONResponse(
        {
            "detail": f"the plan has {len(errors)} problem{'s' if len(errors) != 1 else ''}",
            "errors": [e.to_json() for e in errors],
        },
        status_code=422,
    )


_INVALID: dict[int | str, dict[str, Any]] = {
    422: {"model": PlanProblems, "description": "each problem with its field's path"}
}


@router.get("/api/v1/plans", tags=["plans"], response_model=dict[str, Any])
async def list_plans(
    request: Request,
    principal: CanViewPlans,
) -> Response:
    del principal
    return json_answer({"plans": await plans(runtime(request).store.reader)})


@router.post("/api/v1/plans", tags=["plans"], status_code=201, responses=_INVALID)
async def add_plan(
    request: Request,
    principal: CanEditPlans,
    body: Annotated[dict[str, Any], Body(examples=[PLAN_EXAMPLE])],
) -> Response:
    """A new plan; refused with every problem at its path when it does not validate."""
    rt = runtime(request)
    errors = _check(rt, body)
    if errors:
        return _problems(errors)
    plan_id = await new_plan_id(rt, body)
    await _save(rt, principal, client_ip(request), plan_id, body)
    return JSONResponse({"plan": await plan(rt.store.reader, plan_id)}, status_code=201)


@router.post("/api/v1/plans/validate", tags=["plans"])
async def validate_plan(
    request: Request,
    principal: CanViewPlans,
    body: Annotated[dict[str, Any], Body(examples=[PLAN_EXAMPLE])],
) -> dict[str, Any]:
    """Check a plan without saving it."""
    del principal
    errors = _check(runtime(request), body)
    return {"valid": not errors, "errors": [e.to_json() for e in errors]}


@router.get("/api/v1/plans/{plan_id}", tags=["plans"])
async def get_plan(
    request: Request,
    principal: CanViewPlans,
    plan_id: str,
) -> dict[str, Any]:
    del principal
    rt = runtime(request)
    return {
        "plan": await plan(rt.store.reader, plan_id),
        "assignments": await assignments(rt.store.reader, plan_id=plan_id),
    }


@router.put("/api/v1/plans/{plan_id}", tags=["plans"], responses=_INVALID)
async def put_plan(
    request: Request,
    principal: CanEditPlans,
    plan_id: str,
    body: Annotated[dict[str, Any], Body(examples=[PLAN_EXAMPLE])],
) -> Response:
    """Replace a plan's body (its version goes up by one)."""
    rt = runtime(request)
    await plan(rt.store.reader, plan_id)
    errors = _check(rt, body)
    if errors:
        return _problems(errors)
    await _save(rt, principal, client_ip(request), plan_id, body)
    return JSONResponse({"plan": await plan(rt.store.reader, plan_id)})


class PlanAssignmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    athlete_id: str = Field(min_length=1, max_length=64)
    start_day: dt.date
    end_day: dt.date | None = None

    @field_validator("end_day")
    @classmethod
    def _after_start(cls, value: dt.date | None, info: Any) -> dt.date | None:
        # checked here, so that a bad range is this body's 422 and not an error while
        # building the assignment below (found by schemathesis as a 500)
        return end_not_before_start(value, info)


@router.post("/api/v1/plans/{plan_id}/assignments", tags=["plans"], status_code=201)
async def assign(
    request: Request,
    principal: CanEditAthletes,
    plan_id: str,
    body: PlanAssignmentIn,
) -> dict[str, Any]:
    """Assign this plan to an athlete."""
    assignment = AssignmentIn(plan_id=plan_id, start_day=body.start_day, end_day=body.end_day)
    assignment_id = await assign_athlete_plan(
        runtime(request), principal, client_ip(request), body.athlete_id, assignment
    )
    return {"assignment_id": assignment_id}
