"""What the session runner reads about an athlete: readiness history, load-velocity profile,
heart-rate zones, today's plan; each from the store, each with a pure core that tests use.

Readiness inputs are stored one value a row (``readiness_inputs``: athlete, day, kind,
value); ``kind`` is a field name of ``plans.readiness.DailyInputs`` (``ln_rmssd``,
``resting_hr_bpm``, ``sleep_h``, ``sleep_quality``, ``fatigue``, ``soreness``, ``stress``,
``mood``, ``session_load``, ``warmup_velocity_ms``); ``resting_hr`` and ``rmssd_ms`` are
accepted too. A value the readiness model refuses is skipped with a warning, never fatal:
one bad import must not keep an athlete from training.
"""

from __future__ import annotations

import json
import logging
import math
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, timedelta
from typing import Any

import numpy as np

from controller.store import StoreReader
from kernels.bike import hr_zones, predicted_hr_max
from kernels.errors import InvalidInputError
from kernels.lifts import VelocityMeasure
from kernels.lifts import lift as find_lift
from kernels.lvp import LoadVelocityProfile, fit_profile, prior_one_rm, recency_weights
from plans.exercises import Catalogue, builtin_catalogue
from plans.model import Plan
from plans.plan_io import plan_from_data
from plans.readiness import DailyInputs

log = logging.getLogger(__name__)

#: days of readiness inputs read for today's profile (the longest baseline is 67 days)
HISTORY_DAYS = 120
#: days of load-velocity points used for the profile (older ones weigh almost nothing)
PROFILE_DAYS = 180
_DAILY_FIELDS = frozenset(f.name for f in fields(DailyInputs)) - {"day"}
_INT_FIELDS = frozenset({"sleep_quality", "fatigue", "soreness", "stress", "mood"})
_ALIASES = {"resting_hr": "resting_hr_bpm", "warmup_velocity": "warmup_velocity_ms"}


# -- readiness ------------------------------------------------------------------------------


def daily_inputs(rows: Iterable[Mapping[str, Any]]) -> list[DailyInputs]:
    """Rows of ``readiness_inputs`` as one ``DailyInputs`` per day (the newest value of a
    kind on a day wins; unknown kinds and refused values are skipped with a warning)."""
    by_day: dict[str, dict[str, float | int]] = {}
    for row in sorted(rows, key=lambda r: (r["day"], r.get("ts") or 0.0)):
        kind = str(row["kind"])
        value = float(row["value"])
        if kind == "rmssd_ms":
            if value <= 0:
                continue
            kind, value = "ln_rmssd", math.log(value)
        kind = _ALIASES.get(kind, kind)
        if kind not in _DAILY_FIELDS:
            log.debug("readiness input kind %r is not used by the readiness profile", kind)
            continue
        by_day.setdefault(str(row["day"]), {})[kind] = (
            round(value) if kind in _INT_FIELDS else value
        )
    out: list[DailyInputs] = []
    for day, values in sorted(by_day.items()):
        try:
            parsed = date.fromisoformat(day)
        except ValueError:
            log.warning("readiness inputs of %r skipped: not an ISO date", day)
            continue
        kept = dict(values)
        while True:
            try:
                out.append(DailyInputs(day=parsed, **kept))  # type: ignore[arg-type]
                break
            except InvalidInputError as exc:
                field = (exc.where or "").rsplit(".", 1)[-1]
                if field not in kept:
                    log.warning("readiness inputs of %s skipped: %s", day, exc)
                    break
                log.warning("readiness input skipped: %s", exc)
                del kept[field]
    return out


async def readiness_history(reader: StoreReader, athlete_id: str, today: date) -> list[DailyInputs]:
    since = (today - timedelta(days=HISTORY_DAYS)).isoformat()
    data = await reader.readiness(athlete_id, since_day=since, scores=False)
    return [d for d in daily_inputs(data["inputs"]) if d.day <= today]


# -- load-velocity profile --------------------------------------------------------------------


def mvt_for(exercise: str, catalogue: Catalogue) -> float | None:
    """The exercise's minimal velocity threshold (catalogue first, then the kernels' table)."""
    try:
        mvt = catalogue.get(exercise).mvt_ms
    except KeyError:
        mvt = None
    if mvt is None:
        try:
            mvt = find_lift(exercise).mvt_ms
        except InvalidInputError:
            return None
    return mvt


