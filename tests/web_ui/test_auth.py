"""Authentication, sessions, CSRF, rate limits and tokens, against the app in-process."""

from __future__ import annotations

import logging
import time
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount

from controller.store.people import create_api_token, hash_secret, set_disabled
from web_ui.auth import LOGIN_COOKIE, SESSION_COOKIE, new_token

from .conftest import CLIENT_IP, PASSWORD, USERS, Site, hidden, login

#: The only routes open to anyone.
PUBLIC = {
    ("GET", "/login"),
    ("POST", "/login"),
    ("POST", "/api/v1/auth/login"),
    ("GET", "/healthz"),
}
PATH_VALUES = {
    "station_id": "rack-1",
    "athlete_id": "a-nobody",
    "plan_id": "p-nothing",
    "token_id": "1",
}


def route_calls(site: Site) -> list[tuple[str, str, str]]:
    """(method, template, concrete path) of every route of the app."""
    calls: list[tuple[str, str, str]] = []
    for context in iter_route_contexts(site.app.routes):
        route = context.original_route
        if isinstance(route, Mount):
            assert route.path == "/static", f"unexpected mount {route.path}"
            continue
        assert isinstance(route, APIRoute), f"unexpected route type {route!r}"
        template = str(context.path_format)
        path = template
        for name, value in PATH_VALUES.items():
            path = path.replace("{" + name + "}", value)
        assert "{" not in path, f"add a value for the parameters of {template}"
        calls.extend((m, template, path) for m in sorted(set(context.methods or ()) - {"HEAD"}))
    return calls


def is_api(path: str) -> bool:
    return path.startswith(("/api/", "/metrics", "/openapi.json"))


async def test_every_route_but_login_and_healthz_refuses_anonymous_callers(
    site: Site, client: httpx.AsyncClient
) -> None:
    calls = route_calls(site)
    assert len(calls) > 50
    open_routes = set()
    for method, template, path in calls:
        for headers in ({}, {"Authorization": "Bearer gym_not-a-token"}):
            response = await client.request(method, path, headers=headers, json={})
            if (method, template) in PUBLIC:
                open_routes.add((method, template))
                continue
            if is_api(path):
                assert response.status_code == 401, (method, path, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")
            else:
                assert response.status_code == 303, (method, path, response.text)
                assert response.headers["location"].startswith("/login")
        client.cookies.set(SESSION_COOKIE, "forged-session-id")
        response = await client.request(method, path, json={})
        client.cookies.clear()
        if (method, template) not in PUBLIC:
            assert response.status_code in (401, 303), (method, path)
    assert open_routes == PUBLIC


async def test_login_page_sets_a_hardened_session_cookie(site: Site) -> None:
    async with site.client() as client:
        form = await client.get("/login")
        token = hidden(form.text, "csrf_token")
        wrong = await client.post(
            "/login", data={"username": "alice", "password": "nope", "csrf_token": token}
        )
        assert wrong.status_code == 401
        assert "wrong username or password" in wrong.text
        assert SESSION_COOKIE not in wrong.cookies
        token = hidden(wrong.text, "csrf_token")
        ok = await client.post(
            "/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "csrf_token": token,
                "next": "/athletes",
            },
        )
        assert ok.status_code == 303
        assert ok.headers["location"] == "/athletes"
        cookie = next(
            v
            for k, v in ok.headers.multi_items()
            if k == "set-cookie" and v.startswith(SESSION_COOKIE)
        )
        assert "HttpOnly" in cookie
        assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
        assert (await client.get("/floor")).status_code == 200
    async with site.client(base_url="https://panel.test") as tls:
        form = await tls.get("/login")
        ok = await tls.post(
            "/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "csrf_token": hidden(form.text, "csrf_token"),
            },
        )
        cookie = next(
            v
            for k, v in ok.headers.multi_items()
            if k == "set-cookie" and v.startswith(SESSION_COOKIE)
        )
        assert "Secure" in cookie


