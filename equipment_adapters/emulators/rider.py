"""A rider on an emulated bike: cadence, and a heart rate that follows power with a lag.

Fitness comes from :class:`~equipment_adapters.emulators.athlete.SimulatedAthlete`: its
steady-state HR-power relation (FTP, resting and maximal HR, readiness). Heart rate
approaches the steady state of the current power through a first-order lag, slower on the
way down than up, plus a slow cardiovascular drift, as heart rate does in steady cycling.
The model runs on simulated time (``step(dt)``), so tests can run minutes in seconds.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from equipment_adapters.emulators.athlete import SimulatedAthlete


@dataclass(frozen=True, slots=True)
class RiderParams:
    preferred_cadence_rpm: float = 85.0
    cadence_jitter_rpm: float = 1.5
    hr_tau_up_s: float = 40.0  #: time constant of HR rising towards its steady state
    hr_tau_down_s: float = 60.0  #: recovery is slower
    drift_bpm_per_min: float = 0.15  #: cardiovascular drift under load
    hr_noise_bpm: float = 0.3  #: per sqrt(s): a slow wander of about 1.3 bpm at steady load


class RiderModel:
    """The state of one rider in simulated time."""

    def __init__(
        self,
        athlete: SimulatedAthlete,
        params: RiderParams | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        self.athlete = athlete
        self.params = params or RiderParams()
        self._rng = random.Random(athlete.seed if seed is None else seed)
        self.time_s = 0.0
        self.heart_rate_bpm = athlete.hr_rest_bpm + 10.0
        self.cadence_rpm = self.params.preferred_cadence_rpm
        self.power_w = 0.0
        self._drift = 0.0
        self.pedalling = True

    def steady_hr(self, power_w: float) -> float:
        return self.athlete.steady_hr_bpm(power_w)

    def step(self, dt_s: float, power_w: float) -> None:
        """Advance ``dt_s`` seconds of simulated time at ``power_w``."""
        if dt_s <= 0:
            return
        p = self.params
        self.time_s += dt_s
        self.power_w = power_w
        target = self.steady_hr(power_w)
        if power_w > 0.3 * self.athlete.ftp_w:
            self._drift += p.drift_bpm_per_min * dt_s / 60.0
        else:
            self._drift = max(0.0, self._drift - p.drift_bpm_per_min * dt_s / 60.0)
        target = min(target + self._drift, self.athlete.hr_max_bpm)
        tau = p.hr_tau_up_s if target > self.heart_rate_bpm else p.hr_tau_down_s
        self.heart_rate_bpm += (target - self.heart_rate_bpm) * (1.0 - math.exp(-dt_s / tau))
        self.heart_rate_bpm += self._rng.gauss(0.0, p.hr_noise_bpm) * math.sqrt(min(dt_s, 1.0))
        if self.pedalling:
            pull = (p.preferred_cadence_rpm - self.cadence_rpm) * min(1.0, dt_s / 3.0)
            self.cadence_rpm += pull + self._rng.gauss(0.0, p.cadence_jitter_rpm) * min(dt_s, 1.0)
        else:
            self.cadence_rpm = max(0.0, self.cadence_rpm - 30.0 * dt_s)

    def rr_variability_ms(self) -> float:
        """RMSSD the strap's RR intervals should show now: the athlete's morning RMSSD
        (which moves with readiness) shrinking as exercise intensity rises."""
        a = self.athlete
        reserve = (self.heart_rate_bpm - a.hr_rest_bpm) / max(a.hr_max_bpm - a.hr_rest_bpm, 1.0)
        return a.morning_rmssd_ms() * math.exp(-3.0 * max(reserve, 0.0))
