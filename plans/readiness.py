"""The readiness profile: how today compares with the athlete's own normal.

Inputs arrive per day (:class:`DailyInputs`), each optional: morning lnRMSSD, resting HR,
sleep, a wellness questionnaire, the day's training load and the mean velocity of a fixed
warm-up load. Each component is compared with the athlete's own baseline
(:mod:`kernels.hrv_baseline`: a minimum number of days and a floor on the spread, so that a
three-night baseline cannot produce a z-score of -18), oriented so that positive is good,
and combined into a 0-100 score, a state, a confidence and reasons in plain words.

The rules, in the order they apply (all thresholds are in :class:`ReadinessParams`):

- score = 75 + 15 x the weighted mean of the components' oriented z-scores (each clipped
  to +-3), bounded to 0-100; green from 65, amber from 45, red below;
- the 7-day lnRMSSD below the normal range (baseline mean - 0.5 SD) makes the day at best
  amber (Kiviniemi 2007; Vesterinen 2016: hard sessions only inside the range);
- any component other than training load at or below -2.5 makes it at best amber;
- overreaching (7-day lnRMSSD below the range and resting HR at least 1 SD above baseline
  on each of the last 3 days with data) makes it red and raises a flag;
- without any baseline the profile says "not enough data", its confidence is low and it
  is never green;
- the acute:chronic load ratio is shown and weighs little; it never decides alone
  (Impellizzeri et al. 2020).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, timedelta
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from kernels.hrv_baseline import BaselineParams, rolling_baseline
from kernels.hrv_stream import summarize_recording
from kernels.training_load import acute_chronic, session_rpe_load
from plans.decisions import Decision, DecisionKind


class ReadinessState(enum.StrEnum):
    GREEN = "green"  #: train as planned
    AMBER = "amber"  #: train, lighter or shorter
    RED = "red"  #: recover


WELLNESS_ITEMS = ("fatigue", "soreness", "stress", "mood")


@dataclass(frozen=True, slots=True)
class DailyInputs:
    """What is known about one day. Wellness items are 1 (worst) to 5 (best): 5 means
    fresh, not sore, relaxed, in a great mood. ``session_load`` is that day's training load
    (session RPE x minutes, or TRIMP), 0 for a rest day, None when unknown."""

    day: date
    ln_rmssd: float | None = None
    resting_hr_bpm: float | None = None
    sleep_h: float | None = None
    sleep_quality: int | None = None
    fatigue: int | None = None
    soreness: int | None = None
    stress: int | None = None
    mood: int | None = None
    session_load: float | None = None
    warmup_velocity_ms: float | None = None

    def __post_init__(self) -> None:
        ranges: dict[str, tuple[float, float]] = {
            "ln_rmssd": (0.5, 6.5),  # RMSSD 1.6 to 665 ms
            "resting_hr_bpm": (25.0, 150.0),
            "sleep_h": (0.0, 24.0),
            "sleep_quality": (1, 5),
            **dict.fromkeys(WELLNESS_ITEMS, (1, 5)),
            "session_load": (0.0, 10000.0),
            "warmup_velocity_ms": (0.05, 3.0),
        }
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInputError(
                    f"must be a number, got {value!r}", where=f"{self.day}.{name}"
                )
            if not (math.isfinite(value) and low <= value <= high):
                raise InvalidInputError(
                    f"{value!r} is outside {low:g} to {high:g}", where=f"{self.day}.{name}"
                )

    @classmethod
    def from_morning_recording(cls, day: date, rr_ms: npt.ArrayLike) -> DailyInputs:
        """The strap's morning reading (1-5 minutes of RR, ms), artefacts corrected."""
        window = summarize_recording(rr_ms)
        return cls(day, ln_rmssd=window.metrics.ln_rmssd)

    @classmethod
    def from_session(cls, day: date, rpe: float, minutes: float) -> DailyInputs:
        """A training session's load from the panel: session RPE (CR10) x minutes."""
        return cls(day, session_load=session_rpe_load(rpe, minutes))

    def merged(self, other: DailyInputs) -> DailyInputs:
        """This day's inputs completed by ``other``'s (same day; ours win)."""
        values = {
            f.name: getattr(self, f.name)
            if getattr(self, f.name) is not None
            else getattr(other, f.name)
            for f in fields(self)
        }
        return DailyInputs(**values)