async def test_the_login_form_refuses_a_post_without_its_own_token(site: Site) -> None:
    async with site.client() as client:
        await client.get("/login")
        response = await client.post(
            "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "forged"}
        )
        assert response.status_code == 403
        assert SESSION_COOKIE not in response.cookies
    async with site.client() as client:  # a cross-site form has no login cookie at all
        response = await client.post(
            "/login", data={"username": "alice", "password": PASSWORD, "csrf_token": "x"}
        )
        assert response.status_code == 403


async def test_after_login_redirects_stay_on_this_site(site: Site) -> None:
    async with site.client() as client:
        for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
            form = await client.get("/login")
            response = await client.post(
                "/login",
                data={
                    "username": "alice",
                    "password": PASSWORD,
                    "next": target,
                    "csrf_token": hidden(form.text, "csrf_token"),
                },
            )
            assert response.headers["location"] == "/floor"


async def test_a_session_id_planted_before_login_is_worthless_after(site: Site) -> None:
    """Session fixation: the id the browser brings to the login is never the one after."""
    async with site.client() as attacker:
        await login(attacker, "front_desk")
        planted = attacker.cookies[SESSION_COOKIE]
    async with site.client() as victim:
        victim.cookies.set(SESSION_COOKIE, planted, domain="panel.test")
        assert (await victim.get("/api/v1/me")).json()["username"] == USERS["front_desk"]
        await login(victim, "admin")
        fresh = victim.cookies[SESSION_COOKIE]
        assert fresh != planted
        assert (await victim.get("/api/v1/me")).json()["username"] == USERS["admin"]
    async with site.client() as replay:
        replay.cookies.set(SESSION_COOKIE, planted, domain="panel.test")
        assert (await replay.get("/api/v1/me")).status_code == 401
    rows = await site.store.reader.query(
        "SELECT count(*) AS n FROM web_sessions WHERE session_hash = ?", [hash_secret(planted)]
    )
    assert rows[0]["n"] == 0


async def test_logout_ends_the_session_for_good(site: Site) -> None:
    async with site.client() as client:
        csrf = await login(client, "coach")
        secret = client.cookies[SESSION_COOKIE]
        response = await client.post("/api/v1/auth/logout", headers={"X-CSRF-Token": csrf})
        assert response.status_code == 204
    async with site.client() as replay:
        replay.cookies.set(SESSION_COOKIE, secret, domain="panel.test")
        assert (await replay.get("/api/v1/me")).status_code == 401


async def test_an_expired_session_is_refused(site: Site) -> None:
    async with site.client() as client:
        await login(client, "coach")
        secret = client.cookies[SESSION_COOKIE]
        await site.store.writer.call(
            lambda db: db.execute(
                "UPDATE web_sessions SET expires = ? WHERE session_hash = ?",
                [time.time() - 1, hash_secret(secret)],
            )
        )
        site.runtime.auth.cache_s = 0.0
        assert (await client.get("/api/v1/me")).status_code == 401


async def test_failed_logins_are_rate_limited_per_user_and_address(site: Site) -> None:
    now = [1000.0]
    limiter = site.runtime.limiter
    limiter.clock = lambda: now[0]
    async with site.client() as client:
        for _ in range(limiter.max_failures):
            response = await client.post(
                "/api/v1/auth/login", json={"username": "carl", "password": "guess-guess"}
            )
            assert response.status_code == 401
        blocked = await client.post(
            "/api/v1/auth/login", json={"username": "carl", "password": PASSWORD}
        )
        assert blocked.status_code == 429
        assert int(blocked.headers["retry-after"]) > 0
        # another account from the same address is not locked by carl's failures
        assert (
            await client.post(
                "/api/v1/auth/login", json={"username": "fiona", "password": PASSWORD}
            )
        ).status_code == 200
    async with site.client(ip="10.0.0.99") as elsewhere:  # carl from another address
        assert (
            await elsewhere.post(
                "/api/v1/auth/login", json={"username": "carl", "password": PASSWORD}
            )
        ).status_code == 200
    now[0] += limiter.window_s + 1
    async with site.client() as client:
        assert (
            await client.post("/api/v1/auth/login", json={"username": "carl", "password": PASSWORD})
        ).status_code == 200


