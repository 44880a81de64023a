"""The session runner: one athlete's session of the day at one station, set by set.

1. **Check-in.** The athlete's caps go to the safety envelope; ``SessionStarted``.
2. **Readiness.** Today's readiness from the stored inputs (``plans.readiness``), recorded
   as ``ReadinessScored`` with each component's reason.
3. **Today's plan.** The assigned plan's session adjusted to readiness
   (``plans.adjustment``); every change is a ``READINESS_ADJUSTMENT`` decision. A rest day
   ends the session here.
4. **Each set.** The load comes from the athlete's load-velocity profile (stored points;
   the exercise's group equation when there are none), goes through the drive (the envelope
   announces an increase and waits for the athlete's confirmation, ramps, clamps); the set
   is *ready* once the device holds the load, then *active* until the velocity-loss
   threshold, the rep target or the athlete stops (no rep for ``idle_timeout_s``). Each rep
   gets its cue from the set supervisor.
5. **Between sets.** The next set's load from this set's first reps
   (``plans.autoregulation``, an ``AUTOREGULATION`` decision, kept or changed), requested at
   once so any ramp or announcement happens during the rest; a rest countdown on the
   displays; the set's raw traces go to the store, compressed; its best rep becomes a
   load-velocity point. Persistent left/right asymmetry raises a ``FLAG`` decision.
6. **Bike blocks.** Each work interval is a set at an ERG power; intervals held to a
   heart-rate zone run ``controller.hr_erg.HrErgRunner`` through the drive.
7. **Faults.** A fault or e-stop interrupts the set (it counts as ended); the runner waits
   until the site recovers the station (or staff release the e-stop) and carries on.

Time: the runner uses the monotonic clock; ``SessionTiming.rest_scale`` shortens rests (the
demo runs rests at a twentieth of the plan's), reps always take the time the athlete takes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import Any

from controller.athlete_data import (
    Athlete,
    LoadModel,
    load_model,
    lv_points,
    mvt_for,
    prior_from_set,
    readiness_history,
    resting_hr,
    zone_band,
)
from controller.cues import rest_cue
from controller.events import (
    Alert,
    AlertSeverity,
    CommandOutcome,
    CommandSource,
    DecisionEvent,
    Event,
    ReadinessScored,
    SessionEnded,
    SessionStarted,
    SetStop,
)
from controller.hr_erg import HrErgConfig, HrErgDecision, HrErgRunner
from controller.safety import Limits
from controller.set_supervisor import SetPlan, SetResult
from controller.states import StationState
from controller.station_runtime import StationRuntime
from controller.store import Store, TraceRecord
from equipment_adapters.base import ModeKind, ResistanceMode, SetLoad
from equipment_adapters.batch import Channel
from kernels.asymmetry import persistent_asymmetry
from kernels.errors import GymctlError
from plans.adjustment import DailySession, adjust_session
from plans.autoregulation import StepLimits, next_set_load
from plans.decisions import Decision, DecisionKind
from plans.exercises import Catalogue, EquipmentKind, builtin_catalogue
from plans.model import (
    BikeBlock,
    ErgTarget,
    HRZoneTarget,
    Interval,
    Kilograms,
    PercentOneRM,
    PercentThresholdTarget,
    Plan,
    PowerTarget,
    StrengthBlock,
    VelocityZone,
)
from plans.readiness import ReadinessProfile, overreaching_flag, readiness_profile

log = logging.getLogger(__name__)

S = StationState
_USABLE = frozenset({S.CHECKED_IN, S.SET_READY, S.RESTING})
_SAFE = frozenset({S.FAULT, S.ESTOPPED, S.OFFLINE})
#: a load-velocity zone around the profile's predicted velocity for %1RM and kg sets (m/s)
ZONE_HALF_WIDTH_MS = 0.05
#: a load the station does not hold is asked for again at most this often (s)
LOAD_RETRY_S = 1.0
#: a rider's threshold power per kg of body mass when none is known (recreational level)
DEFAULT_FTP_W_PER_KG = 2.5
DEFAULT_FTP_W = 200.0


class SessionAbortedError(GymctlError):
    """The session cannot go on (a fault not recovered in time, the station went away)."""


@dataclass(frozen=True, slots=True)
class SessionTiming:
    """The runner's time constants (seconds); the demo shortens rests with ``rest_scale``."""

    rest_scale: float = 1.0  #: multiplies every rest of the plan
    min_rest_s: float = 3.0
    interval_scale: float = 1.0  #: multiplies bike interval durations
    get_ready_s: float = 1.0  #: from "set ready" to "set active"
    first_rep_timeout_s: float = 30.0  #: no first rep this long after the start: athlete stopped
    idle_timeout_s: float = 10.0  #: no rep this long after the last: the athlete stopped
    max_set_s: float = 300.0
    load_ready_timeout_s: float = 120.0  #: waiting for the load (ramp, confirmation)
    recovery_timeout_s: float = 600.0  #: a fault not recovered in this long ends the session
    checkout_after_s: float | None = None  #: check the athlete out after the session (None: staff)
    start_load_kg: float = 20.0  #: first set without any profile: the empty bar
    spotter: bool = True  #: use the rack's spotter when it has one
    asymmetry_threshold_pct: float = 10.0

    def rest(self, plan_rest_s: float) -> float:
        return max(self.min_rest_s, plan_rest_s * self.rest_scale)


