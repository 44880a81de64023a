from __future__ import annotations

import asyncio
import time
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from controller.bus import EventBus
from controller.config import StoreConfig, parse_config
from controller.errors import NotFoundError, StoreError
from controller.events import Alert, ReadinessInput
from controller.store import Store, StoreReader, TraceRecord
from controller.store.people import (
    create_api_token,
    create_staff_user,
    create_web_session,
    delete_staff_user,
    hash_secret,
    new_athlete_id,
    new_secret,
    revoke_api_token,
    set_disabled,
    sync_site,
)
from controller.store.retention import DAY_S
from kernels.errors import InvalidInputError

from .conftest import rep, rows


async def test_the_store_records_what_the_bus_carries(db_path: Path) -> None:
    bus = EventBus()
    async with Store(db_path, bus=bus) as store:
        for n in range(30):
            bus.publish(rep(n))
        await asyncio.sleep(0)  # the recorder moves them to the writer
        await store.writer.flush()
        assert len(await store.reader.reps()) == 30
        for n in range(30, 40):
            bus.publish(rep(n))
    # published just before closing: still written on the way out
    assert rows(db_path, "SELECT count(*) FROM reps") == [(40,)]


async def test_writer_alerts_go_on_the_bus_and_into_the_alerts_table(db_path: Path) -> None:
    bus = EventBus()
    with bus.subscribe("panel", types=[Alert]) as panel:
        async with Store(db_path, bus=bus, settings=StoreConfig(max_size_mb=1)) as store:
            store.writer.retry_s = store.writer.retry_max_s = 0.05
            rng = np.random.default_rng(3)
            while store.writer.writable:
                store.writer.record_trace(
                    TraceRecord("d", "position", 0.0, 0.001, rng.random(20_000))
                )
                await asyncio.sleep(0.02)
            alert = await asyncio.wait_for(panel.get(), 2.0)
            assert isinstance(alert, Alert)
            assert alert.code == "store_unwritable"
            store.writer.set_size_limit(None)
            await asyncio.wait_for(store.writer.flush(), 10.0)
            await asyncio.sleep(0)
            await store.writer.flush()
    assert rows(db_path, "SELECT code, cleared FROM alerts ORDER BY id") == [
        ("store_unwritable", 0),
        ("store_unwritable", 1),
    ]


async def test_reads_cannot_write(db_path: Path) -> None:
    async with Store(db_path):
        pass
    reader = StoreReader(db_path)
    with pytest.raises(StoreError, match="read failed"):
        await reader.query("DELETE FROM reps")
    with pytest.raises(StoreError, match="no such database"):
        await StoreReader(db_path.with_name("absent.db")).athletes()


async def test_staff_tokens_and_web_sessions(db_path: Path) -> None:
    async with Store(db_path) as store:
        w, r = store.writer, store.reader
        uid = await w.call(
            partial(
                create_staff_user, username="ana", role="admin", password_hash="$argon2id$v=19$..."
            )
        )
        with pytest.raises(InvalidInputError, match="'ANA' is taken"):
            await w.call(
                partial(create_staff_user, username="ANA", role="coach", password_hash="x")
            )
        with pytest.raises(InvalidInputError, match="role: must be one of"):
            await w.call(
                partial(
                    create_staff_user,
                    username="bo",
                    role="root",  # type: ignore[arg-type]
                    password_hash="x",
                )
            )
        user = await r.staff_user("ana")
        assert user["role"] == "admin"
        assert user["password_hash"].startswith("$argon2id$")
        token = new_secret()
        token_id = await w.call(
            partial(create_api_token, user_id=uid, name="scoreboard", token_hash=hash_secret(token))
        )
        assert (await r.api_token(hash_secret(token)))["username"] == "ana"
        assert token not in str(rows(db_path, "SELECT * FROM api_tokens"))
        await w.call(partial(revoke_api_token, token_id=token_id))
        with pytest.raises(NotFoundError):
            await r.api_token(hash_secret(token))
        cookie = new_secret()
        await w.call(
            partial(
                create_web_session,
                user_id=uid,
                session_hash=hash_secret(cookie),
                expires=time.time() + 3600,
            )
        )
        assert (await r.web_session(hash_secret(cookie)))["role"] == "admin"
        await w.call(partial(set_disabled, username="ana", disabled=True))
        with pytest.raises(NotFoundError):  # disabling a user ends their sessions
            await r.web_session(hash_secret(cookie))
        await w.call(partial(delete_staff_user, username="ana"))
        with pytest.raises(NotFoundError):
            await r.staff_user("ana")
        assert rows(db_path, "SELECT count(*) FROM api_tokens") == [(0,)]  # cascaded


async def test_retention_purges_old_traces_and_readiness_inputs(db_path: Path) -> None:
    now = time.time()
    settings = StoreConfig(trace_retention_days=30, readiness_retention_days=60)
    # no periodic retention: its first pass at start could purge these rows before ours
    async with Store(db_path, settings=settings, retention=False) as store:
        w = store.writer
        for age_days in (1, 29, 31, 90):
            w.record_trace(
                TraceRecord("d", "position", 0.0, 0.01, np.zeros(10), ts=now - age_days * DAY_S)
            )
            w.record(
                ReadinessInput(
                    station_id=None,
                    athlete_id="a-1",
                    day="2025-01-01",
                    kind="ln_rmssd",
                    value=4.0,
                    unit="ln(ms)",
                    ts=now - age_days * DAY_S,
                )
            )
        for n in range(3):
            w.record(rep(n))
        purged = await store.purge_expired(now=now)
    assert (purged.traces, purged.readiness_inputs) == (2, 1)
    assert rows(db_path, "SELECT count(*) FROM traces") == [(2,)]
    assert rows(db_path, "SELECT count(*) FROM readiness_inputs") == [(3,)]
    assert rows(db_path, "SELECT count(*) FROM reps") == [(3,)]  # derived data is kept


async def test_site_sync_and_counts(db_path: Path) -> None:
    config = parse_config(
        '[site]\nname="g"\nid="g"\n[[stations]]\nid="rack-1"\n[stations.devices.rack]\n'
        'host="10.0.0.2"\nmap="m"\n[stations.devices.hr_strap]\nname="H10"\n'
    )
    async with Store(db_path) as store:
        await store.writer.call(partial(sync_site, config=config))
        counts = await store.reader.table_counts()
        assert (counts["stations"], counts["devices"]) == (1, 2)
        assert await store.reader.schema_version() >= 1
    assert rows(db_path, "SELECT id, transport, address FROM devices ORDER BY id") == [
        ("rack-1-hr-strap", "ble", "name=H10"),
        ("rack-1-rack", "modbus_tcp", "10.0.0.2:502/1"),
    ]


def test_pseudonymous_ids_are_random() -> None:
    ids = {new_athlete_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("a-") and len(i) == 12 for i in ids)


async def test_an_error_in_the_body_comes_out_as_raised(tmp_path: Path) -> None:
    """Not wrapped in an ExceptionGroup by the store's task group."""
    with pytest.raises(KeyError, match="mine"):
        async with Store(tmp_path / "gym.db"):
            raise KeyError("mine")
