"""History for the panel's tests and screenshots, recorded the way the controller records it.

The events a site publishes over weeks (readiness scores and inputs, sessions, sets, reps,
load-velocity points, decisions), with the athlete model's velocities, are handed to the
real store's writer (``record``: the same rows as the bus recorder writes), so the athlete
page reads what a site that has been running for weeks would hold. They do not go on the
bus: they are history, not what the stations are doing now.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from functools import partial

from controller.events import (
    DecisionEvent,
    LoadVelocityPoint,
    ReadinessInput,
    ReadinessScored,
    RepEvent,
    SessionEnded,
    SessionStarted,
    SetEvent,
    SetStop,
)
from controller.store import Store
from controller.store.people import Role, create_athlete, create_staff_user, save_plan
from equipment_adapters.emulators.athlete import SimulatedAthlete
from kernels.reps import RepMetrics
from plans.decisions import Decision, DecisionKind

DAY_S = 86_400.0


@dataclass(frozen=True, slots=True)
class SeededAthlete:
    athlete_id: str
    name: str
    model: SimulatedAthlete


def _metrics(index: int, velocity: float) -> RepMetrics:
    return RepMetrics(
        index=index,
        start_s=index * 3.0,
        end_s=index * 3.0 + 2.4,
        concentric_start_s=index * 3.0 + 1.5,
        concentric_end_s=index * 3.0 + 2.1,
        rom_m=0.5,
        mean_velocity_ms=velocity,
        mean_propulsive_velocity_ms=velocity * 1.05,
        peak_velocity_ms=velocity * 1.57,
        concentric_s=0.6,
        eccentric_s=1.2,
        time_to_peak_s=0.3,
    )


def readiness_components(z_hrv: float, sleep_h: float, soreness: int) -> tuple[str, dict]:  # type: ignore[type-arg]
    state = "green" if z_hrv > -0.5 and sleep_h >= 7 else "amber" if z_hrv > -1.5 else "red"
    direction = "above" if z_hrv >= 0 else "below"
    return state, {
        "state": state,
        "confidence": 0.85,
        "hrv": {
            "reason": f"7-day lnRMSSD {abs(z_hrv):.1f} SD {direction} your normal range",
            "z": round(z_hrv, 2),
        },
        "sleep": {"reason": f"slept {sleep_h:.1f} h (your usual 7.5 h)", "hours": sleep_h},
        "soreness": {"reason": f"soreness {soreness} of 5", "score": soreness},
    }


def publish_history(
    store: Store,
    athlete: SeededAthlete,
    *,
    days: int = 60,
    today: dt.date | None = None,
    station_id: str = "rack-1",
    exercise: str = "back_squat",
) -> None:
    """Sixty days of readiness and a session every third day, for one athlete."""
    today = today or dt.date.today()
    model = athlete.model
    one_rm = model.one_rm_today(exercise)
    for n in range(days, -1, -1):
        day = today - dt.timedelta(days=n)
        ts = dt.datetime.combine(day, dt.time(7, 0)).timestamp()
        wave = math.sin(n / 6.0) + 0.3 * math.cos(n / 2.3)
        z_hrv = 0.8 * wave - (0.9 if n < 3 and model.readiness < 1 else 0.0)
        ln_rmssd = math.log(model.rmssd_baseline_ms) + 0.12 * z_hrv
        sleep_h = 7.4 + 0.6 * math.cos(n / 3.1)
        soreness = 2 + int(wave < -0.4)
        state, components = readiness_components(z_hrv, sleep_h, soreness)
        score = max(5.0, min(98.0, 70 + 15 * wave))
        for kind, value, unit in (
            ("ln_rmssd", ln_rmssd, "ln(ms)"),
            ("sleep_h", sleep_h, "h"),
            ("soreness", float(soreness), "1-5"),
        ):
            store.writer.record(
                ReadinessInput(
                    station_id=None,
                    ts=ts,
                    athlete_id=athlete.athlete_id,
                    day=day.isoformat(),
                    kind=kind,
                    value=value,
                    unit=unit,
                    source="strap",
                )
            )
        store.writer.record(
            ReadinessScored(
                station_id=None,
                ts=ts + 60,
                athlete_id=athlete.athlete_id,
                day=day.isoformat(),
                score=score,
                components=components,
            )
        )
        if n % 3 or n == 0:
            continue
        session = f"hist-{athlete.athlete_id}-{n}"
        start = ts + 3 * 3600
        store.writer.record(
            SessionStarted(
                station_id=station_id, ts=start, session_id=session, athlete_id=athlete.athlete_id
            )
        )
        progress = 1.0 + 0.002 * (days - n)  # a little stronger week after week
        for set_index, pct in enumerate((0.55, 0.65, 0.75, 0.82)):
            load = round(one_rm * pct / 2.5) * 2.5
            set_id = f"{session}-{set_index}"
            velocities = [model.rep_velocity(exercise, load / progress, r) for r in range(5)]
            set_ts = start + 300 * (set_index + 1)
            for r, v in enumerate(velocities):
                store.writer.record(
                    RepEvent(
                        station_id=station_id,
                        ts=set_ts + 3 * r,
                        session_id=session,
                        set_id=set_id,
                        athlete_id=athlete.athlete_id,
                        exercise=exercise,
                        set_index=set_index,
                        rep_index=r,
                        load=load,
                        unit="kg",
                        metrics=_metrics(r, v),
                        velocity_loss_pct=100 * (1 - v / velocities[0]),
                    )
                )
            store.writer.record(
                SetEvent(
                    station_id=station_id,
                    ts=set_ts + 20,
                    session_id=session,
                    set_id=set_id,
                    athlete_id=athlete.athlete_id,
                    exercise=exercise,
                    set_index=set_index,
                    load=load,
                    unit="kg",
                    reps=5,
                    stop=SetStop.REP_TARGET,
                    started_ts=set_ts,
                    target_reps=5,
                    velocity_loss_pct=100 * (1 - velocities[-1] / velocities[0]),
                    best_velocity_ms=velocities[0],
                    mean_velocity_ms=sum(velocities) / 5,
                )
            )
            store.writer.record(
                LoadVelocityPoint(
                    station_id=station_id,
                    ts=set_ts + 21,
                    athlete_id=athlete.athlete_id,
                    exercise=exercise,
                    load=load,
                    velocity_ms=velocities[0],
                    session_id=session,
                    set_id=set_id,
                )
            )
        adjust = -5.0 if state != "green" else 0.0
        if adjust:
            store.writer.record(
                DecisionEvent(
                    station_id=station_id,
                    ts=start + 1,
                    decision=Decision(
                        DecisionKind.READINESS_ADJUSTMENT,
                        "load_kg",
                        100.0,
                        100.0 + adjust,
                        "readiness_state_load_scale",
                        f"readiness {state}: today's loads 5 % lighter",
                        {"score": round(score, 1), "state": state},
                    ),
                    athlete_id=athlete.athlete_id,
                    session_id=session,
                )
            )
        store.writer.record(
            DecisionEvent(
                station_id=station_id,
                ts=start + 1300,
                decision=Decision(
                    DecisionKind.AUTOREGULATION,
                    "load_kg",
                    100.0,
                    102.5,
                    "first_rep_velocity",
                    "first rep 0.05 m/s faster than the zone: next set +2.5 kg",
                    {"first_rep_ms": 0.68, "target_ms": 0.63},
                ),
                athlete_id=athlete.athlete_id,
                session_id=session,
            )
        )
        store.writer.record(
            SessionEnded(
                station_id=station_id,
                ts=start + 1500,
                session_id=session,
                athlete_id=athlete.athlete_id,
                status="done",
            )
        )


PLAN_BODY = {
    "name": "strength-vl20",
    "title": "Strength block, VL 20 %",
    "description": "Heavy squats, each set stopped at 20 % velocity loss.",
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
                },
                {
                    "type": "strength",
                    "exercise": "bench_press",
                    "sets": 3,
                    "reps": {"min": 4, "max": 6},
                    "load": {"kind": "velocity_zone", "min_ms": 0.5, "max_ms": 0.6},
                    "velocity_loss_stop_pct": 20,
                    "rest_s": 150,
                },
            ],
        }
    ],
}


async def add_athletes(store: Store, models: list[SimulatedAthlete]) -> list[SeededAthlete]:
    out = []
    for model in models:
        athlete_id = await store.writer.call(
            partial(
                create_athlete,
                display_name=model.name,
                sex=model.sex if model.sex in ("female", "male") else "other",
                body_mass_kg=model.body_mass_kg,
            )
        )
        out.append(SeededAthlete(athlete_id, model.name, model))
    return out


async def add_user(store: Store, username: str, role: Role, password_hash: str) -> int:
    user_id: int = await store.writer.call(
        partial(create_staff_user, username=username, role=role, password_hash=password_hash)
    )
    return user_id


async def add_plan(store: Store, plan_id: str = "strength-vl20", by: str = "seed") -> str:
    await store.writer.call(
        partial(save_plan, plan_id=plan_id, name=str(PLAN_BODY["title"]), body=PLAN_BODY, by=by)
    )
    return plan_id
