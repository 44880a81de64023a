"""Admin pages: the audit log, athletes' data (export, erase, retention), staff tokens."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlite_utils import Database
from starlette.background import BackgroundTask
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response

from controller.errors import NotFoundError
from controller.store.people import create_api_token, hash_secret, revoke_api_token
from controller.store.settings import EDITABLE, clear_setting, set_setting
from controller.store.subjects import MAX_PASSPHRASE, MIN_PASSPHRASE, check_passphrase
from kernels.errors import InvalidInputError
from web_ui.auth import Principal, new_token
from web_ui.deps import (
    CanEditSettings,
    CanErase,
    CanExport,
    CanManageTokens,
    CanViewAudit,
    client_ip,
    page,
    runtime,
)
from web_ui.forms import field_errors, form_dict
from web_ui.queries import api_tokens, athletes_overview, retention_preview, setting_overrides
from web_ui.runtime import PanelRuntime

router = APIRouter()

#: SQLite's largest rowid: larger ids in a request are refused, not passed to SQLite
MAX_ROW_ID = 2**63 - 1


# -- audit log ----------------------------------------------------------------------------


@router.get("/audit", include_in_schema=False, name="audit_page")
async def audit_page(
    request: Request,
    principal: CanViewAudit,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    rows = await runtime(request).store.reader.audit_log(limit=100, before_id=before_id)
    return page(
        request,
        "audit.html",
        principal,
        {"rows": rows, "next_before": rows[-1]["id"] if len(rows) == 100 else None},
    )


@router.get("/api/v1/audit", tags=["admin"])
async def audit_log(
    request: Request,
    principal: CanViewAudit,
    before_id: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    """Staff actions, newest first; page with ``before_id``."""
    del principal
    rows = await runtime(request).store.reader.audit_log(limit=limit, before_id=before_id)
    return {"entries": rows, "next_before_id": rows[-1]["id"] if len(rows) == limit else None}


# -- data: export, erase, retention --------------------------------------------------------


async def _retention(rt: PanelRuntime) -> dict[str, Any]:
    settings = rt.store.settings
    config = rt.config_store_settings
    overrides = await setting_overrides(rt.store.reader)
    preview = await retention_preview(
        rt.store.reader,
        trace_days=settings.trace_retention_days,
        readiness_days=settings.readiness_retention_days,
        now=time.time(),
    )
    last = rt.store.last_purge
    return {
        "trace_retention_days": settings.trace_retention_days,
        "readiness_retention_days": settings.readiness_retention_days,
        "config": {
            "trace_retention_days": config.trace_retention_days,
            "readiness_retention_days": config.readiness_retention_days,
        },
        "overrides": overrides,
        "held": preview,
        "last_purge": (
            {
                "traces": last.traces,
                "readiness_inputs": last.readiness_inputs,
                "web_sessions": last.web_sessions,
            }
            if last is not None
            else None
        ),
    }


async def _data_page(
    request: Request,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    message: str = "",
    status: int = 200,
) -> Response:
    rt = runtime(request)
    return page(
        request,
        "data.html",
        principal,
        {
            "athletes": await athletes_overview(rt.store.reader, with_readiness=False),
            "retention": await _retention(rt),
            "labels": {k.removeprefix("store."): e.label for k, e in EDITABLE.items()},
            "errors": errors or {},
            "values": values or {},
            "message": message,
        },
        status_code=status,
    )


_DONE = {
    "erased": "The athlete's data was erased from every table, traces included.",
    "retention": "Retention settings saved.",
    "purged": "Expired data was purged.",
}


@router.get("/data", include_in_schema=False, name="data_page")
async def data_page(
    request: Request,
    principal: CanExport,
    done: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    return await _data_page(request, principal, message=_DONE.get(done, ""))


def _export_name(athlete_id: str) -> str:
    """The file name an export of the athlete carries (its id, never its name)."""
    safe_id = re.sub(r"[^A-Za-z0-9_-]", "_", athlete_id)[:64]
    return f"gymctl-athlete-{safe_id}-"


async def _export(
    rt: PanelRuntime, principal: Principal, ip: str, athlete_id: str, passphrase: str | None
) -> Response:
    await rt.store.reader.athlete(athlete_id)
    if passphrase is not None:
        check_passphrase(passphrase)
    day = dt.date.today().isoformat()
    name = f"{_export_name(athlete_id)}{day}.zip"
    dest = rt.export_dir / f"{secrets.token_hex(8)}-{name}"
    await rt.store.export_athlete(athlete_id, dest, passphrase=passphrase)
    rt.audit(
        principal,
        "athlete.export",
        target_type="athlete",
        target_id=athlete_id,
        athlete_id=athlete_id,
        detail={"bytes": dest.stat().st_size, "encrypted": passphrase is not None},
        ip=ip,
    )
    return FileResponse(
        dest,
        media_type="application/zip",
        filename=name,
        background=BackgroundTask(dest.unlink, missing_ok=True),
    )


async def _erase(
    rt: PanelRuntime, principal: Principal, athlete_id: str, confirm: str
) -> dict[str, int]:
    athlete = await rt.store.reader.athlete(athlete_id)
    if confirm.strip() != str(athlete["display_name"]).strip():
        raise InvalidInputError(
            "type the athlete's name exactly as shown to confirm the erasure", where="confirm"
        )
    busy = [s.station_id for s in rt.gym.stations() if s.athlete_id == athlete_id]
    if busy:
        raise InvalidInputError(
            f"the athlete is checked in at {', '.join(busy)}: check them out first",
            where="athlete_id",
        )
    counts = await rt.store.erase_athlete(athlete_id, actor=principal.actor)
    rt.live.forget_athlete(athlete_id)
    # an export still waiting to be sent (or left by a dropped download) goes too
    marker = _export_name(athlete_id)
    for path in list(rt.export_dir.iterdir()):
        if marker in path.name:
            path.unlink(missing_ok=True)
            counts["export_files"] = counts.get("export_files", 0) + 1
    return counts


@router.post("/data/export", include_in_schema=False, name="data_export")
async def data_export(
    request: Request,
    principal: CanExport,
) -> Response:
    values = await form_dict(request)
    athlete_id = values.get("athlete_id", "")
    passphrase = values.get("passphrase", "") or None
    if not athlete_id:
        return await _data_page(
            request, principal, errors={"export": "choose an athlete"}, status=422
        )
    try:
        return await _export(
            runtime(request), principal, client_ip(request), athlete_id, passphrase
        )
    except InvalidInputError as exc:
        return await _data_page(
            request,
            principal,
            errors={"export": str(exc)},
            values={"athlete_id": athlete_id},
            status=422,
        )


@router.post("/data/erase", include_in_schema=False, name="data_erase")
async def data_erase(
    request: Request,
    principal: CanErase,
) -> Response:
    values = await form_dict(request)
    try:
        await _erase(
            runtime(request), principal, values.get("athlete_id", ""), values.get("confirm", "")
        )
    except (InvalidInputError, NotFoundError) as exc:
        return await _data_page(
            request, principal, errors={"erase": str(exc)}, values=values, status=422
        )
    return RedirectResponse("/data?done=erased", status_code=303)


class RetentionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    trace_retention_days: int | None = Field(default=None, ge=1, le=3650)
    readiness_retention_days: int | None = Field(default=None, ge=1, le=3650)


async def _set_retention(
    rt: PanelRuntime, principal: Principal, ip: str, body: RetentionIn
) -> None:
    changes = body.model_dump()
    config = rt.config_store_settings

    def write(db: Database) -> None:
        for name, value in changes.items():
            key = f"store.{name}"
            if value is None or value == getattr(config, name):
                clear_setting(db, key=key)  # back to the site config's value
            else:
                set_setting(db, key=key, value=value, by=principal.actor)

    await rt.store.writer.call(write, label="retention settings")
    await rt.apply_stored_settings()
    rt.audit(
        principal,
        "settings.retention",
        target_type="settings",
        target_id="retention",
        detail=changes,
        ip=ip,
    )


@router.post("/data/retention", include_in_schema=False, name="data_retention")
async def data_retention(
    request: Request,
    principal: CanEditSettings,
) -> Response:
    values = await form_dict(request)
    data = {k: v for k, v in values.items() if k in RetentionIn.model_fields and v.strip()}
    try:
        body = RetentionIn.model_validate(data)
    except ValidationError as exc:
        return await _data_page(
            request, principal, errors=field_errors(exc), values=values, status=422
        )
    await _set_retention(runtime(request), principal, client_ip(request), body)
    return RedirectResponse("/data?done=retention", status_code=303)


@router.post("/data/purge", include_in_schema=False, name="data_purge")
async def data_purge(
    request: Request,
    principal: CanEditSettings,
) -> Response:
    await _purge(runtime(request), principal, client_ip(request))
    return RedirectResponse("/data?done=purged", status_code=303)


async def _purge(rt: PanelRuntime, principal: Principal, ip: str) -> dict[str, int]:
    purged = await rt.store.purge_expired()
    rt.store.last_purge = purged
    counts = {
        "traces": purged.traces,
        "readiness_inputs": purged.readiness_inputs,
        "web_sessions": purged.web_sessions,
    }
    rt.audit(
        principal, "data.purge", target_type="settings", target_id="retention", detail=counts, ip=ip
    )
    return counts


class ExportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    passphrase: str | None = Field(
        default=None,
        min_length=MIN_PASSPHRASE,
        max_length=MAX_PASSPHRASE,
        description="encrypt the zip (AES-256) with this passphrase; none: a plain zip",
    )


@router.post(
    "/api/v1/athletes/{athlete_id}/export",
    tags=["data"],
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
async def export_athlete(
    request: Request,
    principal: CanExport,
    athlete_id: str,
    body: ExportIn | None = None,
) -> Response:
    """Everything the site holds about the athlete: a zip of JSON and CSV (traces too).
    With a ``passphrase``, every member is AES-256 encrypted (7-Zip and the like open it)."""
    passphrase = body.passphrase if body is not None else None
    return await _export(runtime(request), principal, client_ip(request), athlete_id, passphrase)


class EraseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    confirm: str = Field(description="the athlete's display name, typed to confirm")


@router.post("/api/v1/athletes/{athlete_id}/erase", tags=["data"])
async def erase_athlete(
    request: Request,
    principal: CanErase,
    athlete_id: str,
    body: EraseIn,
) -> dict[str, Any]:
    """Hard-delete the athlete from every table, raw traces included; rows deleted per table.
    The audit log keeps one line without the athlete's id or name."""
    counts = await _erase(runtime(request), principal, athlete_id, body.confirm)
    return {"erased": True, "rows_deleted": counts}


