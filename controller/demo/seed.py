"""The demo database: athletes with 30-60 days of history, so readiness and profiles mean
something and differ between them.

For each emulated athlete (``equipment_adapters.emulators.athlete``) it writes, from the
same model the emulators use:

* morning lnRMSSD, resting heart rate and sleep every day, with day-to-day noise; over the
  last week lnRMSSD moves with the athlete's readiness of today (by ``readiness - 1``: Ben,
  at 0.88, ends up about two SDs below his normal range), resting HR rises and sleep
  shortens on poor days; today's wellness answers; the daily training load;
* a strength session every third day with four sets of squat and bench at 50-80 % of the
  athlete's 1RM, the best rep's mean velocity from the model on that day (noise included):
  ``sessions``, ``sets`` and ``lv_points`` rows, from which today's profiles are fitted;
* the demo plans, assigned to everyone.

Values are deterministic (seeded by athlete and day), and seeding is idempotent: a day
already present is left alone, so a database reused on a later day only gains the new days.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from sqlite_utils import Database

from controller.demo.plans import DEMO_PLANS
from controller.store import people
from equipment_adapters.emulators.athlete import SimulatedAthlete

HISTORY_DAYS = 45
DEMO_USER = "demo"
LIFTS = ("back_squat", "bench_press")
PERCENTS = (50.0, 60.0, 70.0, 80.0)
WELLNESS = ("fatigue", "soreness", "stress", "mood")


def _noon(day: date) -> float:
    return datetime(day.year, day.month, day.day, 12).timestamp()


def _rng(athlete: SimulatedAthlete, day: date, salt: int = 0) -> np.random.Generator:
    return np.random.default_rng([athlete.seed, day.toordinal(), salt])


def _athlete_id(db: Database, athlete: SimulatedAthlete, today: date) -> str:
    ref = f"demo:{athlete.athlete_id}"
    row = db.execute("SELECT id FROM athletes WHERE external_ref = ?", [ref]).fetchone()
    if row is not None:
        return str(row[0])
    return people.create_athlete(
        db,
        display_name=athlete.name,
        external_ref=ref,
        sex=athlete.sex if athlete.sex in ("female", "male") else "other",
        birth_year=today.year - athlete.age,
        body_mass_kg=athlete.body_mass_kg,
        notes="demo athlete",
    )


def readiness_inputs(athlete: SimulatedAthlete, day: date, today: date) -> dict[str, float]:
    """One day's morning readings of an emulated athlete (deterministic)."""
    ago = (today - day).days
    r = athlete.readiness
    rng = _rng(athlete, day)
    poor = max(0.0, 1.0 - r)
    values: dict[str, float] = {
        "ln_rmssd": math.log(athlete.rmssd_baseline_ms)
        + float(rng.normal(0.0, 0.07))
        + ((r - 1.0) if ago < 7 else 0.0),
        "resting_hr_bpm": athlete.hr_rest_bpm
        + float(rng.normal(0.0, 1.5))
        + (25.0 * poor if ago < 2 else 0.0),
        "sleep_h": 7.4 + float(rng.normal(0.0, 0.45)) - (6.0 * poor if ago == 0 else 0.0),
    }
    values["ln_rmssd"] = round(min(6.4, max(0.6, values["ln_rmssd"])), 4)
    values["resting_hr_bpm"] = round(values["resting_hr_bpm"], 1)
    values["sleep_h"] = round(min(12.0, max(3.0, values["sleep_h"])), 2)
    if ago == 0:
        values["sleep_quality"] = 3.0 if r < 0.95 else 4.0
        for k, item in enumerate(WELLNESS):
            score = 3.8 + (r - 1.0) * 8.0 + float(_rng(athlete, day, k + 1).normal(0.0, 0.3))
            values[item] = float(round(min(5.0, max(1.0, score))))
    values["session_load"] = round(350.0 + float(rng.normal(0.0, 40.0))) if ago % 3 == 2 else 0.0
    return values


def history_sets(athlete: SimulatedAthlete, day: date) -> list[tuple[str, float, float]]:
    """(lift, load, best mean velocity) of a seeded training day."""
    out: list[tuple[str, float, float]] = []
    rng = _rng(athlete, day, 99)
    that_day = dataclasses.replace(athlete, readiness=1.0 + float(rng.normal(0.0, 0.02)))
    for lift in LIFTS:
        if lift not in athlete.lifts:
            continue
        one_rm = athlete.lift(lift).one_rm_kg
        for percent in PERCENTS:
            load = round(one_rm * percent / 100.0 / 2.5) * 2.5
            velocity = that_day.fresh_velocity(lift, load) + float(rng.normal(0.0, 0.015))
            out.append((lift, load, round(max(0.05, velocity), 4)))
    return out


