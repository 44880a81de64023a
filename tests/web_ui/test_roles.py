"""Role checks route by route: each role gets exactly the routes its permissions allow."""

from __future__ import annotations

import httpx
import pytest

from controller.store.people import ROLES, Role
from web_ui.permissions import ROLE_PERMISSIONS, Permission

from .conftest import Site, login
from .test_auth import PUBLIC, route_calls

P = Permission
#: What each route needs; a route added to the app must be added here (the test says so).
ROUTE_PERMISSIONS: dict[tuple[str, str], Permission] = {
    ("GET", "/"): P.FLOOR_VIEW,
    ("POST", "/logout"): P.FLOOR_VIEW,
    ("POST", "/api/v1/auth/logout"): P.FLOOR_VIEW,
    ("GET", "/api/v1/me"): P.FLOOR_VIEW,
    ("GET", "/metrics"): P.OPS_VIEW,
    ("GET", "/openapi.json"): P.OPS_VIEW,
    ("GET", "/docs"): P.OPS_VIEW,
    ("GET", "/floor"): P.FLOOR_VIEW,
    ("GET", "/stations/{station_id}"): P.FLOOR_VIEW,
    ("GET", "/api/v1/stations"): P.FLOOR_VIEW,
    ("GET", "/api/v1/stations/{station_id}"): P.FLOOR_VIEW,
    ("GET", "/api/v1/feed"): P.FLOOR_VIEW,
    ("POST", "/api/v1/stations/{station_id}/estop"): P.STATION_ESTOP,
    ("POST", "/api/v1/stations/{station_id}/release"): P.STATION_RELEASE,
    ("POST", "/api/v1/stations/{station_id}/load"): P.STATION_OVERRIDE,
    ("POST", "/api/v1/stations/{station_id}/checkin"): P.STATION_CHECKIN,
    ("POST", "/api/v1/stations/{station_id}/checkout"): P.STATION_CHECKIN,
    ("GET", "/athletes"): P.ATHLETE_LIST,
    ("POST", "/athletes"): P.ATHLETE_EDIT,
    ("GET", "/athletes/{athlete_id}"): P.ATHLETE_VIEW,
    ("POST", "/athletes/{athlete_id}/assign"): P.ATHLETE_EDIT,
    ("GET", "/api/v1/athletes"): P.ATHLETE_LIST,
    ("POST", "/api/v1/athletes"): P.ATHLETE_EDIT,
    ("GET", "/api/v1/athletes/{athlete_id}"): P.ATHLETE_VIEW,
    ("GET", "/api/v1/athletes/{athlete_id}/readiness"): P.ATHLETE_VIEW,
    ("GET", "/api/v1/athletes/{athlete_id}/lvp"): P.ATHLETE_VIEW,
    ("GET", "/api/v1/athletes/{athlete_id}/sessions"): P.ATHLETE_VIEW,
    ("GET", "/api/v1/athletes/{athlete_id}/decisions"): P.ATHLETE_VIEW,
    ("POST", "/api/v1/athletes/{athlete_id}/assignments"): P.ATHLETE_EDIT,
    ("GET", "/plans"): P.PLAN_VIEW,
    ("GET", "/plans/new"): P.PLAN_EDIT,
    ("POST", "/plans/new"): P.PLAN_EDIT,
    ("POST", "/plans/check"): P.PLAN_EDIT,
    ("GET", "/plans/{plan_id}"): P.PLAN_VIEW,
    ("GET", "/plans/{plan_id}/edit"): P.PLAN_EDIT,
    ("POST", "/plans/{plan_id}/edit"): P.PLAN_EDIT,
    ("POST", "/plans/{plan_id}/assign"): P.ATHLETE_EDIT,
    ("GET", "/api/v1/plans"): P.PLAN_VIEW,
    ("POST", "/api/v1/plans"): P.PLAN_EDIT,
    ("POST", "/api/v1/plans/validate"): P.PLAN_VIEW,
    ("GET", "/api/v1/plans/{plan_id}"): P.PLAN_VIEW,
    ("PUT", "/api/v1/plans/{plan_id}"): P.PLAN_EDIT,
    ("POST", "/api/v1/plans/{plan_id}/assignments"): P.ATHLETE_EDIT,
    ("GET", "/audit"): P.AUDIT_VIEW,
    ("GET", "/api/v1/audit"): P.AUDIT_VIEW,
    ("GET", "/data"): P.DATA_EXPORT,
    ("POST", "/data/export"): P.DATA_EXPORT,
    ("POST", "/data/erase"): P.DATA_ERASE,
    ("POST", "/data/retention"): P.SETTINGS_EDIT,
    ("POST", "/data/purge"): P.SETTINGS_EDIT,
    ("POST", "/api/v1/athletes/{athlete_id}/export"): P.DATA_EXPORT,
    ("POST", "/api/v1/athletes/{athlete_id}/erase"): P.DATA_ERASE,
    ("GET", "/api/v1/settings/retention"): P.DATA_EXPORT,
    ("PUT", "/api/v1/settings/retention"): P.SETTINGS_EDIT,
    ("POST", "/api/v1/settings/retention/purge"): P.SETTINGS_EDIT,
    ("GET", "/staff"): P.TOKENS_MANAGE,
    ("POST", "/staff/tokens"): P.TOKENS_MANAGE,
    ("POST", "/staff/tokens/{token_id}/revoke"): P.TOKENS_MANAGE,
    ("GET", "/api/v1/tokens"): P.TOKENS_MANAGE,
    ("POST", "/api/v1/tokens"): P.TOKENS_MANAGE,
    ("DELETE", "/api/v1/tokens/{token_id}"): P.TOKENS_MANAGE,
}


