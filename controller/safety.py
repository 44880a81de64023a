"""The safety envelope: every actuator command of a station passes through here.

Two layers, so that the rules can be proven and the I/O stays simple:

* :class:`Envelope` is the rules, as a synchronous state machine that takes the monotonic
  time as an argument and returns a :class:`Verdict` (the device commands to send, the
  decisions, alerts and cues it made). No I/O, no clock of its own: the property tests
  drive it through arbitrary sequences of commands and time.
* :class:`ResistanceDrive` is the station's drive: an async context manager whose one
  worker task is the only caller of ``Adapter.apply`` for the station, sending the
  envelope's commands in order, ticking it (ramps, freshness, announcements), and
  publishing what it decided on the bus.

The rules (``docs/architecture.md``, "Safety envelope"):

1. **Ceiling.** A load never exceeds min(device maximum, the exercise's cap, the athlete's
   cap = e1RM x (1 + margin)); with an eccentric or chains mode, the peak load of the mode
   counts. Requests above it are clamped and the clamp is a ``SAFETY`` decision.
2. **Quantised** to the device's increment (never rounded up past the ceiling), never below
   the device's minimum.
3. **Rate limit.** Increases ramp at most ``max_increase_per_s`` (the lower of the device
   type's and the config's), by the monotonic clock; decreases are applied at once.
4. **Announce before increase.** Between sets, an increase of more than
   ``announce_threshold`` above the load of the last set is announced with a cue and
   applied only once confirmed (``announce_mode = "confirm"``) or once ``announce_s`` has
   passed (``"timeout"``). Starting a set drops an unconfirmed announcement. A ramp stops
   when its set ends.
5. **E-stop latches** (panel, MQTT, the device's button): the device goes to its safe state
   at once (queued commands are dropped, ``EnterSafeState`` goes first) and every load
   request is refused until staff release it (MQTT only if the site allows it).
6. **Safe state on faults**: during a set, actuator data older than ``stale_after``; a
   device fault, a lost link, a command the device refused or did not answer. Staff are
   alerted; the station clears the fault when the device is back (``ResetFault``).
7. **Everything is logged**: each command as a ``CommandEvent`` with its outcome and
   reason, each clamp, delay, refusal and safe state as a ``SAFETY`` decision.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Literal, Self

from controller.config import SafetyConfig
from controller.control_loop import first
from controller.cues import BLANK, Cue, CueKind, confirm_load_cue, estop_cue, fault_cue
from controller.errors import SafetyError
from controller.events import (
    Alert,
    AlertSeverity,
    CommandEvent,
    CommandOutcome,
    CommandSource,
    DecisionEvent,
    Event,
)
from equipment_adapters.base import (
    Adapter,
    Capabilities,
    Command,
    ControlLost,
    DeviceEvent,
    DeviceFault,
    EnterSafeState,
    EquipmentKind,
    EstopButton,
    LinkChanged,
    LinkState,
    LoadRange,
    LoadUnit,
    ModeKind,
    ResetFault,
    ResistanceMode,
    SetLoad,
    SetMode,
    ShowCue,
)
from equipment_adapters.errors import DeviceError
from plans.decisions import Decision, DecisionKind

log = logging.getLogger(__name__)

EPS = 1e-9
MIN_STEP_S = 0.02  #: ramps send at most one step per this interval

#: How old the actuator's data may be during a set when the config does not say.
DEFAULT_STALE_AFTER_S: Mapping[EquipmentKind, float] = {
    EquipmentKind.RACK: 0.25,
    EquipmentKind.BIKE: 2.5,  # FTMS Indoor Bike Data comes at about 1 Hz
}

AnnounceMode = Literal["confirm", "timeout"]


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Limits:
    """Who is at the station and what they lift: the athlete's and the exercise's caps."""

    athlete_id: str | None = None
    exercise: str | None = None
    athlete_e1rm: float | None = None  #: in the device's unit; None: no athlete cap
    margin_pct: float = 10.0
    exercise_cap: float | None = None  #: overrides the site config's cap for the exercise


@dataclass(frozen=True, slots=True)
class EnvelopeSettings:
    load: LoadRange
    rate_per_s: float
    stale_after_s: float = 0.25
    announce_threshold: float = 5.0
    announce_mode: AnnounceMode = "confirm"
    announce_s: float = 8.0
    modes: frozenset[ModeKind] = frozenset({ModeKind.STANDARD})
    exercise_caps: Mapping[str, float] = field(default_factory=dict)
    travel_m: float = 1.0  #: the longest travel of the bar or cable (chains mode's peak)
    remote_release: bool = False

    @classmethod
    def for_device(
        cls, capabilities: Capabilities, safety: SafetyConfig, *, remote_release: bool = False
    ) -> EnvelopeSettings:
        """The settings of one actuator from its capabilities and the station's config."""
        load = capabilities.load
        if load is None:
            raise SafetyError(f"{capabilities.model}: has no actuator to put an envelope on")
        rate = load.max_increase_per_s
        if safety.max_increase_per_s is not None:
            rate = min(rate, safety.max_increase_per_s)
        stale = (
            safety.stale_after_ms / 1000.0
            if safety.stale_after_ms is not None
            else DEFAULT_STALE_AFTER_S.get(capabilities.kind, 0.25)
        )
        travel = float(capabilities.details.get("travel_m", "1.0"))
        return cls(
            load=load,
            rate_per_s=rate,
            stale_after_s=stale,
            announce_threshold=safety.announce_threshold,
            announce_mode=safety.announce_mode,
            announce_s=safety.announce_s,
            modes=frozenset({ModeKind.STANDARD, *capabilities.modes}),
            exercise_caps=dict(safety.exercise_caps),
            travel_m=travel,
            remote_release=remote_release,
        )