async def test_many_usernames_from_one_address_hit_the_address_limit(site: Site) -> None:
    limiter = site.runtime.limiter
    async with site.client() as client:
        for n in range(limiter.ip_max_failures):
            response = await client.post(
                "/api/v1/auth/login", json={"username": f"user{n}", "password": "guess-guess"}
            )
            assert response.status_code == 401
        response = await client.post(
            "/api/v1/auth/login", json={"username": "alice", "password": PASSWORD}
        )
        assert response.status_code == 429


async def test_the_login_form_is_rate_limited_too(site: Site) -> None:
    async with site.client() as client:
        for _ in range(site.runtime.limiter.max_failures):
            form = await client.get("/login")
            await client.post(
                "/login",
                data={
                    "username": "alice",
                    "password": "wrong-wrong",
                    "csrf_token": hidden(form.text, "csrf_token"),
                },
            )
        form = await client.get("/login")
        response = await client.post(
            "/login",
            data={
                "username": "alice",
                "password": PASSWORD,
                "csrf_token": hidden(form.text, "csrf_token"),
            },
        )
        assert response.status_code == 429
        assert "try again in" in response.text


async def test_disabled_accounts_cannot_sign_in_and_lose_their_sessions(site: Site) -> None:
    async with site.client() as client:
        await login(client, "coach")
        await site.store.writer.call(partial(set_disabled, username="carl", disabled=True))
        site.runtime.auth.cache_s = 0.0
        assert (await client.get("/api/v1/me")).status_code == 401
        response = await client.post(
            "/api/v1/auth/login", json={"username": "carl", "password": PASSWORD}
        )
        assert response.status_code == 401


async def test_state_changes_need_the_csrf_token_with_a_cookie(site: Site) -> None:
    async with site.client() as client:
        csrf = await login(client, "coach")
        estop = "/api/v1/stations/rack-1/estop"
        assert (await client.post(estop, json={})).status_code == 403
        assert (
            await client.post(estop, json={}, headers={"X-CSRF-Token": "0" * 64})
        ).status_code == 403
        other = await site.client().__aenter__()
        try:
            other_csrf = await login(other, "coach")  # a token of another session
        finally:
            await other.aclose()
        assert (
            await client.post(estop, json={}, headers={"X-CSRF-Token": other_csrf})
        ).status_code == 403
        # right token, but sent by another site's page
        cross = {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}
        assert (await client.post(estop, json={}, headers=cross)).status_code == 403
        foreign = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
        assert (await client.post(estop, json={}, headers=foreign)).status_code == 403
        assert not site.gym.stations_by_id["rack-1"].station.drive.estopped
        # forms: the token in the csrf_token field
        assert (await client.post("/athletes", data={"display_name": "X"})).status_code == 403
        ok = await client.post("/athletes", data={"display_name": "Xenia", "csrf_token": csrf})
        assert ok.status_code == 303
        # htmx and fetch: the header, from our own origin
        own = {
            "X-CSRF-Token": csrf,
            "HX-Request": "true",
            "Origin": "http://panel.test",
            "Sec-Fetch-Site": "same-origin",
        }
        response = await client.post(estop, json={}, headers=own)
        assert response.status_code == 200
        assert site.gym.stations_by_id["rack-1"].station.drive.estopped