def test_the_roles_are_the_issues() -> None:
    assert ROLE_PERMISSIONS["admin"] == frozenset(Permission)
    coach, desk = ROLE_PERMISSIONS["coach"], ROLE_PERMISSIONS["front_desk"]
    assert {P.ATHLETE_VIEW, P.ATHLETE_EDIT, P.PLAN_EDIT, P.STATION_OVERRIDE} <= coach
    assert {P.STATION_CHECKIN, P.STATION_ESTOP} <= desk
    for admin_only in (P.AUDIT_VIEW, P.DATA_EXPORT, P.DATA_ERASE, P.SETTINGS_EDIT, P.TOKENS_MANAGE):
        assert admin_only not in coach
        assert admin_only not in desk
    for coach_only in (P.ATHLETE_VIEW, P.PLAN_VIEW, P.STATION_OVERRIDE, P.STATION_RELEASE):
        assert coach_only not in desk  # front desk sees no health data and sets no loads


def test_every_route_has_an_expected_permission(site: Site) -> None:
    templates = {(m, t) for m, t, _ in route_calls(site)}
    assert templates - PUBLIC == set(ROUTE_PERMISSIONS), (
        "routes without an expected permission: "
        f"{sorted(templates - PUBLIC - set(ROUTE_PERMISSIONS))}; "
        f"stale entries: {sorted(set(ROUTE_PERMISSIONS) - templates)}"
    )


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_exactly_its_routes(site: Site, role: Role) -> None:
    async with site.client() as client:
        csrf = await login(client, role)
        headers = {"X-CSRF-Token": csrf}
        for method, template, path in route_calls(site):
            if (method, template) in PUBLIC or template in ("/logout", "/api/v1/auth/logout"):
                continue
            allowed = ROUTE_PERMISSIONS[(method, template)] in ROLE_PERMISSIONS[role]
            if template == "/api/v1/feed" and allowed:
                continue  # an endless stream: in-process transports wait for its end
                # (every role may follow the feed: tests/web_ui/test_feed.py, real server)
            if method == "GET":
                status = (await client.get(path, headers=headers)).status_code
            else:
                status = (await client.request(method, path, json={}, headers=headers)).status_code
            if allowed:
                assert status not in (401, 403), (role, method, path, status)
            else:
                assert status == 403, (role, method, path, status)


async def test_the_pages_show_only_what_the_role_may_use(site: Site) -> None:
    async with site.client() as desk:
        await login(desk, "front_desk")
        floor = (await desk.get("/floor")).text
        assert 'href="/athletes"' in floor
        assert 'href="/plans"' not in floor
        assert 'href="/audit"' not in floor
        assert 'href="/data"' not in floor
        station = (await desk.get("/stations/rack-1")).text
        assert "data-estop" in station
        assert "checkin-form" in station
        assert "override-form" not in station
        assert "data-release" not in station
        athletes = (await desk.get("/athletes")).text
        assert "Readiness" not in athletes
        assert "Add an athlete" not in athletes
        listing = (await desk.get("/api/v1/athletes")).json()
        assert all("readiness" not in a for a in listing["athletes"])
    async with site.client() as coach:
        await login(coach, "coach")
        station = (await coach.get("/stations/rack-1")).text
        assert "override-form" in station
        assert "data-release" in station
        floor = (await coach.get("/floor")).text
        assert 'href="/plans"' in floor
        assert 'href="/data"' not in floor


async def test_a_forbidden_action_changes_nothing(site: Site, client: httpx.AsyncClient) -> None:
    csrf = await login(client, "front_desk")
    response = await client.post(
        "/api/v1/stations/rack-1/load",
        json={"value": 50, "confirm": True},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 403
    adapter = site.gym.stations_by_id["rack-1"].adapter
    assert not [c for _, c in adapter.commands if type(c).__name__ == "SetLoad"]