@dataclass(frozen=True, slots=True)
class AlertSpec:
    severity: AlertSeverity
    code: str
    message: str
    cleared: bool = False


@dataclass(slots=True)
class Verdict:
    """What the envelope decided about one command (or one tick)."""

    outcome: CommandOutcome
    reason: str
    target: float | None = None
    commands: list[Command] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    alerts: list[AlertSpec] = field(default_factory=list)
    cues: list[Cue] = field(default_factory=list)
    clear_cues: list[CueKind] = field(default_factory=list)  #: cues whose reason has ended
    #: the commands go before anything already queued, which is dropped (e-stop, fault)
    preempt: bool = False
    fault: str | None = None  #: set when this verdict put the device in its safe state

    def merge(self, other: Verdict) -> None:
        self.commands.extend(other.commands)
        self.decisions.extend(other.decisions)
        self.alerts.extend(other.alerts)
        self.cues.extend(other.cues)
        self.clear_cues.extend(other.clear_cues)
        self.preempt = self.preempt or other.preempt
        self.fault = self.fault or other.fault


@dataclass(frozen=True, slots=True)
class _Pending:
    value: float
    since: float
    source: CommandSource
    reason: str


def _q_down(value: float, step: float) -> float:
    if step <= 0:
        return value
    return round(math.floor(value / step + EPS) * step, 9)


def _q_up(value: float, step: float) -> float:
    if step <= 0:
        return value
    return round(math.ceil(value / step - EPS) * step, 9)


def _q_near(value: float, step: float) -> float:
    if step <= 0:
        return value
    return round(round(value / step) * step, 9)


# -- the rules --------------------------------------------------------------------------