@dataclass(slots=True)
class SessionSummary:
    session_id: str
    athlete_id: str
    status: str = "running"
    sets: int = 0
    reps: int = 0
    velocity_loss_stops: int = 0
    readiness_state: str | None = None
    readiness_score: float | None = None
    rest_day: bool = False
    skipped_blocks: list[str] = field(default_factory=list)
    e1rm_kg: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "sets": self.sets,
            "reps": self.reps,
            "velocity_loss_stops": self.velocity_loss_stops,
            "readiness_state": self.readiness_state,
            "readiness_score": self.readiness_score,
            "rest_day": self.rest_day,
            "skipped_blocks": list(self.skipped_blocks),
            "e1rm_kg": dict(self.e1rm_kg),
        }


def readiness_components(profile: ReadinessProfile) -> dict[str, Any]:
    """What ``readiness_scores.components_json`` holds: the state, confidence and reasons,
    and each component by name with its reason, value, baseline and z-score."""
    return {
        "state": profile.state.value,
        "confidence": round(profile.confidence, 3),
        "reasons": list(profile.reasons),
        "not_enough_data": profile.not_enough_data,
        "overreaching": profile.overreaching,
        "components": {
            reading.name: {k: v for k, v in reading.to_json().items() if k != "name"}
            for reading in profile.components
        },
    }


def new_session_id() -> str:
    return "sess-" + secrets.token_hex(6)


def _set_id(session_id: str, index: int) -> str:
    return f"{session_id}-s{index + 1:02d}"


