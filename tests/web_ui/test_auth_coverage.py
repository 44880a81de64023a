"""What an anonymous caller reaches, beyond the route walk of test_auth.py: HEAD on every
page and API route, the API documentation and schema, the static files (public on purpose:
the login page needs them, and they hold no data) and paths outside the app."""

from __future__ import annotations

import httpx

from web_ui.app import STATIC_DIR

from .conftest import Site, login
from .test_auth import PUBLIC, is_api, route_calls

#: What may sit in the public static folder: code, styles, images, licences, versions.
STATIC_SUFFIXES = {".css", ".js", ".svg", ".json", ""}


async def test_head_and_every_method_of_every_route_refuse_anonymous_callers(
    site: Site, client: httpx.AsyncClient
) -> None:
    templates = {(m, t, p) for m, t, p in route_calls(site)}
    gets = {(t, p) for m, t, p in templates if m == "GET"}
    assert ("/docs", "/docs") in gets
    assert ("/openapi.json", "/openapi.json") in gets
    for template, path in sorted(gets):
        if ("GET", template) in PUBLIC:
            continue
        response = await client.head(path)  # FastAPI routes answer HEAD with 405
        expected = 401 if is_api(path) else 303
        assert response.status_code in (expected, 405), ("HEAD", path, response.status_code)
        assert not response.content
    for method in ("PUT", "PATCH", "DELETE"):  # methods a route does not have: never 2xx
        for template, path in sorted(gets):
            if (method, template) in {(m, t) for m, t, _ in templates}:
                continue
            response = await client.request(method, path)
            assert response.status_code in (401, 303, 405), (method, path)


async def test_the_api_documentation_needs_a_signed_in_reader(
    site: Site, client: httpx.AsyncClient
) -> None:
    for path in ("/docs", "/openapi.json", "/docs/", "/redoc", "/docs/oauth2-redirect"):
        response = await client.get(path)
        if response.status_code == 307:  # a trailing slash: redirected to the route...
            response = await client.get(response.headers["location"])
        assert response.status_code in (303, 401, 404), path  # ...which wants a sign-in
        assert "openapi" not in response.text.lower() or response.status_code == 404
    await login(client, "front_desk")  # any role may read the schema (OPS_VIEW)
    assert (await client.get("/openapi.json")).json()["info"]["title"] == "gymctl studio panel"
    assert "swagger-ui" in (await client.get("/docs")).text


def test_the_public_static_folder_holds_no_data() -> None:
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    assert files
    for path in files:
        relative = path.relative_to(STATIC_DIR)
        assert path.suffix in STATIC_SUFFIXES, relative  # no database, export or trace
        if path.suffix == "":
            assert path.name.startswith(("LICENSE", "NOTICE", ".installed")), relative
        assert not path.name.endswith((".db", ".zip", ".csv", ".sqlite")), relative


async def test_static_files_serve_only_what_is_in_the_folder(client: httpx.AsyncClient) -> None:
    assert (await client.get("/static/panel.css")).status_code == 200
    for path in (
        "/static/",
        "/static",
        "/static/../app.py",
        "/static/%2e%2e/app.py",
        "/static/%2e%2e%2fapp.py",
        "/static/..%5capp.py",
        "/static/vendor/",
        "/static/../../controller/store/store.py",
    ):
        response = await client.get(path)
        if response.status_code == 307:  # /static -> /static/: no listing there either
            response = await client.get(response.headers["location"])
        assert response.status_code in (404, 401, 303), (path, response.status_code)
        assert "import" not in response.text, path  # no Python source leaks


async def test_unknown_paths_say_nothing(client: httpx.AsyncClient) -> None:
    for path in ("/admin", "/api/v2/athletes", "/api/v1/athletes/x/y/z", "/.env", "/gym.db"):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert len(response.content) < 200, path
