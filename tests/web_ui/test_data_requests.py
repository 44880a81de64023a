"""Data-subject requests through the panel: encrypted exports (API and form), and erasure
that leaves nothing in the database, its write-ahead log or the export folder."""

from __future__ import annotations

import asyncio
import io
import json
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import numpy as np
import pytest
import pyzipper

from controller.bus import EventBus
from controller.config import StoreConfig
from controller.store import Store, TraceRecord
from tests.web_ui.bench_gym import BenchGym
from web_ui import PanelSettings, create_app

from .conftest import FAST_HASHER, PASSWORD, Site, hidden, login
from .seed import add_athletes, add_user, publish_history

PASSPHRASE = "harbour lantern fifty owls"


@pytest.fixture
async def admin(site: Site) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    async with site.client() as client:
        csrf = await login(client, "admin")
        yield client, {"X-CSRF-Token": csrf}


async def history(site: Site) -> list[tuple[str, str]]:
    from equipment_adapters.emulators.athlete import DEMO_ATHLETES

    seeded = await add_athletes(site.store, [DEMO_ATHLETES[0], DEMO_ATHLETES[1]])
    for n, athlete in enumerate(seeded):
        publish_history(site.store, athlete, days=6)
        site.store.writer.record_trace(
            TraceRecord(
                "rack-1-rack", "position", 0.0, 0.001, np.linspace(0.1, 0.9, 800) + n / 7,
                athlete_id=athlete.athlete_id, session_id="s", set_id=f"s-{athlete.athlete_id}",
            )
        )  # fmt: skip
    await site.flush()
    return [(a.athlete_id, a.name) for a in seeded]


def on_disk(path: Path) -> bytes:
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_an_encrypted_export_through_the_api(
    site: Site, admin: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = admin
    (athlete, name), _ = await history(site)
    answer = await client.post(
        f"/api/v1/athletes/{athlete}/export", json={"passphrase": PASSPHRASE}, headers=h
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert name.encode() not in answer.content
    with pyzipper.AESZipFile(io.BytesIO(answer.content)) as zf:
        zf.setpassword(PASSPHRASE.encode())
        assert all(info.flag_bits & 0x1 for info in zf.infolist())
        data = json.loads(zf.read("athlete.json"))
    assert data["tables"]["athletes"][0]["display_name"] == name
    assert data["encrypted"] is True
    plain = await client.post(f"/api/v1/athletes/{athlete}/export", headers=h)  # no body
    with zipfile.ZipFile(io.BytesIO(plain.content)) as zf:
        assert json.loads(zf.read("athlete.json"))["encrypted"] is False
    short = await client.post(
        f"/api/v1/athletes/{athlete}/export", json={"passphrase": "abc"}, headers=h
    )
    assert short.status_code == 422
    assert "passphrase" in short.text
    assert list(site.runtime.export_dir.iterdir()) == []  # nothing kept after sending
    await site.flush()
    audit = [
        r for r in await site.store.reader.audit_log(limit=50) if r["action"] == "athlete.export"
    ]
    assert [r["detail"]["encrypted"] for r in audit] == [False, True]
    assert PASSPHRASE not in json.dumps(audit)


async def test_the_data_page_exports_with_a_passphrase(site: Site) -> None:
    (athlete, _), _ = await history(site)
    async with site.client() as client:
        await login(client, "admin")
        page = await client.get("/data")
        assert 'name="passphrase" type="password"' in page.text
        token = hidden(page.text, "csrf_token")
        form = {"athlete_id": athlete, "csrf_token": token}
        weak = await client.post("/data/export", data={**form, "passphrase": "too short"})
        assert weak.status_code == 422
        assert "at least 12 characters" in weak.text
        good = await client.post("/data/export", data={**form, "passphrase": PASSPHRASE})
        assert good.status_code == 200
        with pyzipper.AESZipFile(io.BytesIO(good.content)) as zf:
            zf.setpassword(PASSPHRASE.encode())
            assert "athlete.json" in zf.namelist()
            zf.read("athlete.json")


async def test_erasure_through_the_panel_leaves_no_byte_and_no_export_behind(
    site: Site, admin: tuple[httpx.AsyncClient, dict[str, str]]
) -> None:
    client, h = admin
    (gone, name), (kept, kept_name) = await history(site)
    blob = await site.store.reader.query("SELECT data FROM traces WHERE athlete_id = ?", [gone])
    trace_bytes = blob[0]["data"][:64]
    # exports of both athletes waiting in the export folder (a download that never finished)
    folder = site.runtime.export_dir
    left = folder / f"0123abcd-gymctl-athlete-{gone}-2026-01-01.zip"
    other = folder / f"4567cdef-gymctl-athlete-{kept}-2026-01-01.zip"
    for path in (left, other):
        path.write_bytes(b"PK leftover export")
    erased = await client.post(f"/api/v1/athletes/{gone}/erase", json={"confirm": name}, headers=h)
    assert erased.status_code == 200, erased.text
    assert erased.json()["rows_deleted"]["export_files"] == 1
    assert not left.exists()
    assert other.exists()
    raw = await asyncio.to_thread(on_disk, site.path)  # while the store runs
    assert name.encode() not in raw
    assert gone.encode() not in raw
    assert trace_bytes not in raw
    assert kept_name.encode() in raw
    assert (await client.get(f"/api/v1/athletes/{gone}")).status_code == 404


async def test_a_panel_start_sweeps_exports_left_by_a_crash(tmp_path: Path) -> None:
    folder = tmp_path / "exports"
    folder.mkdir()
    stale = folder / "deadbeef-gymctl-athlete-a-x1-2026-01-01.zip"
    partial_zip = folder / ".deadbeef-gymctl-athlete-a-x1-2026-01-01.zip.partial"
    unrelated = folder / "notes.txt"
    for path in (stale, partial_zip, unrelated):
        path.write_bytes(b"x")
    bus = EventBus()
    async with Store(tmp_path / "gym.db", bus=bus, settings=StoreConfig()) as store:
        await add_user(store, "alice", "admin", FAST_HASHER.hash(PASSWORD))
        async with BenchGym(bus=bus, store=store) as gym:
            settings = PanelSettings(password_hasher=FAST_HASHER, export_dir=folder)
            app = create_app(gym, store, settings)
            async with app.router.lifespan_context(app):
                assert not stale.exists()
                assert not partial_zip.exists()
                assert unrelated.exists()
