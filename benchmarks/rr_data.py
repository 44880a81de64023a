"""Realistic RR interval series and artefact injection, for tests and benchmarks.

Real resting recordings are short and cannot be shipped with the project in any number, so
the suite also uses a simulated series with the structure of a real one: respiratory
sinus arrhythmia near 0.25 Hz, Mayer waves near 0.1 Hz, a slow wandering baseline and beat
noise, sampled at the beats themselves (each beat's time is the sum of the intervals before
it). Injected artefacts reproduce what a strap or an R-peak detector gets wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt


def simulate_rr(
    n: int,
    *,
    seed: int = 0,
    mean_ms: float = 900.0,
    hf_ms: float = 30.0,
    lf_ms: float = 22.0,
    vlf_ms: float = 25.0,
    noise_ms: float = 6.0,
) -> npt.NDArray[np.float64]:
    """``n`` RR intervals (ms) of a seated adult at rest; deterministic for a seed."""
    rng = np.random.default_rng(seed)
    hf_f = 0.25 + 0.02 * rng.standard_normal()
    lf_f = 0.10 + 0.01 * rng.standard_normal()
    phases = rng.uniform(0.0, 2.0 * np.pi, 2)
    # The beat times are close to k * mean; the small error this makes in the phase of the
    # oscillations does not change their character and keeps generation vectorised.
    t = np.arange(n) * mean_ms / 1000.0
    # Breathing is not a metronome: let the HF phase drift.
    hf_phase = 2.0 * np.pi * hf_f * t + phases[0] + np.cumsum(rng.normal(0.0, 0.08, n))
    ar = np.empty(n)
    shocks = rng.normal(0.0, vlf_ms * np.sqrt(1.0 - 0.98**2), n)
    ar[0] = rng.normal(0.0, vlf_ms)
    for k in range(1, n):  # AR(1) baseline drift; a loop over n is fine for a test helper
        ar[k] = 0.98 * ar[k - 1] + shocks[k]
    rr = (
        mean_ms
        + hf_ms * np.sin(hf_phase)
        + lf_ms * np.sin(2.0 * np.pi * lf_f * t + phases[1])
        + ar
        + rng.normal(0.0, noise_ms, n)
    )
    return np.asarray(np.clip(rr, 400.0, 1800.0), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Injected:
    rr_ms: npt.NDArray[np.float64]
    n_missed: int
    n_extra: int
    n_ectopic: int


def inject_artifacts(
    rr: npt.NDArray[np.float64],
    *,
    seed: int = 0,
    missed: int = 2,
    extra: int = 2,
    ectopic: int = 2,
    margin: int = 5,
) -> Injected:
    """Return ``rr`` with missed beats (two intervals merged), extra beats (one interval
    split 40/60) and ectopic beats (a premature beat 25 % early with its compensatory
    pause), at random places at least ``margin`` beats apart and from the ends."""
    rng = np.random.default_rng(seed)
    total = missed + extra + ectopic
    spacing = max(3 * margin, 1)
    if len(rr) < (total + 2) * spacing:
        raise ValueError("series too short for that many artefacts")
    slots = np.sort(rng.choice(np.arange(margin, len(rr) - margin, spacing), total, replace=False))
    kinds = rng.permutation(["missed"] * missed + ["extra"] * extra + ["ectopic"] * ectopic)
    out: list[float] = []
    previous = 0
    for where, kind in zip(slots.tolist(), kinds.tolist(), strict=True):
        out.extend(rr[previous:where].tolist())
        a, b = float(rr[where]), float(rr[where + 1])
        if kind == "missed":
            out.append(a + b)
        elif kind == "extra":
            out.extend([0.4 * a, 0.6 * a, b])
        else:
            early = 0.25 * a
            out.extend([a - early, b + early])
        previous = where + 2
    out.extend(rr[previous:].tolist())
    return Injected(np.asarray(out), missed, extra, ectopic)