@dataclass(frozen=True, slots=True)
class ComponentSpec:
    name: str
    label: str
    weight: float
    baseline: BaselineParams | None  #: None: judged on an absolute scale
    higher_is_better: bool = True
    full_baseline_days: int = 30  #: confidence is full from this many baseline days


@dataclass(frozen=True, slots=True)
class ReadinessParams:
    components: tuple[ComponentSpec, ...] = (
        ComponentSpec(
            "hrv",
            "7-day lnRMSSD",
            0.35,
            BaselineParams(
                recent_days=7, baseline_days=60, min_recent=3, min_baseline=14, sd_floor=0.05
            ),
        ),
        ComponentSpec(
            "resting_hr",
            "resting HR",
            0.15,
            BaselineParams(
                recent_days=1, baseline_days=30, min_recent=1, min_baseline=10, sd_floor=2.0
            ),
            higher_is_better=False,
            full_baseline_days=21,
        ),
        ComponentSpec(
            "sleep",
            "sleep",
            0.15,
            BaselineParams(
                recent_days=1, baseline_days=30, min_recent=1, min_baseline=10, sd_floor=0.5
            ),
            full_baseline_days=21,
        ),
        ComponentSpec("wellness", "wellness", 0.2, None),
        ComponentSpec("training_load", "acute:chronic load", 0.05, None),
        ComponentSpec(
            "neuromuscular",
            "warm-up velocity",
            0.1,
            BaselineParams(
                recent_days=1, baseline_days=60, min_recent=1, min_baseline=5, sd_floor=0.02
            ),
            full_baseline_days=12,
        ),
    )
    green_from: float = 65.0
    amber_from: float = 45.0
    z_clip: float = 3.0
    alarm_z: float = -2.5  #: a component this low keeps the day from green
    overreaching_days: int = 3
    overreaching_rhr_z: float = 1.0
    #: the acute:chronic band considered unremarkable, and the days of loads it needs
    acwr_band: tuple[float, float] = (0.8, 1.3)
    acwr_min_days: int = 21

    def spec(self, name: str) -> ComponentSpec:
        for spec in self.components:
            if spec.name == name:
                return spec
        raise KeyError(name)


class Status(enum.StrEnum):
    NORMAL = "normal"
    LOW = "low"  #: worse than normal (for resting HR: higher)
    HIGH = "high"  #: better than normal
    MISSING = "missing"
    NOT_ENOUGH_DATA = "not_enough_data"


@dataclass(frozen=True, slots=True)
class ComponentReading:
    name: str
    status: Status
    reason: str
    value: float | None = None
    baseline_mean: float | None = None
    baseline_sd: float | None = None  #: the spread used (floored)
    n_baseline_days: int = 0
    z: float | None = None  #: (value - baseline) / spread, in the marker's own direction
    oriented_z: float | None = None  #: positive is good
    confidence: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True, slots=True)
class ReadinessProfile:
    day: date
    score: float | None
    state: ReadinessState
    confidence: float  #: 0-1: falls with missing inputs and short baselines
    components: tuple[ComponentReading, ...]
    reasons: tuple[str, ...]
    not_enough_data: bool
    overreaching: bool
    inputs: dict[str, float] = field(default_factory=dict)  #: what the decision read

    def component(self, name: str) -> ComponentReading:
        for reading in self.components:
            if reading.name == name:
                return reading
        raise KeyError(name)

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "score": self.score,
            "state": self.state.value,
            "confidence": self.confidence,
            "components": [c.to_json() for c in self.components],
            "reasons": list(self.reasons),
            "not_enough_data": self.not_enough_data,
            "overreaching": self.overreaching,
        }