class Envelope:
    """The safety rules of one actuator, as a state machine on the monotonic time ``now``."""

    def __init__(self, settings: EnvelopeSettings, *, station_id: str = "") -> None:
        if settings.rate_per_s <= 0:
            raise SafetyError("the rate limit on increases must be positive")
        self.settings = settings
        self.station_id = station_id
        self.limits = Limits()
        self.mode = ResistanceMode()
        self.level: float | None = None  #: last load sent; None: safe state (motor off)
        self.target: float | None = None
        self._anchor: tuple[float, float] | None = None  #: (level, time) a ramp started at
        self.pending: _Pending | None = None
        self.estop_reason: str | None = None
        self.fault_reason: str | None = None
        self.in_set = False
        self.last_fresh: float | None = None
        self.floor = _q_up(settings.load.minimum, settings.load.increment)
        self.reference = self.floor  #: the load of the last set: announcements count from it
        self.confirmed = self.floor  #: the highest load confirmed since the last set

    # -- what the envelope allows ---------------------------------------------------------

    @property
    def unit(self) -> str:
        return self.settings.load.unit.value

    @property
    def subject(self) -> str:
        return f"load_{self.settings.load.unit.value.lower()}"

    def ceiling_parts(self) -> dict[str, float]:
        """The caps in force, by name (the inputs of every clamp decision)."""
        parts = {"device_max": self.settings.load.maximum}
        cap = self.limits.exercise_cap
        if cap is None and self.limits.exercise is not None:
            cap = self.settings.exercise_caps.get(self.limits.exercise)
        if cap is not None:
            parts["exercise_cap"] = cap
        if self.limits.athlete_e1rm is not None:
            parts["athlete_cap"] = self.limits.athlete_e1rm * (1 + self.limits.margin_pct / 100)
        return parts

    def ceiling(self) -> float:
        """The most the device may ever see (the peak of the mode included)."""
        return min(self.ceiling_parts().values())

    def peak(self, base: float, mode: ResistanceMode | None = None) -> float:
        """The highest load the device applies for a base load under a mode."""
        mode = mode or self.mode
        if mode.kind is ModeKind.ECCENTRIC:
            return base * (1 + mode.eccentric_pct / 100)
        if mode.kind is ModeKind.CHAINS:
            return base + mode.chains_kg_per_m * self.settings.travel_m
        return base

    def base_ceiling(self) -> float:
        """The highest base load whose peak under the current mode stays under the ceiling."""
        ceiling = self.ceiling()
        if self.mode.kind is ModeKind.ECCENTRIC:
            ceiling /= 1 + self.mode.eccentric_pct / 100
        elif self.mode.kind is ModeKind.CHAINS:
            ceiling -= self.mode.chains_kg_per_m * self.settings.travel_m
        return _q_down(ceiling, self.settings.load.increment)

    @property
    def current(self) -> float:
        return self.level if self.level is not None else self.floor

    @property
    def safe(self) -> bool:
        """The device is (being put) in its safe state and may not be loaded."""
        return self.estop_reason is not None or self.fault_reason is not None

    def at_target(self) -> bool:
        return self.pending is None and (self.target is None or self.current >= self.target - EPS)

    def _decision(
        self, rule: str, reason: str, before: object, after: object, **inputs: object
    ) -> Decision:
        return Decision(
            DecisionKind.SAFETY,
            self.subject,
            before,
            after,
            rule,
            reason,
            {**self.ceiling_parts(), **inputs},
        )

    def _refuse(self, reason: str, rule: str, requested: object) -> Verdict:
        verdict = Verdict(CommandOutcome.REFUSED, reason, target=self.target)
        verdict.decisions.append(self._decision(rule, reason, requested, self.level))
        return verdict

    def _to_safe_state(self) -> list[Command]:
        self.level = None
        self.target = None
        self._anchor = None
        self.pending = None
        self.reference = self.confirmed = self.floor
        return [EnterSafeState()]

    # -- commands -------------------------------------------------------------------------

    def request_load(
        self, value: float, *, source: CommandSource, now: float, reason: str = ""
    ) -> Verdict:
        """A new target load from any source (plan, autoregulation, staff, MQTT)."""
        unit = self.unit
        if not math.isfinite(value) or value < 0:
            return self._refuse(f"{value!r} is not a load", "invalid_value", value)
        if self.estop_reason is not None:
            return self._refuse(
                f"e-stop latched ({self.estop_reason}): only staff can release it",
                "estop_latched",
                value,
            )
        if self.fault_reason is not None:
            return self._refuse(
                f"the station is in its safe state ({self.fault_reason})", "safe_state", value
            )
        ceiling = self.base_ceiling()
        if ceiling < self.floor - EPS:
            return self._refuse(
                f"the ceiling {ceiling:g} {unit} is below the device's minimum "
                f"{self.floor:g} {unit}",
                "ceiling_below_minimum",
                value,
            )
        verdict = Verdict(CommandOutcome.APPLIED, reason or "as requested")
        wanted = value
        if value > ceiling + EPS:
            wanted = ceiling
            caps = ", ".join(f"{k} {v:g}" for k, v in self.ceiling_parts().items())
            why = f"{value:g} {unit} is above the ceiling of {ceiling:g} {unit} ({caps})"
            verdict.outcome = CommandOutcome.CLAMPED
            verdict.reason = why
            verdict.decisions.append(
                self._decision("ceiling", why, value, ceiling, source=source.value)
            )
        wanted = _q_near(wanted, self.settings.load.increment)
        if wanted > ceiling + EPS:
            wanted = ceiling
        wanted = max(wanted, self.floor)
        if wanted <= self.current + EPS:
            self._apply_at_once(wanted, verdict)
        elif not self.in_set and self._needs_announcement(wanted):
            self.pending = _Pending(wanted, now, source, reason)
            threshold = self.settings.announce_threshold
            how = (
                "waiting for the athlete's confirmation"
                if self.settings.announce_mode == "confirm"
                else f"applied in {self.settings.announce_s:g} s unless cancelled"
            )
            why = (
                f"increase from {self.reference:g} to {wanted:g} {unit} is more than "
                f"{threshold:g} {unit} above the last set: announced, {how}"
            )
            verdict.outcome = CommandOutcome.ANNOUNCED
            verdict.reason = why
            verdict.decisions.append(
                self._decision(
                    "announce_before_increase",
                    why,
                    self.current,
                    wanted,
                    threshold=threshold,
                    source=source.value,
                )
            )
            verdict.cues.append(confirm_load_cue(wanted, unit, ttl_s=self.settings.announce_s))
        else:
            self.pending = None
            self._start_ramp(wanted, now, verdict)
            if verdict.outcome is CommandOutcome.APPLIED:
                verdict.outcome = CommandOutcome.RAMPING
                verdict.reason = (
                    f"ramping to {wanted:g} {unit} at {self.settings.rate_per_s:g} {unit}/s"
                )
        verdict.target = self.pending.value if self.pending else self.target
        return verdict

    def _needs_announcement(self, value: float) -> bool:
        threshold = self.settings.announce_threshold
        return value > max(self.reference + threshold, self.confirmed) + EPS

    def _apply_at_once(self, value: float, verdict: Verdict) -> None:
        if self.pending is not None:
            self.pending = None
        self.target = value
        self._anchor = None
        if self.level is None or abs(value - self.level) > EPS:
            verdict.commands.append(SetLoad(value))
            self.level = value

    def _start_ramp(self, value: float, now: float, verdict: Verdict) -> None:
        if self.level is None:  # leaving the safe state: the motor starts at the minimum
            verdict.commands.append(SetLoad(self.floor))
            self.level = self.floor
        ramping = self.target is not None and self.target > self.level + EPS and self._anchor
        if not ramping:
            self._anchor = (self.level, now)
        self.target = value

    def confirm(self, *, source: CommandSource, now: float) -> Verdict:
        """The athlete (or staff) confirms the announced increase."""
        if self.pending is None:
            return Verdict(CommandOutcome.REFUSED, "no announced increase to confirm", self.target)
        if self.safe:
            self.pending = None
            return self._refuse("the station is in its safe state", "safe_state", None)
        pending = self.pending
        self.pending = None
        self.confirmed = max(self.confirmed, pending.value)
        verdict = Verdict(
            CommandOutcome.RAMPING,
            f"confirmed by {source.value}: ramping to {pending.value:g} {self.unit}",
        )
        self._start_ramp(min(pending.value, self.base_ceiling()), now, verdict)
        verdict.target = self.target
        return verdict

    def estop(self, *, source: CommandSource, reason: str, now: float) -> Verdict:
        """Latch the e-stop and put the device in its safe state, before anything queued."""
        del now
        first = self.estop_reason is None
        self.estop_reason = f"{source.value}: {reason}" if reason else source.value
        self.in_set = False
        before = self.level
        verdict = Verdict(CommandOutcome.APPLIED, f"e-stop by {self.estop_reason}", None)
        verdict.commands = self._to_safe_state()
        verdict.preempt = True
        if first:
            message = f"station {self.station_id}: e-stop ({self.estop_reason})"
            verdict.alerts.append(AlertSpec(AlertSeverity.CRITICAL, "estop", message))
            verdict.cues.append(estop_cue())
            verdict.decisions.append(
                self._decision("estop", f"e-stop by {self.estop_reason}", before, None)
            )
        return verdict

    def release(self, *, source: CommandSource, by: str | None, now: float) -> Verdict:
        """Staff release a latched e-stop; the device stays unloaded until a new request."""
        del now
        if self.estop_reason is None:
            return Verdict(CommandOutcome.REFUSED, "the e-stop is not latched", self.target)
        allowed = source is CommandSource.STAFF or (
            source is CommandSource.MQTT and self.settings.remote_release
        )
        if not allowed:
            return self._refuse(
                f"only staff can release an e-stop (not {source.value})", "release_by_staff", None
            )
        who = by or source.value
        self.estop_reason = None
        verdict = Verdict(CommandOutcome.APPLIED, f"e-stop released by {who}", None)
        verdict.commands.append(ResetFault())
        verdict.clear_cues.append(CueKind.ESTOP)
        verdict.alerts.append(
            AlertSpec(
                AlertSeverity.INFO,
                "estop",
                f"station {self.station_id}: e-stop released by {who}",
                cleared=True,
            )
        )
        return verdict

    def set_mode(self, mode: ResistanceMode, *, source: CommandSource, now: float) -> Verdict:
        """Change the resistance mode (between sets), its peak clamped under the ceiling."""
        del now
        if self.safe:
            return self._refuse("the station is in its safe state", "safe_state", mode.kind.value)
        if mode.kind not in self.settings.modes:
            return self._refuse(
                f"the device has no {mode.kind.value} mode", "unsupported_mode", mode.kind.value
            )
        if self.in_set and mode.kind is not ModeKind.STANDARD:
            return self._refuse(
                "the mode changes between sets only", "mode_between_sets", mode.kind.value
            )
        if mode.kind in (ModeKind.ECCENTRIC, ModeKind.CHAINS) and (
            self.settings.load.unit is not LoadUnit.KG
        ):
            return self._refuse(
                f"{mode.kind.value} needs a load in kg", "unsupported_mode", mode.kind.value
            )
        if not all(
            math.isfinite(x) and x >= 0
            for x in (mode.eccentric_pct, mode.chains_kg_per_m, mode.spotter_velocity_ms)
        ):
            return self._refuse("mode parameters must be finite and >= 0", "invalid_value", None)
        verdict = Verdict(CommandOutcome.APPLIED, f"mode {mode.kind.value} ({source.value})")
        base = max(self.current, self.target or 0.0)
        ceiling = self.ceiling()
        if self.peak(base, mode) > ceiling + EPS:
            if mode.kind is ModeKind.ECCENTRIC:
                pct = math.floor(max(0.0, (ceiling / base - 1) * 100) * 10) / 10 if base else 0.0
                clamped = replace(mode, eccentric_pct=pct)
                what = f"eccentric overload {mode.eccentric_pct:g} % -> {pct:g} %"
            else:
                per_m = math.floor(max(0.0, (ceiling - base) / self.settings.travel_m) * 10) / 10
                clamped = replace(mode, chains_kg_per_m=per_m)
                what = f"chains {mode.chains_kg_per_m:g} -> {per_m:g} kg/m"
            why = f"{what}: the peak would pass the ceiling of {ceiling:g} {self.unit}"
            verdict.outcome = CommandOutcome.CLAMPED
            verdict.reason = why
            verdict.decisions.append(self._decision("mode_ceiling", why, mode.kind.value, what))
            mode = clamped
        self.mode = mode
        verdict.commands.append(SetMode(mode))
        return verdict

    def set_limits(self, limits: Limits, *, now: float) -> Verdict:
        """A new athlete or exercise: caps change, and a new athlete starts from the minimum."""
        del now
        new_athlete = limits.athlete_id != self.limits.athlete_id
        self.limits = limits
        verdict = Verdict(CommandOutcome.APPLIED, "limits updated", self.target)
        if self.safe:
            return verdict
        if new_athlete:
            self.pending = None
            self.target = None
            self._anchor = None
            self.reference = self.confirmed = self.floor
            if self.level is not None and self.level > self.floor + EPS:
                why = "a new athlete at the station: the load goes back to the minimum"
                verdict.decisions.append(
                    self._decision("athlete_change", why, self.level, self.floor)
                )
                verdict.commands.append(SetLoad(self.floor))
                self.level = self.floor
        ceiling = max(self.base_ceiling(), self.floor)
        if self.level is not None and self.level > ceiling + EPS:
            why = f"the ceiling went down to {ceiling:g} {self.unit}: load lowered at once"
            verdict.decisions.append(self._decision("ceiling", why, self.level, ceiling))
            verdict.commands.append(SetLoad(ceiling))
            self.level = ceiling
        if self.target is not None and self.target > ceiling + EPS:
            self.target = ceiling
        if self.pending is not None and self.pending.value > ceiling + EPS:
            self.pending = replace(self.pending, value=ceiling)
        return verdict

    # -- sets, data, faults -----------------------------------------------------------------

    def begin_set(self, *, now: float) -> Verdict:
        verdict = Verdict(CommandOutcome.APPLIED, "set started", self.target)
        if self.safe:
            return verdict
        if self.pending is not None:
            why = (
                f"the set started before the increase to {self.pending.value:g} {self.unit} "
                "was confirmed: it is not applied"
            )
            verdict.decisions.append(
                self._decision("announce_unconfirmed", why, self.current, self.current)
            )
            self.pending = None
        self.in_set = True
        if self.last_fresh is None or now - self.last_fresh > self.settings.stale_after_s:
            self.last_fresh = now  # the freshness clock starts with the set
        return verdict

    def end_set(self, *, now: float) -> Verdict:
        del now
        self.in_set = False
        if self.target is not None and self.target > self.current + EPS:
            self.target = self.current  # a ramp does not carry on into the rest
            self._anchor = None
        self.reference = self.confirmed = self.current
        return Verdict(CommandOutcome.APPLIED, "set ended", self.target)

    def fresh(self, at: float) -> None:
        """The actuator delivered data at monotonic time ``at``."""
        if self.last_fresh is None or at > self.last_fresh:
            self.last_fresh = at

    def device_fault(self, reason: str, *, now: float) -> Verdict:
        """A device fault, a lost link, a refused command: safe state and an alert."""
        del now
        if self.fault_reason is not None:
            return Verdict(CommandOutcome.APPLIED, f"already in safe state ({self.fault_reason})")
        before = self.level
        self.fault_reason = reason
        self.in_set = False
        verdict = Verdict(CommandOutcome.APPLIED, f"safe state: {reason}", fault=reason)
        verdict.commands = self._to_safe_state()
        verdict.preempt = True
        message = f"station {self.station_id}: safe state, {reason}; staff needed"
        verdict.alerts.append(AlertSpec(AlertSeverity.CRITICAL, "safe_state", message))
        if self.estop_reason is None:
            verdict.cues.append(fault_cue())
        verdict.decisions.append(self._decision("fault_safe_state", message, before, None))
        return verdict

    def clear_fault(self, *, reason: str, now: float) -> Verdict:
        """The device is back: clear the latched fault (device and envelope), stay unloaded."""
        del now
        if self.fault_reason is None:
            return Verdict(CommandOutcome.REFUSED, "no fault to clear")
        old = self.fault_reason
        self.fault_reason = None
        verdict = Verdict(CommandOutcome.APPLIED, f"fault cleared: {reason}")
        verdict.commands.append(ResetFault())
        verdict.clear_cues.append(CueKind.FAULT)
        verdict.alerts.append(
            AlertSpec(
                AlertSeverity.INFO,
                "safe_state",
                f"station {self.station_id}: fault ({old}) cleared, {reason}",
                cleared=True,
            )
        )
        return verdict

    def tick(self, now: float) -> Verdict:
        """Time passes: staleness, announcements that elapse, the next step of a ramp."""
        verdict = Verdict(CommandOutcome.APPLIED, "tick", self.target)
        if self.safe:
            return verdict
        if self.in_set and (
            self.last_fresh is None or now - self.last_fresh > self.settings.stale_after_s
        ):
            age = "never" if self.last_fresh is None else f"{(now - self.last_fresh) * 1000:.0f} ms"
            return self.device_fault(
                f"stale data during a set (last sample: {age} ago, limit "
                f"{self.settings.stale_after_s * 1000:.0f} ms)",
                now=now,
            )
        pending = self.pending
        if pending is not None and now - pending.since >= self.settings.announce_s:
            self.pending = None
            if self.settings.announce_mode == "timeout":
                why = (
                    f"announced {self.settings.announce_s:g} s ago without objection: "
                    f"ramping to {pending.value:g} {self.unit}"
                )
                self.confirmed = max(self.confirmed, pending.value)
                verdict.decisions.append(
                    self._decision("announce_elapsed", why, self.current, pending.value)
                )
                self._start_ramp(min(pending.value, self.base_ceiling()), now, verdict)
            else:
                why = (
                    f"the increase to {pending.value:g} {self.unit} was not confirmed within "
                    f"{self.settings.announce_s:g} s: the load stays at {self.current:g}"
                )
                verdict.decisions.append(
                    self._decision("announce_expired", why, self.current, self.current)
                )
        self._ramp_step(now, verdict)
        verdict.target = self.target
        return verdict

    def _ramp_step(self, now: float, verdict: Verdict) -> None:
        if self.target is None or self.level is None or self._anchor is None:
            return
        if self.target <= self.level + EPS:
            self._anchor = None
            return
        start_level, start_time = self._anchor
        allowed = start_level + self.settings.rate_per_s * max(0.0, now - start_time)
        reach = min(self.target, allowed)
        if reach < self.target - EPS and reach - self.level < self._min_step() - EPS:
            return  # not worth a command yet (a continuous device is not sent 10 kHz)
        step = _q_down(reach, self.settings.load.increment)
        if step > self.level + EPS:
            verdict.commands.append(SetLoad(step))
            self.level = step
            # each step counts from the last one: quantisation never lets a step catch up
            # faster than the rate (between any two commands, not only on average)
            self._anchor = (step, now)
        if self.level >= self.target - EPS:
            self._anchor = None

    def acknowledge(self, value: float, *, at: float) -> None:
        """The device took ``SetLoad(value)`` at ``at``: the next step counts from then.

        So a command that was slow to reach the device is never followed at once by the
        next step: the rate holds at the device, not only where the steps were decided.
        """
        if self._anchor is not None and self.level is not None and abs(self.level - value) <= EPS:
            self._anchor = (value, max(self._anchor[1], at))

    def next_step_at(self) -> float | None:
        """When the ramp may take its next increment (None when there is no ramp)."""
        if self._anchor is None or self.target is None or self.level is None or self.safe:
            return None
        step = min(self._min_step(), self.target - self.level)
        return self._anchor[1] + step / self.settings.rate_per_s

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`tick` has something to do, given what is known
        now: the data turning stale during a set (from the newest sample seen so far), an
        announcement elapsing, the ramp's next step. None: nothing until something changes.

        The drive sleeps until then instead of polling, so a thousand idle stations cost
        nothing between their events; fresher data only moves the staleness deadline later,
        and the drive re-reads it when it wakes.
        """
        if self.safe:
            return None
        at = self.next_step_at()
        if self.in_set:
            stale = -math.inf if self.last_fresh is None else self.last_fresh
            stale += self.settings.stale_after_s
            at = stale if at is None else min(at, stale)
        pending = self.pending
        if pending is not None:
            expires = pending.since + self.settings.announce_s
            at = expires if at is None else min(at, expires)
        return at

    def _min_step(self) -> float:
        """The smallest ramp step: one increment, and no more than one step per
        ``MIN_STEP_S`` (devices with continuous loads get at most 50 commands a second)."""
        return max(self.settings.load.increment, self.settings.rate_per_s * MIN_STEP_S, EPS)


# -- the drive --------------------------------------------------------------------------

Publish = Callable[[Event], None]


def _keep_cancelled(task: asyncio.Task[Any] | None, before: int, error: BaseException) -> None:
    """The drive's task was cancelled while a device command ran, and the library under the
    adapter turned the cancellation into its own error (pymodbus makes it a lost
    connection): stay cancelled. Swallowed, the drive would never stop, and on Python 3.11
    every ``asyncio.timeout`` of its loop would then take the pending cancellation for its
    own expiry (a livelock that held a site's shutdown forever)."""
    if task is not None and task.cancelling() > before:
        raise asyncio.CancelledError() from error


class ResistanceDrive:
    """A station's drive: the envelope plus the one task that talks to its devices.

    ``actuator`` is the adapter whose load the envelope guards (None for a station without
    one, such as a band); ``displays`` are further adapters that show cues (a band's LED).
    The public methods are synchronous and never wait for a device: they decide at once,
    publish what they decided, and queue the commands; the worker task sends them in order.
    ``await settle()`` waits until everything queued has been sent.

    The station forwards its adapters' events to :meth:`on_device_event` and its set
    boundaries to :meth:`begin_set` / :meth:`end_set`; freshness is read from the
    actuator's ``last_fresh`` at every tick.

    The worker sleeps until the envelope's next deadline (staleness during a set, an
    announcement elapsing, a ramp step: :meth:`Envelope.next_deadline`) or until a command
    wakes it, at most ``tick_s``; it does not poll, because a site runs a thousand of them.
    """

    def __init__(
        self,
        *,
        station_id: str,
        actuator: Adapter | None,
        publish: Publish,
        displays: Sequence[Adapter] = (),
        safety: SafetyConfig | None = None,
        settings: EnvelopeSettings | None = None,
        on_cue: Callable[[Cue], object] | None = None,
        on_clear_cue: Callable[[CueKind | None], object] | None = None,
        on_fault: Callable[[str], object] | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick_s: float = 0.5,
        apply_timeout_s: float = 1.0,
        remote_release: bool = False,
    ) -> None:
        self.station_id = station_id
        self.actuator = actuator
        self.displays = tuple(displays)
        self.publish = publish
        self.on_cue = on_cue
        self.on_clear_cue = on_clear_cue
        self.on_fault = on_fault
        self.clock = clock
        self.tick_s = tick_s
        self.apply_timeout_s = apply_timeout_s
        self._safety = safety or SafetyConfig()
        self._settings = settings
        self._remote_release = remote_release
        self.envelope: Envelope | None = None
        self._estop_reason: str | None = None  # for stations without an actuator
        self._outbox: deque[tuple[Adapter, Command]] = deque()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._drained: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._group: asyncio.TaskGroup | None = None
        self.session_id: str | None = None
        self.set_id: str | None = None
        self.applied = 0  #: commands the devices took

    # -- lifecycle ---------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self.actuator is not None:
            settings = self._settings or EnvelopeSettings.for_device(
                self.actuator.capabilities, self._safety, remote_release=self._remote_release
            )
            self.envelope = Envelope(settings, station_id=self.station_id)
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._group = asyncio.TaskGroup()
        await self._group.__aenter__()
        self._task = self._group.create_task(self._run(), name=f"drive:{self.station_id}")
        if self.actuator is not None:
            self._queue([(self.actuator, EnterSafeState())])  # every station starts safe
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
        assert self._group is not None
        await self._group.__aexit__(None, None, None)
        if self.actuator is not None and self.actuator.link is LinkState.CONNECTED:
            try:  # best effort on the way out: the device's own watchdog backs us
                async with asyncio.timeout(self.apply_timeout_s):
                    await self.actuator.apply(EnterSafeState())
            except (DeviceError, TimeoutError) as error:
                log.warning("station %s: safe state on exit failed: %s", self.station_id, error)
            except Exception:
                log.exception("station %s: safe state on exit raised", self.station_id)

    # -- commands (synchronous: decide now, send in order) ---------------------------------

    @property
    def estopped(self) -> bool:
        if self.envelope is not None:
            return self.envelope.estop_reason is not None
        return self._estop_reason is not None

    @property
    def in_safe_state(self) -> bool:
        return self.estopped or (self.envelope is not None and self.envelope.safe)

    def request_load(
        self,
        value: float,
        *,
        source: CommandSource,
        reason: str = "",
        by: str | None = None,
    ) -> Verdict:
        envelope = self._need_envelope()
        verdict = envelope.request_load(value, source=source, now=self.clock(), reason=reason)
        return self._handle(verdict, verb="load", source=source, requested=value, by=by)

    def confirm(
        self, *, source: CommandSource = CommandSource.ATHLETE, by: str | None = None
    ) -> Verdict:
        verdict = self._need_envelope().confirm(source=source, now=self.clock())
        return self._handle(verdict, verb="confirm", source=source, by=by)

    def set_mode(
        self, mode: ResistanceMode, *, source: CommandSource, by: str | None = None
    ) -> Verdict:
        verdict = self._need_envelope().set_mode(mode, source=source, now=self.clock())
        return self._handle(
            verdict, verb="mode", source=source, by=by, params={"mode": mode.kind.value}
        )

    def estop(self, *, source: CommandSource, reason: str = "", by: str | None = None) -> Verdict:
        """Latch the e-stop; the safe-state command is sent before anything queued."""
        if self.envelope is not None:
            verdict = self.envelope.estop(source=source, reason=reason, now=self.clock())
        else:
            first = self._estop_reason is None
            self._estop_reason = f"{source.value}: {reason}" if reason else source.value
            verdict = Verdict(CommandOutcome.APPLIED, f"e-stop by {self._estop_reason}")
            if first:
                verdict.alerts.append(
                    AlertSpec(
                        AlertSeverity.CRITICAL,
                        "estop",
                        f"station {self.station_id}: e-stop ({self._estop_reason})",
                    )
                )
                verdict.cues.append(estop_cue())
        return self._handle(verdict, verb="estop", source=source, by=by, params={"reason": reason})

    def release(self, *, by: str | None, source: CommandSource = CommandSource.STAFF) -> Verdict:
        if self.envelope is not None:
            verdict = self.envelope.release(source=source, by=by, now=self.clock())
        elif self._estop_reason is None:
            verdict = Verdict(CommandOutcome.REFUSED, "the e-stop is not latched")
        elif source is not CommandSource.STAFF and not (
            source is CommandSource.MQTT and self._remote_release
        ):
            verdict = Verdict(
                CommandOutcome.REFUSED, f"only staff can release an e-stop (not {source.value})"
            )
        else:
            self._estop_reason = None
            verdict = Verdict(CommandOutcome.APPLIED, f"e-stop released by {by or source.value}")
            verdict.clear_cues.append(CueKind.ESTOP)
            verdict.alerts.append(
                AlertSpec(
                    AlertSeverity.INFO,
                    "estop",
                    f"station {self.station_id}: e-stop released",
                    cleared=True,
                )
            )
        return self._handle(verdict, verb="release", source=source, by=by)

    def set_limits(self, limits: Limits) -> Verdict:
        verdict = self._need_envelope().set_limits(limits, now=self.clock())
        return self._handle(verdict, verb="limits", source=CommandSource.SYSTEM, log_command=False)

    def begin_set(self, *, set_id: str | None = None) -> None:
        self.set_id = set_id
        if self.envelope is not None:
            self._handle(
                self.envelope.begin_set(now=self.clock()),
                verb="begin_set",
                source=CommandSource.SYSTEM,
                log_command=False,
            )

    def end_set(self) -> None:
        if self.envelope is not None:
            self._handle(
                self.envelope.end_set(now=self.clock()),
                verb="end_set",
                source=CommandSource.SYSTEM,
                log_command=False,
            )

    def clear_fault(self, *, reason: str) -> Verdict:
        verdict = self._need_envelope().clear_fault(reason=reason, now=self.clock())
        return self._handle(verdict, verb="clear_fault", source=CommandSource.SYSTEM)

    def show_cue(self, cue: Cue | None) -> None:
        """Send a cue to every display of the station (the actuator's, if it has one);
        None blanks them."""
        command = ShowCue(cue.to_device() if cue is not None else BLANK)
        targets = list(self.displays)
        if self.actuator is not None and self._has_display(self.actuator):
            targets.insert(0, self.actuator)
        self._queue([(adapter, command) for adapter in targets])

    def on_device_event(self, event: DeviceEvent) -> None:
        """The station forwards its adapters' events here (a sync callback, on the loop)."""
        actuator_id = self.actuator.device_id if self.actuator is not None else None
        match event:
            case EstopButton(pressed=True):
                self.estop(source=CommandSource.DEVICE, reason=f"{event.device_id} e-stop button")
            case DeviceFault() if event.device_id == actuator_id:
                self._fault(f"device fault: {event.description} (code {event.code})")
            case ControlLost() if event.device_id == actuator_id:
                self._fault("the device took back control")
            case LinkChanged(state=LinkState.DISCONNECTED | LinkState.FAULT) if (
                event.device_id == actuator_id
            ):
                self._fault(f"link {event.state.value}: {event.reason or 'no reason given'}")
            case LinkChanged(state=LinkState.CONNECTED) if event.device_id == actuator_id:
                assert self.actuator is not None
                self._queue([(self.actuator, EnterSafeState())])  # whatever it was, start safe
            case _:
                pass

    async def settle(self) -> None:
        """Wait until every queued command has been sent (or has failed)."""
        assert self._drained is not None
        await self._drained.wait()

    # -- internals ---------------------------------------------------------------------

    def _need_envelope(self) -> Envelope:
        if self.envelope is None:
            raise SafetyError(f"station {self.station_id} has no actuator")
        return self.envelope

    @staticmethod
    def _has_display(adapter: Adapter) -> bool:
        try:
            return adapter.capabilities.cue_display
        except DeviceError:
            return False

    def _fault(self, reason: str) -> None:
        if self.envelope is not None:
            self._handle(
                self.envelope.device_fault(reason, now=self.clock()),
                verb="fault",
                source=CommandSource.SYSTEM,
                log_command=False,
            )

    def _queue(self, items: list[tuple[Adapter, Command]], *, preempt: bool = False) -> None:
        if preempt:
            kept = [
                (a, c) for a, c in self._outbox if a is not self.actuator or isinstance(c, ShowCue)
            ]
            self._outbox.clear()
            self._outbox.extend(items)
            self._outbox.extend(kept)
        else:
            self._outbox.extend(items)
        if self._outbox and self._drained is not None:
            self._drained.clear()
        self._wake_worker()

    def _wake_worker(self) -> None:
        # on the site's ControlLoop the worker runs right after the current callback, ahead
        # of the panel's work: a cue or a safe state does not queue behind a web request
        if self._wake is not None:
            with first(self._loop):
                self._wake.set()

    def _handle(
        self,
        verdict: Verdict,
        *,
        verb: str,
        source: CommandSource,
        requested: float | None = None,
        by: str | None = None,
        params: dict[str, object] | None = None,
        log_command: bool = True,
    ) -> Verdict:
        self._wake_worker()  # a set began, an announcement: the worker's deadline moved
        if verdict.commands and self.actuator is not None:
            self._queue([(self.actuator, c) for c in verdict.commands], preempt=verdict.preempt)
        athlete = self.envelope.limits.athlete_id if self.envelope is not None else None
        for decision in verdict.decisions:
            self.publish(
                DecisionEvent(
                    station_id=self.station_id,
                    decision=decision,
                    athlete_id=athlete,
                    session_id=self.session_id,
                    set_id=self.set_id,
                )
            )
        for spec in verdict.alerts:
            self.publish(
                Alert(
                    station_id=self.station_id,
                    severity=spec.severity,
                    code=spec.code,
                    message=spec.message,
                    athlete_id=athlete,
                    cleared=spec.cleared,
                )
            )
        if log_command:
            level = logging.WARNING if verdict.outcome is CommandOutcome.REFUSED else logging.INFO
            log.log(
                level,
                "station %s: %s from %s%s: %s (%s)",
                self.station_id,
                verb,
                source.value,
                f" ({by})" if by else "",
                verdict.outcome.value,
                verdict.reason,
            )
            self.publish(
                CommandEvent(
                    station_id=self.station_id,
                    source=source,
                    verb=verb,
                    outcome=verdict.outcome,
                    reason=verdict.reason,
                    requested=requested,
                    target=verdict.target,
                    by=by,
                    athlete_id=athlete,
                    params=dict(params or {}),
                )
            )
        for cue in verdict.cues:
            if self.on_cue is not None:
                self.on_cue(cue)
            else:
                self.show_cue(cue)
        for kind in verdict.clear_cues:
            if self.on_clear_cue is not None:
                self.on_clear_cue(kind)
            else:
                self.show_cue(None)
        if verdict.fault is not None and self.on_fault is not None:
            self.on_fault(verdict.fault)  # the station's state follows its drive
        return verdict

    async def _run(self) -> None:
        assert self._wake is not None
        assert self._drained is not None
        task = asyncio.current_task()
        while True:
            if task is not None and task.cancelling():
                raise asyncio.CancelledError  # a cancellation something below swallowed
            self._wake.clear()
            if self.envelope is not None and self.actuator is not None:
                fresh = self.actuator.last_fresh
                if fresh is not None:
                    self.envelope.fresh(fresh)
                tick = self.envelope.tick(self.clock())
                if tick.commands or tick.decisions or tick.alerts or tick.cues:
                    self._handle(tick, verb="tick", source=CommandSource.SYSTEM, log_command=False)
            while self._outbox:
                adapter, command = self._outbox.popleft()
                await self._apply(adapter, command)
            self._drained.set()
            wait = self.tick_s
            if self.envelope is not None and (at := self.envelope.next_deadline()) is not None:
                wait = min(wait, max(0.0, at - self.clock()) + 1e-4)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await self._wake.wait()

    async def _apply(self, adapter: Adapter, command: Command) -> None:
        task = asyncio.current_task()
        cancelling = task.cancelling() if task is not None else 0
        try:
            async with asyncio.timeout(self.apply_timeout_s):
                await adapter.apply(command)
            self.applied += 1
            if isinstance(command, SetLoad) and adapter is self.actuator and self.envelope:
                self.envelope.acknowledge(command.value, at=self.clock())
        except (DeviceError, TimeoutError) as exc:
            _keep_cancelled(task, cancelling, exc)
            self._failed(adapter, command, str(exc) or "no answer in time")
        except Exception as exc:  # an adapter's bug must not take the station's safety down
            _keep_cancelled(task, cancelling, exc)
            log.exception("station %s: %s raised", self.station_id, adapter.device_id)
            self._failed(adapter, command, f"adapter error {type(exc).__name__}: {exc}")
        if task is not None and task.cancelling() > cancelling:
            # cancelled while the command ran, and the library answered instead of raising
            raise asyncio.CancelledError

    def _failed(self, adapter: Adapter, command: Command, problem: str) -> None:
        what = type(command).__name__
        if adapter is not self.actuator or isinstance(command, ShowCue):
            log.warning(
                "station %s: %s to %s failed: %s", self.station_id, what, adapter.device_id, problem
            )
            return
        if isinstance(command, EnterSafeState | ResetFault):
            # the link is down: the device's own watchdog holds it safe meanwhile
            log.warning("station %s: %s failed: %s", self.station_id, what, problem)
            return
        self._fault(f"{what} failed: {problem}")
