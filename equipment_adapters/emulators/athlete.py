"""A simulated athlete: the physiology that drives every emulator.

The model is deliberately simple but shaped by the published relations the controller
relies on (see ``shared/reference/training-science.md``): mean velocity falls linearly with
load to the lift's minimal velocity threshold at 1RM; within a set, velocity falls rep by
rep, faster at heavier loads; the day's readiness scales strength and heart-rate
variability together. It is deterministic given its seed, so tests can be exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class LiftProfile:
    """One lift of one athlete: today's strength comes from ``one_rm_kg`` x readiness."""

    one_rm_kg: float
    mvt_ms: float  #: mean concentric velocity at 1RM
    v0_ms: float  #: mean concentric velocity extrapolated to zero load
    rom_m: float = 0.55  #: range of motion of one rep
    bottom_start: bool = False  #: the rep starts with the concentric phase (deadlift, row)


DEFAULT_LIFTS: dict[str, LiftProfile] = {
    "back_squat": LiftProfile(one_rm_kg=140.0, mvt_ms=0.30, v0_ms=1.75, rom_m=0.55),
    "bench_press": LiftProfile(one_rm_kg=100.0, mvt_ms=0.16, v0_ms=1.85, rom_m=0.40),
    "deadlift": LiftProfile(
        one_rm_kg=180.0, mvt_ms=0.17, v0_ms=1.55, rom_m=0.55, bottom_start=True
    ),
    "cable_row": LiftProfile(
        one_rm_kg=90.0, mvt_ms=0.25, v0_ms=1.60, rom_m=0.45, bottom_start=True
    ),
}


@dataclass(frozen=True, slots=True)
class SimulatedAthlete:
    """An athlete as the emulators see them.

    ``readiness`` is today's state: 1.0 is a normal day, 0.9 a poor one (tired, short sleep),
    1.05 a very good one. It scales today's strength and the RR variability of the strap.
    """

    athlete_id: str
    name: str
    body_mass_kg: float = 80.0
    sex: str = "male"
    age: int = 30
    readiness: float = 1.0
    lifts: dict[str, LiftProfile] = field(default_factory=lambda: dict(DEFAULT_LIFTS))
    #: velocity lost per rep at 1RM-relative intensity 1.0; lighter loads lose less
    fatigue_per_rep: float = 0.045
    hr_rest_bpm: float = 55.0
    hr_max_bpm: float = 190.0
    ftp_w: float = 240.0
    rmssd_baseline_ms: float = 60.0
    seed: int = 1
    #: left-right imbalance on two-sided machines: the left side takes (1 + a) / 2 of the
    #: load and travels (1 + a / 2) times the range, the right side the rest (a > 0: left
    #: stronger)
    asymmetry: float = 0.0
    eccentric_velocity_ms: float = 0.5  #: controlled lowering speed
    pause_s: float = 0.5  #: pause between reps at the start position

    def lift(self, name: str) -> LiftProfile:
        try:
            return self.lifts[name]
        except KeyError:
            known = ", ".join(sorted(self.lifts))
            raise KeyError(
                f"athlete {self.athlete_id} has no lift {name!r} (known: {known})"
            ) from None

    def one_rm_today(self, lift: str) -> float:
        return self.lift(lift).one_rm_kg * self.readiness

    def fresh_velocity(self, lift: str, load_kg: float) -> float:
        """Mean concentric velocity of a first rep at ``load_kg`` today (0 if too heavy)."""
        profile = self.lift(lift)
        relative = load_kg / self.one_rm_today(lift)
        velocity = profile.v0_ms - (profile.v0_ms - profile.mvt_ms) * relative
        return max(velocity, 0.0)

    def rep_velocity(self, lift: str, load_kg: float, rep_index: int) -> float:
        """Mean concentric velocity of rep ``rep_index`` (0-based) of a set at ``load_kg``.

        Velocity loss per rep grows with relative intensity, so a set at 80 % loses about
        4 % a rep and one at 60 % about 2 %; a rep below the lift's MVT fails (returns 0).
        """
        profile = self.lift(lift)
        relative = min(load_kg / self.one_rm_today(lift), 1.2)
        loss_per_rep = self.fatigue_per_rep * relative**2
        velocity = self.fresh_velocity(lift, load_kg) * (1.0 - loss_per_rep) ** rep_index
        return velocity if velocity >= profile.mvt_ms * 0.9 else 0.0

    def spotted_load(self, lift: str, load_kg: float, rep_index: int, threshold_ms: float) -> float:
        """The load a spotter must leave for rep ``rep_index`` to move at ``threshold_ms``.

        The spotter takes weight off in 5 % steps until the athlete moves faster than the
        threshold; returns ``load_kg`` when no help is needed and 0 if even no load fails.
        """
        load = load_kg
        while load > 0 and self.rep_velocity(lift, load, rep_index) < threshold_ms:
            load = max(load - 0.05 * load_kg, 0.0)
        return load

    def morning_rmssd_ms(self) -> float:
        """Today's resting RMSSD: lnRMSSD moves with readiness (about 0.1 per 0.05)."""
        return self.rmssd_baseline_ms * math.exp(2.0 * (self.readiness - 1.0))

    def steady_hr_bpm(self, power_w: float) -> float:
        """Steady-state heart rate at ``power_w`` on a bike (linear HR-power relation)."""
        fraction = max(power_w, 0.0) / (self.ftp_w * self.readiness)
        hr = self.hr_rest_bpm + (self.hr_max_bpm - self.hr_rest_bpm) * (0.25 + 0.62 * fraction)
        return min(hr, self.hr_max_bpm)


DEMO_ATHLETES: tuple[SimulatedAthlete, ...] = (
    SimulatedAthlete(
        "ath-ana",
        "Ana",
        body_mass_kg=64.0,
        sex="female",
        readiness=1.03,
        seed=11,
        lifts={
            "back_squat": LiftProfile(105.0, 0.30, 1.70, 0.52),
            "bench_press": LiftProfile(60.0, 0.16, 1.80, 0.36),
            "deadlift": LiftProfile(130.0, 0.17, 1.50, 0.52, bottom_start=True),
            "cable_row": LiftProfile(60.0, 0.25, 1.55, 0.42, bottom_start=True),
        },
        asymmetry=0.03,
        hr_rest_bpm=52.0,
        hr_max_bpm=188.0,
        ftp_w=210.0,
        rmssd_baseline_ms=72.0,
    ),
    SimulatedAthlete(
        "ath-ben",
        "Ben",
        body_mass_kg=88.0,
        readiness=0.88,
        seed=12,
        asymmetry=0.14,
        hr_rest_bpm=60.0,
        hr_max_bpm=185.0,
        ftp_w=260.0,
        rmssd_baseline_ms=48.0,
    ),
    SimulatedAthlete(
        "ath-chloe",
        "Chloe",
        body_mass_kg=70.0,
        sex="female",
        readiness=0.97,
        seed=13,
        asymmetry=-0.05,
        hr_rest_bpm=50.0,
        hr_max_bpm=192.0,
        ftp_w=230.0,
        rmssd_baseline_ms=85.0,
    ),
    SimulatedAthlete(
        "ath-dev",
        "Dev",
        body_mass_kg=95.0,
        readiness=1.0,
        seed=14,
        hr_rest_bpm=58.0,
        hr_max_bpm=182.0,
        ftp_w=280.0,
        rmssd_baseline_ms=55.0,
    ),
)