def seed(
    db: Database,
    *,
    athletes: Sequence[SimulatedAthlete],
    today: date,
    days: int = HISTORY_DAYS,
) -> dict[str, str]:
    """Seed (or top up) the demo database; returns emulator athlete id -> store id."""
    now = time.time()
    for kind, body in DEMO_PLANS.items():
        exists = db.execute("SELECT 1 FROM plans WHERE id = ?", [body["name"]]).fetchone()
        if exists is None:
            people.save_plan(db, plan_id=body["name"], name=body["title"], body=body, by="demo")
        del kind
    ids: dict[str, str] = {}
    for athlete in athletes:
        athlete_id = _athlete_id(db, athlete, today)
        ids[athlete.athlete_id] = athlete_id
        for body in DEMO_PLANS.values():
            assigned = db.execute(
                "SELECT 1 FROM plan_assignments WHERE athlete_id = ? AND plan_id = ?",
                [athlete_id, body["name"]],
            ).fetchone()
            if assigned is None:
                people.assign_plan(
                    db,
                    athlete_id=athlete_id,
                    plan_id=body["name"],
                    start_day=(today - timedelta(days=days)).isoformat(),
                    by="demo",
                )
        known = {
            str(row[0])
            for row in db.execute(
                "SELECT DISTINCT day FROM readiness_inputs WHERE athlete_id = ?", [athlete_id]
            )
        }
        rows: list[dict[str, Any]] = []
        for ago in range(days, -1, -1):
            day = today - timedelta(days=ago)
            if day.isoformat() in known:
                continue
            for kind, value in readiness_inputs(athlete, day, today).items():
                rows.append(
                    {
                        "athlete_id": athlete_id,
                        "day": day.isoformat(),
                        "kind": kind,
                        "value": value,
                        "unit": _UNITS.get(kind, ""),
                        "source": "demo",
                        "ts": min(now, _noon(day) - 5 * 3600.0),
                    }
                )
            if ago % 3 == 2:
                _training_day(db, athlete, athlete_id, day)
        if rows:
            db.table("readiness_inputs").insert_all(rows)
    return ids


_UNITS = {
    "ln_rmssd": "ln(ms)",
    "resting_hr_bpm": "bpm",
    "sleep_h": "h",
    "sleep_quality": "1-5",
    "session_load": "AU",
    **dict.fromkeys(WELLNESS, "1-5"),
}


def _training_day(db: Database, athlete: SimulatedAthlete, athlete_id: str, day: date) -> None:
    session_id = f"seed-{athlete_id}-{day.isoformat()}"
    if db.execute("SELECT 1 FROM sessions WHERE id = ?", [session_id]).fetchone():
        return
    start = _noon(day) + 5 * 3600.0
    sets = history_sets(athlete, day)
    db.execute(
        "INSERT INTO sessions (id, athlete_id, station_id, plan_id, started, ended, status, "
        "summary_json) VALUES (?, ?, NULL, ?, ?, ?, 'done', ?)",
        [
            session_id,
            athlete_id,
            DEMO_PLANS["rack"]["name"],
            start,
            start + 3000.0,
            f'{{"seeded": true, "sets": {len(sets)}}}',
        ],
    )
    for index, (lift, load, velocity) in enumerate(sets):
        set_id = f"{session_id}-s{index + 1:02d}"
        ts = start + 300.0 * (index + 1)
        db.execute(
            "INSERT INTO sets (id, session_id, athlete_id, station_id, exercise, set_index, load,"
            " unit, target_load, target_reps, reps, stop, velocity_loss_pct, best_velocity_ms,"
            " mean_velocity_ms, started, ended) VALUES (?, ?, ?, NULL, ?, ?, ?, 'kg', ?, 3, 3,"
            " 'rep_target', NULL, ?, ?, ?, ?)",
            [
                set_id,
                session_id,
                athlete_id,
                lift,
                index,
                load,
                load,
                velocity,
                velocity,
                ts - 60.0,
                ts,
            ],
        )
        db.execute(
            "INSERT INTO lv_points (athlete_id, exercise, load, velocity_ms, session_id, set_id,"
            " ts) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [athlete_id, lift, load, velocity, session_id, set_id, ts],
        )


def demo_login(db: Database, *, password_hash: str) -> None:
    """The panel account of the demo (an admin), with a password new on every run: the
    demo prints it; there is no default password."""
    row = db.execute("SELECT 1 FROM staff_users WHERE username = ?", [DEMO_USER]).fetchone()
    if row is None:
        people.create_staff_user(db, username=DEMO_USER, role="admin", password_hash=password_hash)
    else:
        people.set_password_hash(db, username=DEMO_USER, password_hash=password_hash)