class SessionRunner:
    """Runs one session; ``await run()`` returns its summary (cancel it to stop early)."""

    def __init__(
        self,
        runtime: StationRuntime,
        *,
        athlete: Athlete,
        plan: Plan,
        session_name: str,
        store: Store,
        plan_id: str | None = None,
        timing: SessionTiming | None = None,
        catalogue: Catalogue | None = None,
        today: date | None = None,
        can_recover: Callable[[], bool] = lambda: True,
        session_id: str | None = None,
    ) -> None:
        self.rt = runtime
        self.station = runtime.station
        self.athlete = athlete
        self.plan = plan
        self.plan_id = plan_id
        self.session_name = session_name
        self.store = store
        self.timing = timing or SessionTiming()
        self.catalogue = catalogue or builtin_catalogue()
        self.today = today or date.today()
        self.can_recover = can_recover
        self.session_id = session_id or new_session_id()
        self.publish: Callable[[Event], None] = runtime.bus.publish
        self.clock = runtime.clock
        self.summary = SessionSummary(self.session_id, athlete.id)
        self.readiness: ReadinessProfile | None = None
        self.today_session: DailySession | None = None
        self._set_index = 0
        self._asymmetry: dict[str, list[float | None]] = {}
        self._flagged: set[str] = set()
        self._requested: float | None = None
        self._requested_at = -1e9
        self._models: dict[str, LoadModel] = {}

    # -- helpers --------------------------------------------------------------------------

    def _now(self) -> StationState:
        """The station's state, read afresh (a method: type checkers must not narrow it)."""
        return self.station.state.state

    def _decision(self, decision: Decision, set_id: str | None = None) -> None:
        self.publish(
            DecisionEvent(
                station_id=self.station.id,
                decision=decision,
                athlete_id=self.athlete.id,
                session_id=self.session_id,
                set_id=set_id,
            )
        )

    @property
    def _unit(self) -> str:
        envelope = self.station.drive.envelope
        return envelope.unit if envelope is not None else "kg"

    # -- the session ------------------------------------------------------------------------

    async def run(self) -> SessionSummary:
        rt = self.rt
        view = rt.session
        view.athlete_id = self.athlete.id
        view.session_id = self.session_id
        status = "fault"
        try:
            await self._check_in()
            daily = await self._today()
            if daily.session is None:
                self.summary.rest_day = True
                self.station.state.finish_session("rest day: readiness says recover")
                status = "done"
                return self.summary
            blocks = self._runnable(daily.session.blocks)
            if not blocks:
                self.station.state.finish_session("nothing in today's session fits this station")
                status = "done"
                return self.summary
            for k, block in enumerate(blocks):
                last = k == len(blocks) - 1
                if isinstance(block, StrengthBlock):
                    await self._strength_block(block, last=last)
                else:
                    await self._bike_block(block, last=last)
            if self._now() is not S.SESSION_DONE:  # the last set was interrupted
                await self._wait_usable()
                self.station.state.finish_session("session done (its last set was interrupted)")
            status = "done"
        except SessionAbortedError as exc:
            log.warning("station %s: session %s aborted: %s", self.station.id, self.session_id, exc)
            status = "fault"
        except asyncio.CancelledError:
            status = "stopped"
            self._stop_now("session stopped by staff")
            raise
        finally:
            self.summary.status = status
            self.rt.processor.disarm()
            self.rt.session.next_load = None
            self.publish(
                SessionEnded(
                    station_id=self.station.id,
                    session_id=self.session_id,
                    athlete_id=self.athlete.id,
                    status=status,
                    summary=self.summary.to_json(),
                )
            )
        return self.summary

    def _stop_now(self, reason: str) -> None:
        """Cancelled: an active set ends now and the station is done with this session."""
        supervisor = self.rt.supervisor
        if supervisor.active:
            self._count(supervisor.finish(SetStop.STAFF, load=self._current_load()))
        if self._now() is S.SET_ACTIVE:
            self.station.end_set(reason, last=True)
        elif self._now() in (S.CHECKED_IN, S.SET_READY, S.RESTING):
            self.station.state.finish_session(reason)

    async def _check_in(self) -> None:
        self.station.check_in(
            self.athlete.id,
            self.session_id,
            Limits(
                athlete_id=self.athlete.id,
                margin_pct=self.station.config.safety.athlete_margin_pct,
            ),
        )
        self.publish(
            SessionStarted(
                station_id=self.station.id,
                session_id=self.session_id,
                athlete_id=self.athlete.id,
                plan_id=self.plan_id,
            )
        )

    async def _today(self) -> DailySession:
        history = await readiness_history(self.store.reader, self.athlete.id, self.today)
        # tens of milliseconds of numpy over the athlete's HRV history: off the loop, so a
        # check-in does not hold every station's data back (a pure function of its inputs)
        profile = await asyncio.to_thread(readiness_profile, history, self.today)
        self.readiness = profile
        self.summary.readiness_state = profile.state.value
        self.summary.readiness_score = profile.score
        self.rt.session.readiness_state = profile.state.value
        if profile.score is not None:
            self.publish(
                ReadinessScored(
                    station_id=self.station.id,
                    athlete_id=self.athlete.id,
                    day=self.today.isoformat(),
                    score=profile.score,
                    components=readiness_components(profile),
                )
            )
        plan_kinds = {e.value for e in EquipmentKind}
        flag = overreaching_flag(profile)
        if flag is not None:
            self._decision(flag)
            self.publish(
                Alert(
                    station_id=self.station.id,
                    severity=AlertSeverity.WARNING,
                    code="overreaching",
                    message=flag.reason,
                    athlete_id=self.athlete.id,
                )
            )
        kinds = frozenset(
            EquipmentKind(k.value) for k in self.rt.kinds if k.value in plan_kinds
        ) | {EquipmentKind.BODYWEIGHT}
        daily = adjust_session(
            self.plan, self.session_name, profile, catalogue=self.catalogue, equipment=kinds
        )
        self.today_session = daily
        for decision in daily.decisions:
            self._decision(decision)
        return daily

    def _runnable(
        self, blocks: tuple[StrengthBlock | BikeBlock, ...]
    ) -> list[StrengthBlock | BikeBlock]:
        """The blocks this station's equipment can run (the others are noted and skipped)."""
        kinds = {k.value for k in self.rt.kinds}
        out: list[StrengthBlock | BikeBlock] = []
        for block in blocks:
            if isinstance(block, BikeBlock):
                ok = "bike" in kinds and self.station.drive.envelope is not None
            else:
                try:
                    needs = {e.value for e in self.catalogue.get(block.exercise).equipment}
                except KeyError:
                    needs = set()
                ok = bool(needs & kinds) and self.rt.rep_source is not None
            if ok:
                out.append(block)
            else:
                self.summary.skipped_blocks.append(block.exercise)
        return out

    # -- strength ------------------------------------------------------------------------------

    async def _model(self, exercise: str) -> LoadModel:
        if exercise not in self._models:
            points = await lv_points(self.store.reader, self.athlete.id, exercise)
            # the profile's fit over the athlete's history: off the loop, as readiness is
            self._models[exercise] = await asyncio.to_thread(
                partial(
                    load_model,
                    points,
                    exercise,
                    mvt_ms=mvt_for(exercise, self.catalogue),
                    now=time.time(),
                )
            )
        return self._models[exercise]

    def _planned_load(
        self, block: StrengthBlock, model: LoadModel
    ) -> tuple[float, str, tuple[float, float] | None]:
        """(load, why, velocity zone) of the block's first set."""
        load = block.load
        source = model.source.replace("_", " ")
        if isinstance(load, Kilograms):
            return load.kg, f"plan: {load.kg:g} kg", None
        if isinstance(load, VelocityZone):
            zone = (load.min_ms, load.max_ms)
            if model.known:
                value = model.load_for_velocity(load.mid_ms)
                return (
                    value,
                    f"{source}: {value:.1f} kg for {load.mid_ms:.2f} m/s "
                    f"(zone {load.min_ms:g}-{load.max_ms:g})",
                    zone,
                )
            return (
                self.timing.start_load_kg,
                f"no profile yet: start at {self.timing.start_load_kg:g} kg",
                zone,
            )
        assert isinstance(load, PercentOneRM)
        one_rm = model.one_rm_kg
        if one_rm is None or one_rm <= 0:
            return (
                self.timing.start_load_kg,
                f"no 1RM estimate yet: start at {self.timing.start_load_kg:g} kg",
                None,
            )
        value = one_rm * load.percent / 100.0
        return (
            value,
            f"{load.percent:g} % of e1RM {one_rm:.1f} kg ({source})",
            self._zone_around(model, value),
        )

    @staticmethod
    def _zone_around(model: LoadModel, load: float) -> tuple[float, float] | None:
        velocity = model.velocity_at(load)
        if velocity is None or not math.isfinite(velocity) or velocity <= ZONE_HALF_WIDTH_MS:
            return None
        return velocity - ZONE_HALF_WIDTH_MS, velocity + ZONE_HALF_WIDTH_MS

    def _limits(self, exercise: str, model: LoadModel) -> None:
        envelope = self.station.drive.envelope
        if envelope is None:
            return
        e1rm = model.one_rm_kg if model.source == "profile" else None
        self.station.drive.set_limits(
            Limits(
                athlete_id=self.athlete.id,
                exercise=exercise,
                athlete_e1rm=e1rm if e1rm is not None and e1rm > 0 else None,
                margin_pct=self.station.config.safety.athlete_margin_pct,
            )
        )

    def _mode_for(self, block: StrengthBlock, model: LoadModel) -> ResistanceMode | None:
        """The rack's mode for the block: what the plan asks, else the spotter when the
        rack has one (it takes load off when the bar stalls below the lift's MVT)."""
        envelope = self.station.drive.envelope
        if envelope is None:
            return None
        modes = envelope.settings.modes
        wanted = block.mode
        if wanted is not None:
            kind = ModeKind(wanted.kind)
            if kind in modes:
                return ResistanceMode(
                    kind,
                    eccentric_pct=wanted.eccentric_pct,
                    chains_kg_per_m=wanted.chains_kg_per_m,
                    spotter_velocity_ms=wanted.spotter_velocity_ms or (model.mvt_ms or 0.0),
                )
            log.info(
                "station %s has no %s mode: the block runs in standard mode",
                self.station.id,
                kind.value,
            )
            return ResistanceMode()
        if self.timing.spotter and ModeKind.SPOTTER in modes and model.mvt_ms:
            return ResistanceMode(ModeKind.SPOTTER, spotter_velocity_ms=model.mvt_ms)
        return ResistanceMode()

    async def _strength_block(self, block: StrengthBlock, *, last: bool) -> None:
        exercise = block.exercise
        model = await self._model(exercise)
        self._limits(exercise, model)
        envelope = self.station.drive.envelope
        load, why, zone = self._planned_load(block, model)
        if envelope is None:  # a band: the load is the band itself
            load, why = 0.0, "the band's own tension"
        self._request(load, CommandSource.PLAN, why)
        # the mode after the load: a lighter load first keeps the mode's peak under the
        # ceiling (the envelope clamps the mode against the load it holds)
        mode = self._mode_for(block, model)
        if mode is not None and envelope is not None and envelope.mode != mode:
            self.station.drive.set_mode(mode, source=CommandSource.PLAN)
        for k in range(block.sets):
            is_last = last and k == block.sets - 1
            plan = SetPlan(
                set_id=_set_id(self.session_id, self._set_index),
                session_id=self.session_id,
                athlete_id=self.athlete.id,
                exercise=exercise,
                set_index=self._set_index,
                load=0.0,
                unit=self._unit,
                target_reps=block.reps.max,
                velocity_loss_stop_pct=block.velocity_loss_stop_pct,
                zone_ms=zone,
                mvt_ms=model.mvt_ms,
                target_load=self._requested,
            )
            result = await self._run_set(plan, last=is_last)
            if result is None:
                continue  # interrupted by a fault: the set counts as ended, the next one follows
            self._after_strength_set(exercise, result)
            if k < block.sets - 1:
                load, zone = self._autoregulate(block, model, result, zone)
                self._request(load, CommandSource.AUTOREGULATION, "autoregulation")
                await self._rest(self.timing.rest(block.rest_s))
            elif not last:
                await self._rest(self.timing.rest(block.rest_s))
        if model.one_rm_kg is not None:
            self.summary.e1rm_kg[exercise] = round(model.one_rm_kg, 1)

    def _after_strength_set(self, exercise: str, result: SetResult) -> None:
        event = result.event
        model = self._models[exercise]
        if model.profile is None and event.load > 0 and result.analysis is not None:
            # no profile of their own yet: the group equation's 1RM from this set's best rep
            prior = prior_from_set(exercise, event.load, result.analysis.best_velocity_ms)
            if prior is not None:
                self._models[exercise] = LoadModel(
                    exercise, model.mvt_ms, prior_one_rm_kg=prior, n_points=model.n_points + 1
                )
        indices = self._asymmetry.setdefault(exercise, [])
        indices.extend(result.asymmetry_pct)
        if exercise not in self._flagged and any(i is not None for i in indices):
            flag = persistent_asymmetry(indices, threshold_pct=self.timing.asymmetry_threshold_pct)
            if flag.flagged:
                self._flagged.add(exercise)
                self._decision(
                    Decision(
                        DecisionKind.FLAG,
                        f"asymmetry.{exercise}",
                        None,
                        flag.side,
                        "persistent_asymmetry",
                        f"{exercise}: {flag.reason}",
                        {
                            "typical_pct": flag.typical_pct,
                            "over_threshold": flag.over_threshold,
                            "considered": flag.considered,
                            "threshold_pct": flag.threshold_pct,
                        },
                    ),
                    set_id=event.set_id,
                )
                self.publish(
                    Alert(
                        station_id=self.station.id,
                        severity=AlertSeverity.WARNING,
                        code="asymmetry",
                        message=f"{exercise}: {flag.reason}",
                        athlete_id=self.athlete.id,
                    )
                )

    def _autoregulate(
        self,
        block: StrengthBlock,
        model: LoadModel,
        result: SetResult,
        zone: tuple[float, float] | None,
    ) -> tuple[float, tuple[float, float] | None]:
        """The next set's load from this set's first reps (always a recorded decision)."""
        current = result.event.load
        envelope = self.station.drive.envelope
        if envelope is None:
            return current, zone
        model = self._models.get(block.exercise, model)
        if isinstance(block.load, Kilograms):
            self._decision(
                Decision(
                    DecisionKind.AUTOREGULATION,
                    "load_kg",
                    current,
                    current,
                    "autoregulation.fixed_load",
                    f"the plan prescribes {block.load.kg:g} kg: load kept",
                    {"current_load_kg": current},
                ),
                set_id=result.event.set_id,
            )
            return current, zone
        if zone is None:
            zone = self._zone_around(model, current) if model.known else None
        if zone is None or not model.known or not result.velocities_ms:
            self._decision(
                Decision(
                    DecisionKind.AUTOREGULATION,
                    "load_kg",
                    current,
                    current,
                    "autoregulation.no_data",
                    "no velocity zone or profile to compare the reps with: load kept",
                    {"current_load_kg": current, "reps": result.reps},
                ),
                set_id=result.event.set_id,
            )
            return current, zone
        increment = envelope.settings.load.increment or 0.5
        new, decision = next_set_load(
            current_load_kg=current,
            first_rep_velocities_ms=list(result.velocities_ms),
            zone=VelocityZone(min_ms=zone[0], max_ms=zone[1]),
            model=model,
            limits=StepLimits(
                increment_kg=increment,
                min_load_kg=envelope.floor,
                max_load_kg=envelope.base_ceiling(),
            ),
        )
        decision = Decision(
            decision.kind,
            decision.subject,
            decision.before,
            decision.after,
            decision.rule,
            decision.reason,
            {**decision.inputs, "model": model.to_json()},
        )
        self._decision(decision, set_id=result.event.set_id)
        self.rt.session.next_load = new
        self.rt.session.next_load_reason = decision.reason
        return new, zone

    # -- one set ----------------------------------------------------------------------------

    def _request(self, value: float, source: CommandSource, reason: str) -> None:
        """Ask the drive for the next set's load (it may ramp or announce it)."""
        self._requested = value
        self._requested_at = self.clock()
        self.rt.session.next_load = value
        self.rt.session.next_load_reason = reason
        if self.station.drive.envelope is None or self._now() in _SAFE:
            return
        verdict = self.station.drive.request_load(
            value, source=source, reason=reason, by=f"session {self.session_id}"
        )
        if verdict.outcome is CommandOutcome.REFUSED:
            log.warning("station %s: load %g refused: %s", self.station.id, value, verdict.reason)

    def _current_load(self) -> float:
        envelope = self.station.drive.envelope
        if envelope is None:
            return 0.0
        return envelope.current if envelope.level is not None else 0.0

    async def _wait_usable(self) -> None:
        """Until the station can train (recovered from a fault, e-stop released)."""
        deadline = self.clock() + self.timing.recovery_timeout_s
        while True:
            self.rt.wake.clear()
            state = self._now()
            if state in _USABLE:
                return
            if state not in _SAFE:
                raise SessionAbortedError(f"station is {state.value}")
            left = deadline - self.clock()
            if left <= 0:
                raise SessionAbortedError(
                    f"station still {state.value} after {self.timing.recovery_timeout_s:g} s"
                )
            await self.rt.wait_wake(min(left, 1.0))

    async def _wait_load(self) -> None:
        """Until the envelope holds the requested load and the device has taken it.

        A load the station lost (a safe state in between) or an increase the athlete did not
        confirm in time is asked for again; past ``load_ready_timeout_s`` the set goes ahead
        at what the envelope holds, never higher.
        """
        drive = self.station.drive
        envelope = drive.envelope
        if envelope is None:
            return
        deadline = self.clock() + self.timing.load_ready_timeout_s
        while True:
            await self._wait_usable()
            wanted = self._requested
            now = self.clock()
            if envelope.pending is None and wanted is not None and now < deadline:
                goal = min(wanted, envelope.base_ceiling())
                holding = envelope.level is not None and envelope.target is not None
                step = max(envelope.settings.load.increment, 1e-6)
                short = not holding or (envelope.target or 0.0) < goal - step
                if short and now - self._requested_at >= LOAD_RETRY_S:
                    self._request(wanted, CommandSource.PLAN, "load asked again")
            if envelope.pending is None and envelope.level is not None and envelope.at_target():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.1, deadline - self.clock())):
                        await drive.settle()
                if envelope.at_target() and self._now() in _USABLE:
                    return
            if self.clock() >= deadline:
                if envelope.level is not None and envelope.pending is None:
                    return  # at what the envelope holds (the athlete did not confirm)
                raise SessionAbortedError("the set's load could not be applied")
            await asyncio.sleep(0.05)

    async def _run_set(self, plan: SetPlan, *, last: bool) -> SetResult | None:
        """Ready, active, ended; None when a fault or e-stop interrupted it."""
        rt = self.rt
        while True:
            await self._wait_load()
            if self._now() in (S.CHECKED_IN, S.RESTING):
                self.station.state.load_ready()
            if self._now() is not S.SET_READY:
                continue
            await asyncio.sleep(self.timing.get_ready_s)
            if self._now() is S.SET_READY:
                break
        load = self._current_load()
        plan = SetPlan(
            set_id=plan.set_id,
            session_id=plan.session_id,
            athlete_id=plan.athlete_id,
            exercise=plan.exercise,
            set_index=plan.set_index,
            load=load,
            unit=plan.unit,
            target_reps=plan.target_reps,
            velocity_loss_stop_pct=plan.velocity_loss_stop_pct,
            zone_ms=plan.zone_ms,
            mvt_ms=plan.mvt_ms,
            target_load=plan.target_load,
        )
        view = rt.session
        view.exercise, view.set_id, view.set_index = plan.exercise, plan.set_id, plan.set_index
        view.target_reps = plan.target_reps
        self._set_index += 1
        rt.supervisor.start(plan)
        rt.processor.arm(
            set_id=plan.set_id,
            exercise=plan.exercise,
            load_kg=load if plan.unit == "kg" and load > 0 else None,
            rep_source=rt.rep_source,
        )
        self.station.begin_set(plan.set_id)
        stop = await self._watch_set()
        interrupted = self._now() is not S.SET_ACTIVE
        result = rt.supervisor.finish(stop, load=load)
        self._record_traces(plan)
        self._count(result)
        if not interrupted:
            self.station.end_set(self._end_reason(result), last=last)
            return result
        return None

    async def _watch_set(self) -> SetStop:
        """Until a rule stops the set, the athlete stops, or the station goes safe."""
        rt = self.rt
        supervisor = rt.supervisor
        started = self.clock()
        while True:
            rt.wake.clear()
            if supervisor.stop is not None:
                return supervisor.stop
            state = self._now()
            if state is S.ESTOPPED:
                return SetStop.ESTOP
            if state is not S.SET_ACTIVE:
                return SetStop.FAULT
            now = self.clock()
            if supervisor.last_rep_at is None:
                deadline = started + self.timing.first_rep_timeout_s
            else:
                deadline = supervisor.last_rep_at + self.timing.idle_timeout_s
            deadline = min(deadline, started + self.timing.max_set_s)
            if now >= deadline:
                return SetStop.ATHLETE if now < started + self.timing.max_set_s else SetStop.TIME
            await rt.wait_wake(deadline - now)

    @staticmethod
    def _end_reason(result: SetResult) -> str:
        event = result.event
        return f"set {event.set_index + 1} ended ({event.stop.value}, {event.reps} reps)"

    def _count(self, result: SetResult) -> None:
        self.summary.sets += 1
        self.summary.reps += result.reps
        if result.event.stop is SetStop.VELOCITY_LOSS:
            self.summary.velocity_loss_stops += 1

    def _record_traces(self, plan: SetPlan) -> None:
        for trace in self.rt.processor.disarm():
            self.store.writer.record_trace(
                TraceRecord(
                    device_id=trace.device_id,
                    channel=trace.channel,
                    t0=trace.t0,
                    period=trace.period,
                    values=trace.view(),
                    athlete_id=self.athlete.id,
                    session_id=self.session_id,
                    set_id=plan.set_id,
                )
            )

    async def _rest(self, seconds: float) -> None:
        """The rest countdown on the displays (a cue each second)."""
        end = self.clock() + seconds
        cues = self.station.cues
        while True:
            left = end - self.clock()
            if left <= 0:
                return
            if self._now() in _SAFE:
                await self._wait_usable()
                continue
            current = cues.current
            if current is None or current.priority <= rest_cue(left).priority:
                cues.offer(rest_cue(left))
            await asyncio.sleep(min(1.0, left))

    # -- bike ---------------------------------------------------------------------------------

    def _ftp(self) -> float:
        mass = self.athlete.body_mass_kg
        return DEFAULT_FTP_W_PER_KG * mass if mass else DEFAULT_FTP_W

    async def _bike_block(self, block: BikeBlock, *, last: bool) -> None:
        self._limits(block.exercise, LoadModel(block.exercise, None))
        resting = await resting_hr(self.store.reader, self.athlete.id, self.today)
        work = [(interval, r) for interval in block.intervals for r in range(interval.repeats)]
        for k, (interval, _) in enumerate(work):
            is_last = last and k == len(work) - 1
            watts, hr_band, why = self._interval_target(interval.target, resting)
            self._request(watts, CommandSource.PLAN, why)
            plan = SetPlan(
                set_id=_set_id(self.session_id, self._set_index),
                session_id=self.session_id,
                athlete_id=self.athlete.id,
                exercise=block.exercise,
                set_index=self._set_index,
                load=watts,
                unit=self._unit,
                target_load=watts,
            )
            await self._run_interval(plan, interval, hr_band, last=is_last)
            if interval.recovery_s > 0 and not is_last:
                recovery_target = interval.recovery_target
                if recovery_target is not None:
                    rw, _, rwhy = self._interval_target(recovery_target, resting)
                else:
                    rw, rwhy = 0.5 * watts, "recovery at half the interval's power"
                self._request(rw, CommandSource.PLAN, rwhy)
                await self._rest(interval.recovery_s * self.timing.interval_scale)

    def _interval_target(
        self, target: Any, resting: float | None
    ) -> tuple[float, tuple[float, float, float, float] | None, str]:
        """(watts, HR control (low, high, min W, max W) or None, why)."""
        if isinstance(target, PowerTarget):
            return target.watts, None, f"interval at {target.watts:g} W"
        if isinstance(target, PercentThresholdTarget):
            ftp = self._ftp()
            watts = round(ftp * target.percent / 100.0)
            return watts, None, f"{target.percent:g} % of threshold {ftp:.0f} W"
        if isinstance(target, HRZoneTarget):
            low, high = zone_band(
                target.zone,
                birth_year=self.athlete.birth_year,
                resting_hr_bpm=resting,
                today=self.today,
            )
            start = round(0.5 * self._ftp())
            return (
                start,
                (low, high, 40.0, round(1.2 * self._ftp())),
                f"HR zone {target.zone} ({low:.0f}-{high:.0f} bpm) by HR-controlled ERG",
            )
        assert isinstance(target, ErgTarget)
        if target.hr_zone is None:
            return target.watts, None, f"ERG {target.watts:g} W"
        low, high = zone_band(
            target.hr_zone,
            birth_year=self.athlete.birth_year,
            resting_hr_bpm=resting,
            today=self.today,
        )
        spread = target.max_adjust_pct / 100.0
        return (
            target.watts,
            (low, high, target.watts * (1 - spread), target.watts * (1 + spread)),
            f"ERG {target.watts:g} W held to HR zone {target.hr_zone} ({low:.0f}-{high:.0f} bpm)",
        )

    async def _run_interval(
        self,
        plan: SetPlan,
        interval: Interval,
        hr_band: tuple[float, float, float, float] | None,
        *,
        last: bool,
    ) -> None:
        rt = self.rt
        duration = interval.duration_s * self.timing.interval_scale
        while True:
            await self._wait_load()
            if self._now() in (S.CHECKED_IN, S.RESTING):
                self.station.state.load_ready()
            if self._now() is S.SET_READY:
                break
        self._set_index += 1
        rt.session.exercise, rt.session.set_id = plan.exercise, plan.set_id
        rt.session.set_index, rt.session.target_reps = plan.set_index, None
        rt.supervisor.start(plan)
        rt.processor.arm(set_id=plan.set_id, exercise=plan.exercise, load_kg=None, rep_source=None)
        self.station.begin_set(plan.set_id)
        end = self.clock() + duration
        async with contextlib.AsyncExitStack() as stack:
            if hr_band is not None:
                low, high, lo_w, hi_w = hr_band
                start = min(max(plan.load, lo_w), hi_w)
                runner = HrErgRunner(
                    HrErgConfig(
                        low_bpm=low,
                        high_bpm=high,
                        min_power_w=lo_w,
                        max_power_w=hi_w,
                        start_power_w=start,
                        fallback_power_w=lo_w,
                    ),
                    apply=self._hr_erg_apply,
                    clock=self.clock,
                    on_decision=lambda d: self._hr_erg_decision(d, plan),
                    name=f"hr-erg:{self.station.id}",
                )
                await stack.enter_async_context(runner)
                stack.callback(rt.processor.listen(Channel.HEART_RATE, runner.feed))
            while self._now() is S.SET_ACTIVE:
                rt.wake.clear()
                left = end - self.clock()
                if left <= 0:
                    break
                await rt.wait_wake(left)
        interrupted = self._now() is not S.SET_ACTIVE
        stop = (
            SetStop.TIME
            if not interrupted
            else (SetStop.ESTOP if self._now() is S.ESTOPPED else SetStop.FAULT)
        )
        mean_power = rt.processor.mean(Channel.POWER)
        result = rt.supervisor.finish(stop, load=plan.load)
        self._record_traces(plan)
        self._count(result)
        if not interrupted:
            power = f", mean {mean_power:.0f} W" if mean_power is not None else ""
            self.station.end_set(
                f"interval {plan.set_index + 1} done ({plan.load:g} W{power})", last=last
            )

    async def _hr_erg_apply(self, command: SetLoad) -> None:
        if self._now() is not S.SET_ACTIVE:
            return
        self.station.drive.request_load(
            command.value,
            source=CommandSource.AUTOREGULATION,
            reason="HR-controlled ERG",
            by=f"session {self.session_id}",
        )

    def _hr_erg_decision(self, decision: HrErgDecision, plan: SetPlan) -> None:
        self._decision(
            Decision(
                DecisionKind.AUTOREGULATION,
                "load_w",
                self._requested,
                decision.power_w,
                "hr_erg",
                f"HR-controlled ERG: {decision.reason}: {decision.power_w:.0f} W",
                {
                    "hr_bpm": decision.hr_bpm,
                    "predicted_bpm": decision.predicted_bpm,
                    "time_s": decision.time_s,
                },
            ),
            set_id=plan.set_id,
        )
        self._requested = decision.power_w


__all__ = [
    "SessionAbortedError",
    "SessionRunner",
    "SessionSummary",
    "SessionTiming",
    "new_session_id",
]
