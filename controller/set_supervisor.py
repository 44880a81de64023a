"""The set supervisor: what happens after every rep of a set.

For each rep the stream processor completes, the supervisor records the rep (a ``RepEvent``
on the bus, a row of ``reps`` in the store), analyses the set so far (velocity loss against
the best of the first reps, the stop rule: ``kernels.set_analysis.analyse_set``), and gives
the athlete one cue: the rep count with the velocity zone's colour, "last rep" when the
next rep is expected to reach the stop threshold or the rep target, or "stop". A stop is a
``SET_STOP`` decision with the velocities it read. The session runner waits on
:attr:`SetSupervisor.stopped` and ends the set; :meth:`SetSupervisor.finish` then publishes
the ``SetEvent`` and the set's load-velocity point.

Work per rep, never per sample: the velocities live in one preallocated array.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from controller.cues import Cue, last_rep_cue, rep_cue, stop_cue, velocity_zone_colour
from controller.events import (
    DecisionEvent,
    Event,
    LoadVelocityPoint,
    RepEvent,
    SetEvent,
    SetStop,
)
from controller.pipeline import CompletedRep
from equipment_adapters.base import CueColour
from kernels.set_analysis import SetAnalysis, analyse_set
from plans.decisions import Decision, DecisionKind

log = logging.getLogger(__name__)

#: a rep whose velocity loss is within this of the threshold makes the next one the last
LAST_REP_MARGIN_PCT = 3.0


@dataclass(frozen=True, slots=True)
class SetPlan:
    """One set as the session runner starts it."""

    set_id: str
    session_id: str
    athlete_id: str
    exercise: str
    set_index: int  #: 0-based within the session
    load: float
    unit: str = "kg"
    target_reps: int | None = None
    velocity_loss_stop_pct: float | None = None
    zone_ms: tuple[float, float] | None = None  #: the velocity band of the zone colours
    mvt_ms: float | None = None
    target_load: float | None = None  #: what the plan asked for (before the envelope)


@dataclass(frozen=True, slots=True)
class SetResult:
    """What a finished set gives the session runner."""

    event: SetEvent
    velocities_ms: tuple[float, ...]
    asymmetry_pct: tuple[float | None, ...]  #: one index per rep (force, else range)
    analysis: SetAnalysis | None

    @property
    def reps(self) -> int:
        return len(self.velocities_ms)


@dataclass(slots=True)
class RepView:
    """The last rep as the panel shows it."""

    velocity_ms: float
    zone: CueColour
    velocity_loss_pct: float | None
    index: int
    at: float = field(default=0.0)


class SetSupervisor:
    """Per station; one set at a time (``start`` ... ``finish``)."""

    def __init__(
        self,
        station_id: str,
        *,
        publish: Callable[[Event], None],
        offer_cue: Callable[[Cue], object],
        clock: Callable[[], float] = time.monotonic,
        capacity: int = 64,
    ) -> None:
        self.station_id = station_id
        self.publish = publish
        self.offer_cue = offer_cue
        self.clock = clock
        self.plan: SetPlan | None = None
        self.started_ts = 0.0
        self.started_at = 0.0
        self.last_rep_at: float | None = None
        self.last_rep: RepView | None = None
        self.stop: SetStop | None = None
        self.analysis: SetAnalysis | None = None
        self._velocities: npt.NDArray[np.float64] = np.empty(capacity, dtype=np.float64)
        self._asymmetry: list[float | None] = []
        self._n = 0
        self._stopped: asyncio.Event | None = None
        #: called when a rule stops the set (the station runtime wakes its runner)
        self.on_stop: Callable[[], None] | None = None

    @property
    def reps(self) -> int:
        return self._n

    @property
    def active(self) -> bool:
        return self.plan is not None

    @property
    def velocities(self) -> npt.NDArray[np.float64]:
        return self._velocities[: self._n]

    @property
    def stopped(self) -> asyncio.Event:
        """Set when a rule ended the set (velocity loss, rep target)."""
        if self._stopped is None:
            self._stopped = asyncio.Event()
        return self._stopped

    def start(self, plan: SetPlan) -> None:
        self.plan = plan
        self.started_ts = time.time()
        self.started_at = self.clock()
        self.last_rep_at = None
        self.last_rep = None
        self.stop = None
        self.analysis = None
        self._n = 0
        self._asymmetry = []
        self.stopped.clear()

    # -- per rep ---------------------------------------------------------------------------

    def on_rep(self, rep: CompletedRep) -> None:
        plan = self.plan
        if plan is None or self.stop is not None:
            return  # a rep after the stop (the athlete finishing a movement): not counted
        m = rep.metrics
        velocity = m.mean_velocity_ms
        if not (math.isfinite(velocity) and velocity > 0.0):
            return
        if self._n == self._velocities.shape[0]:
            grown = np.empty(2 * self._n, dtype=np.float64)
            grown[: self._n] = self._velocities
            self._velocities = grown
        self._velocities[self._n] = velocity
        self._n += 1
        n = self._n
        self.last_rep_at = self.clock()
        threshold = plan.velocity_loss_stop_pct
        analysis = analyse_set(
            self._velocities[:n], stop_threshold_pct=threshold, mvt_ms=plan.mvt_ms
        )
        self.analysis = analysis
        loss = analysis.velocity_loss_pct if n > 1 else 0.0
        if rep.asymmetry is not None:
            a = rep.asymmetry
            self._asymmetry.append(a.force_pct if a.force_pct is not None else a.rom_pct)
        else:
            self._asymmetry.append(None)
        low, high = self._band(plan, analysis)
        colour = velocity_zone_colour(velocity, low_ms=low, high_ms=high)
        self.last_rep = RepView(velocity, colour, loss, n - 1, self.last_rep_at)
        self.publish(
            RepEvent(
                station_id=self.station_id,
                session_id=plan.session_id,
                set_id=plan.set_id,
                athlete_id=plan.athlete_id,
                exercise=plan.exercise,
                set_index=plan.set_index,
                rep_index=n - 1,
                load=plan.load,
                unit=plan.unit,
                metrics=m,
                velocity_loss_pct=loss,
            )
        )
        if threshold is not None and n > 1 and analysis.stop:
            self._stop(
                SetStop.VELOCITY_LOSS,
                f"STOP VL {loss:.0f}%",
                "velocity_loss_stop",
                f"rep {n} lost {loss:.1f} % of the best rep's velocity "
                f"({analysis.best_velocity_ms:.2f} -> {velocity:.2f} m/s), reaching the "
                f"{threshold:g} % stop threshold",
                analysis,
            )
        elif plan.target_reps is not None and n >= plan.target_reps:
            self._stop(
                SetStop.REP_TARGET,
                f"STOP {n} REPS",
                "rep_target",
                f"rep target of {plan.target_reps} reached",
                analysis,
            )
        elif self._last_rep_next(plan, analysis, n):
            self.offer_cue(last_rep_cue(n))
        else:
            self.offer_cue(rep_cue(n, velocity, colour))

    def _band(self, plan: SetPlan, analysis: SetAnalysis) -> tuple[float, float]:
        if plan.zone_ms is not None:
            return plan.zone_ms
        best = analysis.best_velocity_ms
        loss = plan.velocity_loss_stop_pct or 20.0
        return best * (1.0 - loss / 100.0), best * 1.1

    @staticmethod
    def _last_rep_next(plan: SetPlan, analysis: SetAnalysis, n: int) -> bool:
        if plan.target_reps is not None and n == plan.target_reps - 1:
            return True
        threshold = plan.velocity_loss_stop_pct
        if threshold is None or n < 2:
            return False
        losses = analysis.losses_pct
        step = losses[-1] - losses[-2] if len(losses) >= 2 else 0.0
        expected = losses[-1] + max(step, 0.0)
        return losses[-1] >= threshold - LAST_REP_MARGIN_PCT or expected >= threshold

    def _stop(
        self, stop: SetStop, text: str, rule: str, reason: str, analysis: SetAnalysis
    ) -> None:
        plan = self.plan
        assert plan is not None
        self.stop = stop
        self.offer_cue(stop_cue(text))
        self.publish(
            DecisionEvent(
                station_id=self.station_id,
                decision=Decision(
                    DecisionKind.SET_STOP,
                    "set",
                    "active",
                    stop.value,
                    rule,
                    reason,
                    {
                        "reps": analysis.rep_count,
                        "velocities_ms": [round(v, 4) for v in self.velocities.tolist()],
                        "best_velocity_ms": round(analysis.best_velocity_ms, 4),
                        "velocity_loss_pct": round(analysis.velocity_loss_pct, 2),
                        "threshold_pct": plan.velocity_loss_stop_pct,
                        "target_reps": plan.target_reps,
                    },
                ),
                athlete_id=plan.athlete_id,
                session_id=plan.session_id,
                set_id=plan.set_id,
            )
        )
        self.stopped.set()
        if self.on_stop is not None:
            self.on_stop()

    # -- the end -----------------------------------------------------------------------------

    def finish(self, stop: SetStop, *, load: float | None = None) -> SetResult:
        """End the set (``self.stop`` wins over ``stop`` when a rule ended it); publish it."""
        plan = self.plan
        if plan is None:
            raise RuntimeError("no set to finish")
        final = self.stop or stop
        n = self._n
        analysis = self.analysis
        velocities = tuple(float(v) for v in self._velocities[:n])
        used = plan.load if load is None else load
        event = SetEvent(
            station_id=self.station_id,
            session_id=plan.session_id,
            set_id=plan.set_id,
            athlete_id=plan.athlete_id,
            exercise=plan.exercise,
            set_index=plan.set_index,
            load=used,
            unit=plan.unit,
            reps=n,
            stop=final,
            started_ts=self.started_ts,
            target_reps=plan.target_reps,
            target_load=plan.target_load,
            velocity_loss_pct=analysis.velocity_loss_pct if analysis and n > 1 else None,
            best_velocity_ms=analysis.best_velocity_ms if analysis else None,
            mean_velocity_ms=float(np.mean(self._velocities[:n])) if n else None,
        )
        self.publish(event)
        if analysis is not None and used > 0 and plan.unit == "kg":
            self.publish(
                LoadVelocityPoint(
                    station_id=self.station_id,
                    athlete_id=plan.athlete_id,
                    exercise=plan.exercise,
                    load=used,
                    velocity_ms=analysis.best_velocity_ms,
                    session_id=plan.session_id,
                    set_id=plan.set_id,
                )
            )
        result = SetResult(event, velocities, tuple(self._asymmetry), analysis)
        self.plan = None
        self.stop = final
        return result