@dataclass(frozen=True, slots=True)
class LoadModel:
    """How load and velocity relate for one athlete and exercise today.

    ``profile`` is the athlete's own line (stored points, recency-weighted); without one,
    ``prior_one_rm_kg`` scales the exercise's published group equation (a prior). ``source``
    says which, for the decision log.
    """

    exercise: str
    mvt_ms: float | None
    profile: LoadVelocityProfile | None = None
    prior_one_rm_kg: float | None = None
    n_points: int = 0

    @property
    def source(self) -> str:
        if self.profile is not None:
            return "profile"
        return "group_equation" if self.prior_one_rm_kg is not None else "none"

    @property
    def known(self) -> bool:
        return self.source != "none"

    @property
    def one_rm_kg(self) -> float | None:
        if self.profile is not None:
            return self.profile.e1rm_kg
        return self.prior_one_rm_kg

    def load_for_velocity(self, velocity_ms: float) -> float:
        if self.profile is not None:
            return float(self.profile.load_for_velocity(velocity_ms))
        if self.prior_one_rm_kg is not None:
            equation = _equation(self.exercise)
            if equation is not None:
                return float(self.prior_one_rm_kg * equation.percent_1rm(velocity_ms) / 100.0)
        raise InvalidInputError("no profile and no prior", where=self.exercise)

    def velocity_at(self, load_kg: float) -> float | None:
        if self.profile is not None:
            return float(self.profile.velocity_at(load_kg))
        equation = _equation(self.exercise)
        if self.prior_one_rm_kg is not None and equation is not None and self.prior_one_rm_kg:
            try:
                return float(equation.velocity_at(100.0 * load_kg / self.prior_one_rm_kg))
            except InvalidInputError:
                return None
        return None

    def to_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "mvt_ms": self.mvt_ms,
            "e1rm_kg": self.one_rm_kg,
            "n_points": self.n_points,
            **({"profile": self.profile.to_json()} if self.profile is not None else {}),
        }


def _equation(exercise: str) -> Any:
    try:
        lift = find_lift(exercise)
    except InvalidInputError:
        return None
    for measure in (VelocityMeasure.MCV, VelocityMeasure.MPV):
        try:
            return lift.equation(measure)
        except InvalidInputError:
            continue
    return None


def load_model(
    points: Sequence[Mapping[str, Any]], exercise: str, *, mvt_ms: float | None, now: float
) -> LoadModel:
    """The athlete's profile from stored points (``load``, ``velocity_ms``, ``ts``), or the
    group-equation prior from the newest point when they do not make a line."""
    usable = [
        p
        for p in points
        if p["load"] > 0 and p["velocity_ms"] > 0 and now - p["ts"] <= PROFILE_DAYS * 86400.0
    ]
    if usable:
        loads = np.array([p["load"] for p in usable], dtype=np.float64)
        velocities = np.array([p["velocity_ms"] for p in usable], dtype=np.float64)
        ages = np.array([max(0.0, (now - p["ts"]) / 86400.0) for p in usable])
        try:
            profile = fit_profile(loads, velocities, mvt_ms=mvt_ms, weights=recency_weights(ages))
        except InvalidInputError as exc:
            log.info("no profile for %s from %d points: %s", exercise, len(usable), exc)
        else:
            if mvt_ms is None or (profile.e1rm_kg is not None and profile.e1rm_kg > 0):
                return LoadModel(exercise, mvt_ms, profile=profile, n_points=len(usable))
        newest = max(usable, key=lambda p: p["ts"])
        prior = prior_from_set(exercise, newest["load"], newest["velocity_ms"])
        if prior is not None:
            return LoadModel(exercise, mvt_ms, prior_one_rm_kg=prior, n_points=len(usable))
    return LoadModel(exercise, mvt_ms)


def prior_from_set(exercise: str, load_kg: float, velocity_ms: float) -> float | None:
    """A 1RM from one set's best rep by the exercise's group equation, if it has one."""
    try:
        lift = find_lift(exercise)
    except InvalidInputError:
        return None
    for measure in (VelocityMeasure.MCV, VelocityMeasure.MPV):
        try:
            return prior_one_rm(lift, load_kg, velocity_ms, measure)
        except InvalidInputError:
            continue
    return None


async def lv_points(reader: StoreReader, athlete_id: str, exercise: str) -> list[dict[str, Any]]:
    return await reader.lv_points(athlete_id, exercise)


# -- heart-rate zones ----------------------------------------------------------------------