@router.get("/api/v1/settings/retention", tags=["data"])
async def get_retention(
    request: Request,
    principal: CanExport,
) -> dict[str, Any]:
    """Retention in force (config and overrides) and what the store holds."""
    del principal
    return await _retention(runtime(request))


@router.put("/api/v1/settings/retention", tags=["data"])
async def put_retention(
    request: Request,
    principal: CanEditSettings,
    body: RetentionIn,
) -> dict[str, Any]:
    """Change retention (null: back to the site config's value); kept in the store."""
    rt = runtime(request)
    await _set_retention(rt, principal, client_ip(request), body)
    return await _retention(rt)


@router.post("/api/v1/settings/retention/purge", tags=["data"])
async def purge_now(
    request: Request,
    principal: CanEditSettings,
) -> dict[str, Any]:
    """Delete what is past its retention now (the store also does it every 6 hours)."""
    return {"purged": await _purge(runtime(request), principal, client_ip(request))}


# -- staff and API tokens -----------------------------------------------------------------


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64, description="what the token is for")
    username: str | None = Field(default=None, description="whose token (default: yours)")
    expires_days: int | None = Field(default=None, ge=1, le=3650)


async def _create_token(
    rt: PanelRuntime, principal: Principal, ip: str, body: TokenIn
) -> dict[str, Any]:
    username = body.username or principal.username
    user = await rt.store.reader.staff_user(username)
    token = new_token()
    expires = time.time() + body.expires_days * 86_400 if body.expires_days else None
    token_id: int = await rt.store.writer.call(
        partial(
            create_api_token,
            user_id=int(user["id"]),
            name=body.name,
            token_hash=hash_secret(token),
            expires=expires,
        ),
        label="create token",
    )
    rt.audit(
        principal,
        "token.create",
        target_type="token",
        target_id=str(token_id),
        detail={"name": body.name, "user": username, "expires": expires},
        ip=ip,
    )
    return {
        "id": token_id,
        "token": token,
        "name": body.name,
        "username": username,
        "role": user["role"],
        "expires": expires,
    }


