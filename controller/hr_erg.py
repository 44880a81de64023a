"""HR-controlled ERG: hold an athlete's heart rate inside a target band by steering a
bike's ERG power.

Heart rate answers power with a lag of tens of seconds, so a fast controller oscillates
across the band. The law here is deliberately slow and bounded: it acts at most once per
``update_period_s``, on the heart rate *predicted* ``lookahead_s`` ahead from its recent
trend (which damps the lag), holds power while the prediction is inside the band, moves by
at most ``max_step_w`` per update and raises power no faster than ``max_rise_w_per_min``
(decreases are not rate-limited: they are the safe direction), and never leaves
``[min_power_w, max_power_w]``. When heart rate stops arriving for ``hr_timeout_s`` the
runner falls back to ``fallback_power_w`` (never higher than the current power) and holds
it until heart rate returns.

:func:`hr_erg_step` is the pure law; :class:`HrErgRunner` feeds it heart-rate batches and
applies its output through a command sink (the station's safety envelope in production).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Self

import numpy as np

from equipment_adapters.base import SetLoad
from equipment_adapters.batch import Channel, SampleBatch
from equipment_adapters.errors import DeviceError
from kernels.errors import InvalidInputError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HrErgConfig:
    low_bpm: float
    high_bpm: float
    min_power_w: float = 60.0
    max_power_w: float = 350.0
    start_power_w: float = 100.0
    fallback_power_w: float = 80.0
    update_period_s: float = 10.0
    max_step_w: float = 12.0
    max_rise_w_per_min: float = 40.0
    gain_w_per_bpm: float = 1.2
    lookahead_s: float = 30.0
    trend_window_s: float = 20.0  #: heart rate trend: least squares over this window
    smoothing_s: float = 10.0  #: the law sees the mean heart rate over this window
    hr_timeout_s: float = 10.0

    def __post_init__(self) -> None:
        if not 30 <= self.low_bpm < self.high_bpm <= 230:
            raise InvalidInputError(
                f"need 30 <= low < high <= 230 bpm, got {self.low_bpm}..{self.high_bpm}",
                where="hr band",
            )
        if not 0 <= self.min_power_w <= self.max_power_w:
            raise InvalidInputError("need 0 <= min_power_w <= max_power_w", where="power range")
        for name in ("start_power_w", "fallback_power_w"):
            if not self.min_power_w <= getattr(self, name) <= self.max_power_w:
                raise InvalidInputError("must be within min_power_w..max_power_w", where=name)
        for name in ("update_period_s", "max_step_w", "max_rise_w_per_min", "hr_timeout_s"):
            if getattr(self, name) <= 0:
                raise InvalidInputError("must be positive", where=name)


@dataclass(frozen=True, slots=True)
class HrErgState:
    """What the law remembers: the power it commands and when it last changed it."""

    power_w: float
    last_update_s: float | None = None
    predicted_bpm: float | None = None
    reason: str = "start"


def hr_erg_step(
    config: HrErgConfig,
    state: HrErgState,
    *,
    now_s: float,
    hr_bpm: float | None,
    hr_slope_bpm_per_s: float = 0.0,
) -> HrErgState:
    """One evaluation of the law (pure). ``hr_bpm`` None: heart rate is missing (fallback)."""
    c = config
    if hr_bpm is None:
        power = min(state.power_w, c.fallback_power_w)
        return replace(
            state,
            power_w=power,
            last_update_s=now_s,
            reason=f"no heart rate: holding {power:.0f} W",
        )
    if state.last_update_s is not None and now_s - state.last_update_s < c.update_period_s:
        return state
    predicted = hr_bpm + hr_slope_bpm_per_s * c.lookahead_s
    centre = 0.5 * (c.low_bpm + c.high_bpm)
    if c.low_bpm <= predicted <= c.high_bpm:
        # inside the band: nudge towards its centre only when far off it, else hold
        half = 0.5 * (c.high_bpm - c.low_bpm)
        error = predicted - centre if abs(predicted - centre) > 0.3 * half else 0.0
        step = -0.5 * c.gain_w_per_bpm * error
        reason = "in band: hold" if step == 0.0 else "in band: towards centre"
    else:
        step = -c.gain_w_per_bpm * (predicted - centre)
        reason = (
            f"predicted {predicted:.0f} bpm {'above' if predicted > c.high_bpm else 'below'} band"
        )
    elapsed = c.update_period_s if state.last_update_s is None else now_s - state.last_update_s
    max_rise = min(c.max_step_w, c.max_rise_w_per_min * elapsed / 60.0)
    step = min(max(step, -c.max_step_w), max_rise)
    power = min(max(state.power_w + step, c.min_power_w), c.max_power_w)
    return HrErgState(power_w=power, last_update_s=now_s, predicted_bpm=predicted, reason=reason)


def hr_slope(times_s: np.ndarray, hr_bpm: np.ndarray) -> float:
    """Least-squares slope of heart rate (bpm/s); 0 with fewer than 3 points."""
    if times_s.shape[0] < 3 or np.ptp(times_s) <= 0:
        return 0.0
    t = times_s - times_s.mean()
    return float((t * (hr_bpm - hr_bpm.mean())).sum() / (t * t).sum())


@dataclass(frozen=True, slots=True)
class HrErgDecision:
    """One power change, with why: for the decision log."""

    time_s: float
    power_w: float
    hr_bpm: float | None
    predicted_bpm: float | None
    reason: str


class HrErgRunner:
    """Runs the law against live heart rate: feed it HEART_RATE batches (strap or bike),
    it applies ``SetLoad(W)`` through ``apply`` whenever the commanded power changes.

    ``clock`` gives the time the law runs on (monotonic seconds by default; a simulation
    passes its simulated clock). An async context manager: one named task evaluates the
    law every ``poll_s`` seconds of real time.
    """

    def __init__(
        self,
        config: HrErgConfig,
        *,
        apply: Callable[[SetLoad], Awaitable[None]],
        clock: Callable[[], float] = time.monotonic,
        poll_s: float = 1.0,
        on_decision: Callable[[HrErgDecision], None] | None = None,
        name: str = "hr-erg",
    ) -> None:
        self.config = config
        self._apply = apply
        self._clock = clock
        self._poll_s = poll_s
        self._on_decision = on_decision
        self._name = name
        self.state = HrErgState(power_w=config.start_power_w)
        self._history: deque[tuple[float, float]] = deque()
        self._applied: float | None = None
        self._task: asyncio.Task[None] | None = None
        self.decisions: list[HrErgDecision] = []

    @property
    def last_hr(self) -> float | None:
        return self._history[-1][1] if self._history else None

    def feed(self, batch: SampleBatch) -> None:
        if batch.channel is not Channel.HEART_RATE or len(batch) == 0:
            return
        now = self._clock()
        self._history.append((now, float(batch.values[-1])))
        while self._history and now - self._history[0][0] > self.config.trend_window_s:
            self._history.popleft()

    def evaluate(self) -> HrErgState:
        """Run the law once at the clock's current time (the task does this every poll)."""
        now = self._clock()
        hr: float | None = None
        slope = 0.0
        if self._history and now - self._history[-1][0] <= self.config.hr_timeout_s:
            times, values = np.array(self._history).T
            recent = values[times > now - self.config.smoothing_s]
            hr = float(recent.mean()) if recent.shape[0] else float(values[-1])
            slope = hr_slope(times, values)
        self.state = hr_erg_step(
            self.config, self.state, now_s=now, hr_bpm=hr, hr_slope_bpm_per_s=slope
        )
        return self.state

    async def _send(self) -> None:
        power = round(self.state.power_w)
        if power == self._applied:
            return
        try:
            await self._apply(SetLoad(float(power)))
        except DeviceError as exc:  # the adapter reconnects; try again next poll
            logger.warning("%s: could not set %s W: %s", self._name, power, exc)
            return
        self._applied = power
        decision = HrErgDecision(
            self._clock(), float(power), self.last_hr, self.state.predicted_bpm, self.state.reason
        )
        self.decisions.append(decision)
        if self._on_decision is not None:
            self._on_decision(decision)

    async def _run(self) -> None:
        while True:
            self.evaluate()
            await self._send()
            await asyncio.sleep(self._poll_s)

    async def __aenter__(self) -> Self:
        if self._task is not None:
            raise RuntimeError("HrErgRunner is already running (not re-entrant)")
        self._task = asyncio.create_task(self._run(), name=self._name)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is not None and current.cancelling():
                    raise