def zone_band(
    zone: int, *, birth_year: int | None, resting_hr_bpm: float | None, today: date
) -> tuple[float, float]:
    """Heart-rate band (bpm) of zone 1-5: Karvonen with a resting HR, else % of HRmax;
    HRmax predicted from age (Tanaka 2001; 35 years when the birth year is unknown)."""
    age = today.year - birth_year if birth_year else 35
    hr_max = predicted_hr_max(min(max(age, 5), 110))
    rest = resting_hr_bpm if resting_hr_bpm is not None and resting_hr_bpm < hr_max else None
    band = hr_zones(hr_max, rest)[min(max(zone, 1), 5) - 1]
    return band.low_bpm, band.high_bpm


# -- the athlete and today's plan -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Athlete:
    id: str
    display_name: str
    birth_year: int | None = None
    body_mass_kg: float | None = None
    sex: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Athlete:
        return cls(
            id=str(row["id"]),
            display_name=str(row["display_name"]),
            birth_year=row.get("birth_year"),
            body_mass_kg=row.get("body_mass_kg"),
            sex=row.get("sex"),
        )


@dataclass(frozen=True, slots=True)
class Assignment:
    plan: Plan
    plan_id: str
    session: str  #: the name of today's session of the plan


def pick_session(plan: Plan, *, today: date, done: int) -> str:
    """Today's session: the one planned for this weekday, else the next in rotation."""
    weekday = today.isoweekday()
    for session in plan.sessions:
        if session.day == weekday:
            return session.name
    return plan.sessions[done % len(plan.sessions)].name


def _assignments(conn: sqlite3.Connection, athlete_id: str, today: str) -> list[tuple[Any, ...]]:
    rows = conn.execute(
        "SELECT p.id, p.body_json, "
        "(SELECT count(*) FROM sessions s WHERE s.athlete_id = a.athlete_id "
        " AND s.plan_id = p.id AND s.status = 'done') "
        "FROM plan_assignments a JOIN plans p ON p.id = a.plan_id "
        "WHERE a.athlete_id = ? AND a.start_day <= ? AND (a.end_day IS NULL OR a.end_day >= ?) "
        "AND p.archived = 0 ORDER BY a.start_day DESC, a.id DESC",
        (athlete_id, today, today),
    ).fetchall()
    return [tuple(row) for row in rows]


def fits(plan: Plan, session: str, kinds: frozenset[str], catalogue: Catalogue) -> bool:
    """Whether a station with equipment ``kinds`` can run any block of the session."""
    for block in plan.session(session).blocks:
        try:
            needs = {e.value for e in catalogue.get(block.exercise).equipment}
        except KeyError:
            continue
        if needs & kinds:
            return True
    return False


async def todays_assignment(
    reader: StoreReader,
    athlete_id: str,
    today: date,
    *,
    kinds: frozenset[str] | None = None,
    catalogue: Catalogue | None = None,
    session: str | None = None,
) -> Assignment | None:
    """The plan assigned to the athlete today whose due session fits the station (the
    newest assignment first), and which of its sessions is due."""
    rows = await reader.read(lambda conn: _assignments(conn, athlete_id, today.isoformat()))
    cat = catalogue or builtin_catalogue()
    for plan_id, body, done in rows:
        try:
            plan = plan_from_data(json.loads(body), source=f"plan {plan_id}")
        except InvalidInputError as exc:
            log.warning("assigned plan %s of %s cannot be used: %s", plan_id, athlete_id, exc)
            continue
        name = session or pick_session(plan, today=today, done=int(done))
        try:
            plan.session(name)
        except KeyError:
            continue
        if kinds is None or fits(plan, name, kinds, cat):
            return Assignment(plan, str(plan_id), name)
    return None


async def athlete(reader: StoreReader, athlete_id: str) -> Athlete:
    return Athlete.from_row(await reader.athlete(athlete_id))


async def resting_hr(reader: StoreReader, athlete_id: str, today: date) -> float | None:
    """The newest resting heart rate of the last two weeks."""
    since = (today - timedelta(days=14)).isoformat()
    rows = await reader.query(
        "SELECT value FROM readiness_inputs WHERE athlete_id = ? AND day >= ? "
        "AND kind IN ('resting_hr_bpm', 'resting_hr') ORDER BY day DESC, ts DESC LIMIT 1",
        [athlete_id, since],
    )
    return float(rows[0]["value"]) if rows else None
