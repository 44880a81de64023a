"""Left/right asymmetry on two-sided racks (two cables, or a bar measured at both ends).

Per rep, each side's range, mean velocity and mean force over the rep's concentric phase,
and an asymmetry index per quantity; over recent reps or sessions,
:func:`persistent_asymmetry` says whether one side stays ahead by more than a threshold,
with the sentence that explains it (the controller turns it into an injury-prevention flag
on the athlete, recorded like every other decision).

The asymmetry index is ``(left - right) / max(|left|, |right|) x 100``: the percentage
difference relative to the stronger side, as bilateral tests usually report it; positive
means the left side is higher. Usage, fed with the rack's four channels of each FIFO read::

    detector = TwoSidedRepDetector(DetectorConfig(1000.0), load_kg=80.0)
    for rep in detector.feed(t0, period, left=pos_l, right=pos_r,
                             left_force=force_l, right_force=force_r):
        rep.velocity_pct, rep.force_pct  # this rep's indices
    flag = persistent_asymmetry([r.force_pct for r in recent_reps], threshold_pct=10.0)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

import numpy as np
import numpy.typing as npt

from kernels._asymmetry import SideTrackCore
from kernels.errors import InvalidInputError
from kernels.rep_config import DetectorConfig
from kernels.rep_detector import RepDetector
from kernels.reps import RepMetrics

__all__ = [
    "AsymmetryFlag",
    "RepAsymmetry",
    "SideMetrics",
    "TwoSidedRepDetector",
    "asymmetry_index",
    "persistent_asymmetry",
]

#: Checkpoints of each side per second: enough to interpolate a rep's boundaries.
CHECKPOINT_HZ = 200.0


def asymmetry_index(left: float, right: float) -> float:
    """``(left - right) / max(|left|, |right|) x 100``; 0 when both are 0."""
    larger = max(abs(left), abs(right))
    if larger == 0.0:
        return 0.0
    return (left - right) / larger * 100.0


@dataclass(frozen=True, slots=True)
class SideMetrics:
    """One side over a rep's concentric phase; None where that side's data is missing."""

    rom_m: float | None
    mean_velocity_ms: float | None
    mean_force_n: float | None


@dataclass(frozen=True, slots=True)
class RepAsymmetry:
    """A rep of the whole implement, with each side's share and the asymmetry indices."""

    rep: RepMetrics  #: detected on the mean of the two positions
    left: SideMetrics
    right: SideMetrics
    rom_pct: float | None
    velocity_pct: float | None
    force_pct: float | None


class TwoSidedRepDetector:
    """Reps from two position channels (and optionally two force channels), batch by batch.

    The rep detector runs on the mean of the two positions; each side keeps checkpoints of
    its position and force for ``window_s`` seconds, enough to measure it over a rep's
    concentric phase once the rep is reported.
    """

    def __init__(
        self, config: DetectorConfig, *, load_kg: float | None = None, window_s: float = 10.0
    ) -> None:
        if not (math.isfinite(window_s) and 2.0 <= window_s <= 600.0):
            raise InvalidInputError("must be between 2 and 600 s", where="window_s")
        self.detector = RepDetector(config, load_kg=load_kg)
        stride = max(1, round(config.sample_rate_hz / CHECKPOINT_HZ))
        capacity = int(window_s * config.sample_rate_hz / stride) + 2
        self._left = SideTrackCore(stride, capacity)
        self._right = SideTrackCore(stride, capacity)

    def feed(
        self,
        t0: float,
        period: float,
        *,
        left: npt.ArrayLike,
        right: npt.ArrayLike,
        left_force: npt.ArrayLike | None = None,
        right_force: npt.ArrayLike | None = None,
    ) -> tuple[RepAsymmetry, ...]:
        """Samples of all channels at ``t0 + i * period`` (equal lengths; NaN: missing)."""
        channels = {
            "left": left,
            "right": right,
            "left_force": left_force,
            "right_force": right_force,
        }
        arrays: dict[str, npt.NDArray[np.float64]] = {}
        n = -1
        for name, values in channels.items():
            if values is None:
                continue
            array = np.ascontiguousarray(values, dtype=np.float64)
            if array.ndim != 1 or (n >= 0 and array.size != n):
                raise InvalidInputError(
                    "every channel must be a 1-D batch of the same length", where=name
                )
            n = array.size
            arrays[name] = array
        missing = np.full(n, np.nan)
        mean = (arrays["left"] + arrays["right"]) * 0.5
        reps = self.detector.feed(mean, t0, period)
        self._left.feed(arrays["left"], arrays.get("left_force", missing), t0, period)
        self._right.feed(arrays["right"], arrays.get("right_force", missing), t0, period)
        return tuple(self._split(rep) for rep in reps)

    def finish(self) -> tuple[RepAsymmetry, ...]:
        return tuple(self._split(rep) for rep in self.detector.finish())

    @property
    def partial_reps(self) -> int:
        return self.detector.partial_reps

    def _split(self, rep: RepMetrics) -> RepAsymmetry:
        left = _side(self._left, rep)
        right = _side(self._right, rep)
        return RepAsymmetry(
            rep,
            left,
            right,
            _index(left.rom_m, right.rom_m),
            _index(left.mean_velocity_ms, right.mean_velocity_ms),
            _index(left.mean_force_n, right.mean_force_n),
        )