async def test_api_tokens_act_with_their_user_role_and_need_no_csrf(site: Site) -> None:
    async with site.client() as admin:
        csrf = await login(admin, "admin")
        created = await admin.post(
            "/api/v1/tokens",
            json={"name": "kiosk", "username": "fiona"},
            headers={"X-CSRF-Token": csrf},
        )
        assert created.status_code == 201
        token = created.json()["token"]
        token_id = created.json()["id"]
        assert token not in (await admin.get("/api/v1/tokens")).text
    bearer = {"Authorization": f"Bearer {token}"}
    async with site.client() as machine:
        assert (await machine.get("/api/v1/me", headers=bearer)).json()["role"] == "front_desk"
        estop = await machine.post("/api/v1/stations/rack-2/estop", json={}, headers=bearer)
        assert estop.status_code == 200  # no CSRF token: a bearer carries no ambient credential
        override = await machine.post(
            "/api/v1/stations/rack-2/load", json={"value": 20, "confirm": True}, headers=bearer
        )
        assert override.status_code == 403
        # a bad bearer never falls back to a cookie the client also holds
        await login(machine, "admin")
        bad = {"Authorization": "Bearer gym_wrong"}
        assert (await machine.get("/api/v1/me", headers=bad)).status_code == 401
    async with site.client() as admin:
        csrf = await login(admin, "admin")
        revoked = await admin.delete(f"/api/v1/tokens/{token_id}", headers={"X-CSRF-Token": csrf})
        assert revoked.status_code == 204
    async with site.client() as machine:
        assert (await machine.get("/api/v1/me", headers=bearer)).status_code == 401


async def test_expired_tokens_are_refused(site: Site) -> None:
    token = new_token()
    users = {u["username"]: u for u in await site.store.reader.staff_users()}
    await site.store.writer.call(
        partial(
            create_api_token,
            user_id=users["alice"]["id"],
            name="old",
            token_hash=hash_secret(token),
            expires=time.time() - 60,
        )
    )
    async with site.client() as machine:
        response = await machine.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


async def test_pages_send_users_to_the_login_and_back(site: Site) -> None:
    async with site.client() as client:
        response = await client.get("/athletes?q=ana")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/athletes?q=ana"
        htmx = await client.get("/athletes", headers={"HX-Request": "true"})
        assert htmx.status_code == 401
        assert htmx.headers["hx-redirect"].startswith("/login")


async def test_no_account_exists_until_one_is_made(tmp_path: Path) -> None:
    from controller.bus import EventBus
    from controller.store import Store
    from tests.web_ui.bench_gym import BenchGym
    from web_ui import create_app

    bus = EventBus()
    async with Store(tmp_path / "fresh.db", bus=bus) as store:
        assert await store.reader.staff_users() == []
        async with BenchGym(bus=bus, store=store) as gym:
            app = create_app(gym, store)
            async with app.router.lifespan_context(app):
                transport = httpx.ASGITransport(app=app, client=(CLIENT_IP, 1))
                async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
                    for username, password in (("admin", "admin"), ("admin", ""), ("root", "root")):
                        response = await c.post(
                            "/api/v1/auth/login", json={"username": username, "password": password}
                        )
                        assert response.status_code in (401, 422)


async def test_security_headers_and_no_caching_of_pages(
    site: Site, client: httpx.AsyncClient
) -> None:
    await login(client, "coach")
    for path in ("/floor", "/api/v1/stations", "/login"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"
    static = await client.get("/static/panel.css")
    assert static.status_code == 200
    assert static.headers.get("cache-control") != "no-store"


async def test_no_password_or_token_reaches_the_log(
    site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_guess = "hunter2-is-my-password"
    async with site.client() as client:
        await client.post("/api/v1/auth/login", json={"username": "carl", "password": secret_guess})
        await client.post("/api/v1/auth/login", json={"username": secret_guess, "password": "x"})
        csrf = await login(client, "admin")
        created = await client.post(
            "/api/v1/tokens", json={"name": "t"}, headers={"X-CSRF-Token": csrf}
        )
        token = created.json()["token"]
        await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        session = client.cookies[SESSION_COOKIE]
    await site.flush()
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in (secret_guess, PASSWORD, token, session, csrf):
        assert secret not in logged
    audit = str(await site.store.reader.audit_log(limit=1000))
    for secret in (secret_guess, PASSWORD, token, session, csrf):
        assert secret not in audit
    assert LOGIN_COOKIE  # the login form's cookie is covered by test_login_page_...