def overreaching_flag(profile: ReadinessProfile, athlete_id: str = "") -> Decision | None:
    """The decision-log entry that warns staff of possible overreaching, if flagged."""
    if not profile.overreaching:
        return None
    hrv = profile.component("hrv")
    rhr = profile.component("resting_hr")
    return Decision(
        kind=DecisionKind.FLAG,
        subject="overreaching" if not athlete_id else f"{athlete_id}.overreaching",
        before=False,
        after=True,
        rule="readiness.overreaching",
        reason=f"possible overreaching: {hrv.reason}; {rhr.reason}",
        inputs=dict(profile.inputs),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _series(
    history: Sequence[DailyInputs], first: date, n: int, name: str
) -> npt.NDArray[np.float64]:
    out = np.full(n, np.nan)
    for inputs in history:
        value = getattr(inputs, name)
        k = (inputs.day - first).days
        if value is not None and 0 <= k < n:
            out[k] = float(value)
    return out


def _by_day(history: Sequence[DailyInputs]) -> dict[date, DailyInputs]:
    days: dict[date, DailyInputs] = {}
    for inputs in history:
        previous = days.get(inputs.day)
        days[inputs.day] = inputs if previous is None else inputs.merged(previous)
    return days


def _fmt_sd(x: float) -> str:
    return f"{abs(x):.1f} SD"


def _baseline_reading(
    spec: ComponentSpec, series: npt.NDArray[np.float64], unit_fmt: str
) -> tuple[ComponentReading, Any]:
    assert spec.baseline is not None
    base = rolling_baseline(series, spec.baseline)
    t = -1
    n_base = int(base.n_baseline[t])
    value = base.recent_mean[t]
    if not np.isfinite(series[t]) and spec.baseline.recent_days == 1:
        return ComponentReading(spec.name, Status.MISSING, f"no {spec.label} today"), base
    if not np.isfinite(value):
        return (
            ComponentReading(
                spec.name,
                Status.MISSING,
                f"{spec.label}: fewer than {spec.baseline.min_recent} of the last "
                f"{spec.baseline.recent_days} days measured",
            ),
            base,
        )
    if not np.isfinite(base.z[t]):
        return (
            ComponentReading(
                spec.name,
                Status.NOT_ENOUGH_DATA,
                f"not enough data for a {spec.label} baseline: {n_base} of "
                f"{spec.baseline.min_baseline} days needed",
                value=float(value),
                n_baseline_days=n_base,
            ),
            base,
        )
    mean = float(base.baseline_mean[t])
    sd = max(float(base.baseline_sd[t]), spec.baseline.sd_floor)
    z = float(base.z[t])
    oriented = z if spec.higher_is_better else -z
    lower, upper = float(base.lower[t]), float(base.upper[t])
    if value < lower:
        status = Status.LOW if spec.higher_is_better else Status.HIGH
        where = f"{_fmt_sd((lower - value) / sd)} below your normal range"
    elif value > upper:
        status = Status.HIGH if spec.higher_is_better else Status.LOW
        where = f"{_fmt_sd((value - upper) / sd)} above your normal range"
    else:
        status = Status.NORMAL
        where = "within your normal range"
    reason = f"{spec.label} {unit_fmt.format(value)} {where} ({unit_fmt.format(mean)} usual)"
    confidence = min(1.0, n_base / spec.full_baseline_days)
    if spec.baseline.recent_days > 1:
        confidence *= min(1.0, int(base.n_recent[t]) / spec.baseline.recent_days)
    return (
        ComponentReading(
            spec.name,
            status,
            reason,
            value=float(value),
            baseline_mean=mean,
            baseline_sd=sd,
            n_baseline_days=n_base,
            z=z,
            oriented_z=oriented,
            confidence=confidence,
        ),
        base,
    )


def _wellness_reading(spec: ComponentSpec, today: DailyInputs | None) -> ComponentReading:
    items = {k: getattr(today, k) for k in WELLNESS_ITEMS} if today else {}
    answered = {k: v for k, v in items.items() if v is not None}
    if not answered:
        return ComponentReading(spec.name, Status.MISSING, "no wellness answers today")
    mean = sum(answered.values()) / len(answered)
    # The questionnaire is its own scale: 3.5 is an ordinary day, each 0.75 a step.
    oriented = (mean - 3.5) / 0.75
    poor = sorted(k for k, v in answered.items() if v <= 2)
    status = Status.LOW if oriented <= -1 else Status.HIGH if oriented >= 1 else Status.NORMAL
    detail = f" (low: {', '.join(poor)})" if poor else ""
    return ComponentReading(
        spec.name,
        status,
        f"wellness {mean:.1f}/5{detail}",
        value=mean,
        z=oriented,
        oriented_z=oriented,
        confidence=len(answered) / len(WELLNESS_ITEMS),
    )


def _load_reading(
    spec: ComponentSpec, loads: npt.NDArray[np.float64], params: ReadinessParams
) -> ComponentReading:
    known = int(np.count_nonzero(np.isfinite(loads)))
    if known == 0:
        return ComponentReading(spec.name, Status.MISSING, "no training loads recorded")
    first = int(np.flatnonzero(np.isfinite(loads))[0])
    span = loads.size - first
    if span < params.acwr_min_days:
        return ComponentReading(
            spec.name,
            Status.NOT_ENOUGH_DATA,
            f"not enough data for an acute:chronic load ratio: {span} of "
            f"{params.acwr_min_days} days",
            n_baseline_days=span,
        )
    ratio = float(acute_chronic(loads[first:]).ratio[-1])
    if not math.isfinite(ratio):
        return ComponentReading(spec.name, Status.MISSING, "no training load in the last weeks")
    low, high = params.acwr_band
    oriented = -(ratio - high) / 0.2 if ratio > high else 0.0
    status = Status.LOW if ratio > high else Status.NORMAL
    words = "above" if ratio > high else "below" if ratio < low else "within"
    return ComponentReading(
        spec.name,
        status,
        f"acute:chronic load {ratio:.2f}, {words} {low:g}-{high:g}",
        value=ratio,
        n_baseline_days=span,
        z=oriented,
        oriented_z=oriented,
        confidence=1.0,
    )


def _overreaching_days(
    hrv: Any, rhr: Any, rhr_series: npt.NDArray[np.float64], params: ReadinessParams
) -> bool:
    """HRV below its range and resting HR raised on each of the last N days with both."""
    if hrv is None or rhr is None:
        return False
    hits = 0
    for t in range(rhr_series.size - 1, -1, -1):
        hrv_low = (
            np.isfinite(hrv.recent_mean[t])
            and np.isfinite(hrv.lower[t])
            and (hrv.recent_mean[t] < hrv.lower[t])
        )
        if not np.isfinite(rhr.z[t]) or not np.isfinite(hrv.z[t]):
            continue  # a day without both readings neither breaks nor extends the run
        if hrv_low and rhr.z[t] >= params.overreaching_rhr_z:
            hits += 1
            if hits >= params.overreaching_days:
                return True
        else:
            return False
    return False


def readiness_profile(
    history: Sequence[DailyInputs],
    today: date | None = None,
    params: ReadinessParams | None = None,
) -> ReadinessProfile:
    """Today's readiness from the athlete's history (any order; days may be missing)."""
    p = params or ReadinessParams()
    days = _by_day(history)
    if today is None:
        if not days:
            raise InvalidInputError("no inputs and no day given", where="history")
        today = max(days)
    longest = max(
        [s.baseline.recent_days + s.baseline.baseline_days for s in p.components if s.baseline]
        + [p.acwr_min_days * 4]
    )
    first = min([d for d in days if d <= today], default=today)
    first = max(first, today - timedelta(days=longest))
    n = (today - first).days + 1
    kept = [v for d, v in days.items() if first <= d <= today]
    sleep_series = _series(kept, first, n, "sleep_h")
    readings: list[ComponentReading] = []
    bases: dict[str, Any] = {}
    formats = {
        "hrv": "{:.2f}",
        "resting_hr": "{:.0f} bpm",
        "sleep": "{:.1f} h",
        "neuromuscular": "{:.2f} m/s",
    }
    sources = {
        "hrv": "ln_rmssd",
        "resting_hr": "resting_hr_bpm",
        "sleep": "sleep_h",
        "neuromuscular": "warmup_velocity_ms",
    }
    for spec in p.components:
        if spec.name == "wellness":
            readings.append(_wellness_reading(spec, days.get(today)))
        elif spec.name == "training_load":
            readings.append(_load_reading(spec, _series(kept, first, n, "session_load"), p))
        else:
            series = (
                sleep_series
                if spec.name == "sleep"
                else _series(kept, first, n, sources[spec.name])
            )
            reading, base = _baseline_reading(spec, series, formats[spec.name])
            readings.append(reading)
            bases[spec.name] = base
    today_inputs = days.get(today)
    if today_inputs and today_inputs.sleep_quality is not None and today_inputs.sleep_quality <= 2:
        readings = [
            _with_reason(r, f"{r.reason}; sleep quality {today_inputs.sleep_quality}/5")
            if r.name == "sleep"
            else r
            for r in readings
        ]
    return _combine(today, readings, bases, _series(kept, first, n, "resting_hr_bpm"), p)


def _with_reason(reading: ComponentReading, reason: str) -> ComponentReading:
    values = {f.name: getattr(reading, f.name) for f in fields(reading)}
    values["reason"] = reason
    return ComponentReading(**values)


def _combine(
    today: date,
    readings: list[ComponentReading],
    bases: dict[str, Any],
    rhr_series: npt.NDArray[np.float64],
    p: ReadinessParams,
) -> ReadinessProfile:
    weights = {s.name: s.weight for s in p.components}
    scored = [r for r in readings if r.oriented_z is not None]
    total_weight = sum(weights.values())
    confidence = sum(weights[r.name] * r.confidence for r in readings) / total_weight
    baseline_names = {s.name for s in p.components if s.baseline is not None}
    has_baseline = any(r.name in baseline_names for r in scored)
    reasons: list[str] = []
    score: float | None = None
    if scored:
        w = sum(weights[r.name] for r in scored)
        zc = (
            sum(
                weights[r.name] * max(-p.z_clip, min(p.z_clip, r.oriented_z or 0.0)) for r in scored
            )
            / w
        )
        score = max(0.0, min(100.0, 75.0 + 15.0 * zc))
    if score is None:
        state = ReadinessState.AMBER
    elif score >= p.green_from:
        state = ReadinessState.GREEN
    elif score >= p.amber_from:
        state = ReadinessState.AMBER
    else:
        state = ReadinessState.RED
    caps: list[str] = []
    hrv = next(r for r in readings if r.name == "hrv")
    if hrv.status is Status.LOW:
        caps.append("7-day lnRMSSD below your normal range: no hard session today")
    labels = {s.name: s.label for s in p.components}
    caps.extend(
        f"{labels[r.name]} far from your normal (z {r.z or 0.0:+.1f})"
        for r in scored
        if r.name != "training_load" and (r.oriented_z or 0.0) <= p.alarm_z
    )
    if caps and state is ReadinessState.GREEN:
        state = ReadinessState.AMBER
    overreaching = _overreaching_days(bases.get("hrv"), bases.get("resting_hr"), rhr_series, p)
    if overreaching:
        state = ReadinessState.RED
        reasons.append(
            f"possible overreaching: HRV suppressed and resting HR raised for "
            f"{p.overreaching_days} days running"
        )
    not_enough = not has_baseline
    if not_enough:
        reasons.append(
            "not enough data for your personal baseline yet; the advice stays conservative"
        )
        # Questionnaire and load alone can say "red", never "green", and give no score
        # that could be read as a measurement.
        score = None
        if state is ReadinessState.GREEN:
            state = ReadinessState.AMBER
    reasons.extend(caps)
    order = {
        Status.LOW: 0,
        Status.NOT_ENOUGH_DATA: 1,
        Status.HIGH: 2,
        Status.NORMAL: 3,
        Status.MISSING: 4,
    }
    reasons.extend(r.reason for r in sorted(readings, key=lambda r: order[r.status]))
    inputs: dict[str, float] = {"confidence": round(confidence, 3)}
    if score is not None:
        inputs["score"] = round(score, 1)
    for r in readings:
        if r.z is not None:
            inputs[f"{r.name}_z"] = round(r.z, 3)
    return ReadinessProfile(
        day=today,
        score=score,
        state=state,
        confidence=confidence,
        components=tuple(readings),
        reasons=tuple(reasons),
        not_enough_data=not_enough,
        overreaching=overreaching,
        inputs=inputs,
    )
