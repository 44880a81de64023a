"""Running the demo: equipment, controller, seeded database and athletes, then a summary.

Demo time: reps take the time the emulated athletes take (real time, over Modbus and BLE);
rests between sets are shortened to ``rest_scale`` of the plan's (a twentieth by default,
at least three seconds), and the demo's plans are short. Nothing else is accelerated.
"""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher

from controller.demo.athletes import Athletes
from controller.demo.seed import DEMO_USER, demo_login, seed
from controller.demo.world import DemoWorld
from controller.errors import StoreError
from controller.gym import Gym, GymOptions, PanelFactory
from controller.session_runner import SessionTiming
from controller.store.db import open_reader


@dataclass(frozen=True, slots=True)
class DemoOptions:
    stations: int = 4
    duration_s: float | None = None  #: None: until stopped
    port: int = 8000  #: the panel's
    mqtt_port: int = 1883  #: the embedded broker's
    db: Path = Path("gymctl-demo.db")
    panel: bool = True
    rest_scale: float = 0.05
    min_rest_s: float = 3.0


@dataclass(slots=True)
class DemoHandle:
    """What a caller (a test, the command line) can reach while the demo runs."""

    gym: Gym
    world: DemoWorld
    athletes: Athletes
    started: float
    login: tuple[str, str] | None = None  #: the panel's demo account (user, password)
    stop: asyncio.Event = field(default_factory=asyncio.Event)


def timing(options: DemoOptions) -> SessionTiming:
    return SessionTiming(
        rest_scale=options.rest_scale,
        min_rest_s=options.min_rest_s,
        get_ready_s=1.0,
        first_rep_timeout_s=20.0,
        idle_timeout_s=8.0,
        load_ready_timeout_s=60.0,
        recovery_timeout_s=120.0,
    )


async def run_demo(
    options: DemoOptions,
    *,
    on_start: Callable[[DemoHandle], None] | None = None,
    panel_factory: PanelFactory | None = None,
    rr_factory: Callable[[], Any] | None = None,
) -> dict[str, Any]:
    """Run the demo until ``duration_s`` or ``handle.stop``; returns the summary."""
    started = time.time()
    db = options.db.resolve()
    async with DemoWorld(
        stations=options.stations,
        mqtt_port=options.mqtt_port,
        panel_port=options.port,
        db_path=db,
        panel=options.panel,
    ) as world:
        assert world.config is not None
        gym = Gym(
            world.config,
            make_adapter=world.make_adapter(),
            options=GymOptions(
                mqtt_port=options.mqtt_port,
                db_path=db,
                panel=options.panel,
                panel_port=options.port,
                timing=timing(options),
            ),
            panel_factory=panel_factory,
            rr_factory=rr_factory,
        )
        async with gym:
            ids = await gym.store.writer.call(
                partial(seed, athletes=world.athletes, today=date.today()), label="demo seed"
            )
            login: tuple[str, str] | None = None
            if gym.panel is not None:
                password = secrets.token_urlsafe(12)
                hashed = await asyncio.to_thread(PasswordHasher().hash, password)
                await gym.store.writer.call(partial(demo_login, password_hash=hashed))
                login = (DEMO_USER, password)
            async with Athletes(gym, world, ids) as athletes:
                handle = DemoHandle(gym, world, athletes, started, login)
                if on_start is not None:
                    on_start(handle)
                try:
                    async with asyncio.timeout(options.duration_s):
                        await handle.stop.wait()
                except TimeoutError:
                    pass
    summary = await asyncio.to_thread(summarise, db, since=started, stations=len(world.specs))
    summary["duration_s"] = round(time.time() - started, 1)
    summary["mqtt"] = f"127.0.0.1:{options.mqtt_port}"
    summary["panel"] = f"http://127.0.0.1:{options.port}" if options.panel else None
    return summary


def summarise(db: Path, *, since: float, stations: int) -> dict[str, Any]:
    """What the run left in the database (rows from ``since`` on)."""
    conn = open_reader(db)
    try:

        def count(sql: str) -> int:
            return int(conn.execute(sql, (since,)).fetchone()[0])

        by_kind = {
            str(kind): int(n)
            for kind, n in conn.execute(
                "SELECT kind, count(*) FROM decisions WHERE ts >= ? GROUP BY kind ORDER BY kind",
                (since,),
            )
        }
        changed = {
            str(kind): int(n)
            for kind, n in conn.execute(
                "SELECT kind, count(*) FROM decisions WHERE ts >= ? AND before_json != after_json"
                " GROUP BY kind",
                (since,),
            )
        }
        return {
            "stations": stations,
            "sessions": count("SELECT count(*) FROM sessions WHERE started >= ?"),
            "sessions_done": count(
                "SELECT count(*) FROM sessions WHERE started >= ? AND status = 'done'"
            ),
            "sets": count("SELECT count(*) FROM sets WHERE started >= ?"),
            "reps": count("SELECT count(*) FROM reps WHERE ts >= ?"),
            "decisions": count("SELECT count(*) FROM decisions WHERE ts >= ?"),
            "decisions_by_kind": by_kind,
            "load_changes_by_kind": changed,
            "velocity_loss_stops": count(
                "SELECT count(*) FROM sets WHERE started >= ? AND stop = 'velocity_loss'"
            ),
            "traces": count("SELECT count(*) FROM traces WHERE ts >= ?"),
            "db": str(db),
        }
    except sqlite3.Error as exc:
        raise StoreError(f"{db}: cannot read the summary: {exc}") from exc
    finally:
        conn.close()