def _side(track: SideTrackCore, rep: RepMetrics) -> SideMetrics:
    x0, i0, c0 = track.at(rep.concentric_start_s - track.origin)
    x1, i1, c1 = track.at(rep.concentric_end_s - track.origin)
    rom = x1 - x0
    covered = c1 - c0
    force = (i1 - i0) / covered if covered > 0.5 * rep.concentric_s else math.nan
    return SideMetrics(_known(rom), _known(rom / rep.concentric_s), _known(force))


def _known(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _index(left: float | None, right: float | None) -> float | None:
    if left is None or right is None:
        return None
    return asymmetry_index(left, right)


@dataclass(frozen=True, slots=True)
class AsymmetryFlag:
    """The verdict on recent asymmetry indices, with the sentence that explains it."""

    flagged: bool
    side: str | None  #: "left" or "right": the side that stays higher
    typical_pct: float | None  #: median of the indices considered
    over_threshold: int  #: indices beyond the threshold on that side
    considered: int
    threshold_pct: float
    reason: str


def persistent_asymmetry(
    indices_pct: Sequence[float | None],
    *,
    threshold_pct: float = 10.0,
    window: int = 12,
    min_values: int = 6,
    min_share: float = 0.75,
) -> AsymmetryFlag:
    """Whether one side stays ahead by more than ``threshold_pct`` over recent values.

    ``indices_pct`` are asymmetry indices in time order, one per rep or one per session
    (for example each session's median); None and NaN are skipped. The last ``window``
    values are considered; at least ``min_values`` are needed. The flag is raised when
    their median is beyond the threshold and at least ``min_share`` of them are beyond it
    on the same side: one bad rep does not raise it, a steady difference does.
    """
    if not (math.isfinite(threshold_pct) and threshold_pct > 0.0):
        raise InvalidInputError("must be a positive percentage", where="threshold_pct")
    if window < 1 or min_values < 1 or min_values > window:
        raise InvalidInputError("need 1 <= min_values <= window", where="window")
    if not 0.0 < min_share <= 1.0:
        raise InvalidInputError("must be in (0, 1]", where="min_share")
    values = [v for v in indices_pct if v is not None and math.isfinite(v)][-window:]
    if len(values) < min_values:
        return AsymmetryFlag(
            False,
            None,
            median(values) if values else None,
            0,
            len(values),
            threshold_pct,
            f"not enough data: {len(values)} of the {min_values} values needed",
        )
    typical = median(values)
    if typical == 0.0:
        return AsymmetryFlag(
            False, None, 0.0, 0, len(values), threshold_pct, "no persistent asymmetry: median 0 %"
        )
    side = "left" if typical > 0.0 else "right"
    sign = 1.0 if typical > 0.0 else -1.0
    over = sum(1 for v in values if sign * v >= threshold_pct)
    flagged = abs(typical) >= threshold_pct and over >= min_share * len(values)
    summary = (
        f"{side} side higher by {abs(typical):.1f} % (median of the last {len(values)}), "
        f"beyond {threshold_pct:g} % in {over} of them"
    )
    if flagged:
        reason = f"persistent asymmetry: {summary}"
    else:
        reason = f"no persistent asymmetry: {summary}"
    return AsymmetryFlag(flagged, side, typical, over, len(values), threshold_pct, reason)