async def _revoke_token(rt: PanelRuntime, principal: Principal, ip: str, token_id: int) -> None:
    rows = await rt.store.reader.query("SELECT token_hash FROM api_tokens WHERE id = ?", [token_id])
    if not rows:
        raise NotFoundError(f"no token {token_id}")
    await rt.store.writer.call(partial(revoke_api_token, token_id=token_id), label="revoke")
    rt.auth.forget_token(str(rows[0]["token_hash"]))
    rt.audit(principal, "token.revoke", target_type="token", target_id=str(token_id), ip=ip)


async def _staff_page(
    request: Request,
    principal: Principal,
    *,
    new: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    rt = runtime(request)
    return page(
        request,
        "staff.html",
        principal,
        {
            "users": await rt.store.reader.staff_users(),
            "tokens": await api_tokens(rt.store.reader),
            "new": new,
            "errors": errors or {},
        },
        status_code=status,
    )


@router.get("/staff", include_in_schema=False, name="staff_page")
async def staff_page(
    request: Request,
    principal: CanManageTokens,
) -> Response:
    return await _staff_page(request, principal)


@router.post("/staff/tokens", include_in_schema=False, name="staff_token_create")
async def staff_token_create(
    request: Request,
    principal: CanManageTokens,
) -> Response:
    values = await form_dict(request)
    data = {k: v for k, v in values.items() if k in TokenIn.model_fields and v.strip()}
    try:
        body = TokenIn.model_validate(data)
        new = await _create_token(runtime(request), principal, client_ip(request), body)
    except ValidationError as exc:
        return await _staff_page(request, principal, errors=field_errors(exc), status=422)
    except NotFoundError as exc:
        return await _staff_page(request, principal, errors={"username": str(exc)}, status=422)
    return await _staff_page(request, principal, new=new)


@router.post("/staff/tokens/{token_id}/revoke", include_in_schema=False, name="staff_revoke")
async def staff_token_revoke(
    request: Request,
    principal: CanManageTokens,
    token_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
) -> Response:
    await _revoke_token(runtime(request), principal, client_ip(request), token_id)
    return RedirectResponse("/staff", status_code=303)


@router.get("/api/v1/tokens", tags=["admin"])
async def list_tokens(
    request: Request,
    principal: CanManageTokens,
) -> dict[str, Any]:
    """API tokens (never the tokens themselves: they are shown once, at creation)."""
    del principal
    return {"tokens": await api_tokens(runtime(request).store.reader)}


@router.post("/api/v1/tokens", tags=["admin"], status_code=201)
async def create_token(
    request: Request,
    principal: CanManageTokens,
    body: TokenIn,
) -> JSONResponse:
    """A new token for a machine client; it acts with the user's role. Shown once."""
    new = await _create_token(runtime(request), principal, client_ip(request), body)
    return JSONResponse(new, status_code=201)


@router.delete("/api/v1/tokens/{token_id}", tags=["admin"], status_code=204)
async def delete_token(
    request: Request,
    principal: CanManageTokens,
    token_id: Annotated[int, Path(ge=1, le=MAX_ROW_ID)],
) -> Response:
    """Revoke a token (at once in this panel)."""
    await _revoke_token(runtime(request), principal, client_ip(request), token_id)
    return Response(status_code=204)
