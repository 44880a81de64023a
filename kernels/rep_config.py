"""Configuration of the position rep detectors (compiled, reference and numpy versions).

The three implementations read the same :class:`DetectorConfig`, so a test can run them on
the same settings and compare their reps exactly. Defaults follow the rep validity gates of
open devices (a concentric of at least about 15 cm) and were tuned on synthetic traces at
50-2000 Hz with 0.2-0.5 mm of noise; ``docs/kernels.md`` explains each one.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, fields

from kernels.errors import InvalidInputError

#: Standard gravity as the VBT literature rounds it (m/s^2): MPV ends where a = -G.
G = 9.81
#: A phase boundary extrapolated from the velocity band moves at most this far (s) past the
#: velocity's zero crossing.
EXTRAPOLATION_LIMIT_S = 0.05
#: Positions beyond this (m, either sign) are refused as bad input: no bar travels a
#: kilometre, and velocities of such values overflow to infinity.
MAX_POSITION_M = 1000.0


def position_problem(x: float) -> str:
    """The error message for a position the detectors refuse."""
    if math.isinf(x):
        return "position is infinite"
    return f"position {x:g} m is beyond +/-{MAX_POSITION_M:g} m"


class LiftStart(enum.IntEnum):
    """Where a rep starts, which decides whether the eccentric comes before the concentric.

    ``AUTO`` decides on the first movement of at least ``min_rom_m``: down means a lift
    that starts at the top (squat, bench press), up one that starts at the bottom
    (deadlift). The integer values are what the compiled kernel stores.
    """

    AUTO = 0
    TOP = 1
    BOTTOM = 2


@dataclass(frozen=True, slots=True)
class DetectorConfig:
    """Settings of a position rep detector; lengths in metres, times in seconds."""

    sample_rate_hz: float  #: nominal rate: the filters' lengths are set from it
    start: LiftStart = LiftStart.AUTO
    min_rom_m: float = 0.15  #: shortest concentric that counts as a rep
    partial_min_m: float = 0.03  #: shorter upward movements are ignored, longer ones are partial
    significant_m: float = 0.005  #: a movement between velocity zero crossings counts from here
    reversal_m: float = 0.03  #: travel against a movement that ends it (hysteresis)
    return_fraction: float = 0.25  #: top-start: end within this share of the descent of its start
    rom_fraction: float = 0.65  #: a rep's range is at least this share of the previous rep's
    settle_s: float = 0.25  #: stillness after a movement that ends it (a pause at top or bottom)
    max_gap_s: float = 0.1  #: longer dropouts split the stream; shorter ones are bridged
    set_gap_s: float = 60.0  #: the previous rep's range stops being a reference after this
    smooth_s: float = 0.008  #: half-width of the position boxcar (at most 2 x diff_s)
    diff_s: float = 0.010  #: half-span of the velocity difference (acceleration uses twice it)
    band_low_ms: float = 0.05  #: phase boundaries are extrapolated from the velocity's rise
    band_high_ms: float = 0.15  #: (and fall) between these two speeds

    def __post_init__(self) -> None:
        for item in fields(self):
            if item.name == "start":
                continue
            value = getattr(self, item.name)
            if not math.isfinite(value) or value < 0.0:
                raise InvalidInputError(
                    f"must be a finite number >= 0, got {value!r}",
                    where=f"DetectorConfig.{item.name}",
                )
        if not 10.0 <= self.sample_rate_hz <= 20000.0:
            raise InvalidInputError(
                f"must be between 10 and 20000 Hz, got {self.sample_rate_hz!r}",
                where="DetectorConfig.sample_rate_hz",
            )
        if self.significant_m <= 0.0 or self.reversal_m < self.significant_m:
            raise InvalidInputError(
                "need 0 < significant_m <= reversal_m", where="DetectorConfig.reversal_m"
            )
        if self.partial_min_m > self.min_rom_m:
            raise InvalidInputError(
                "partial_min_m must not exceed min_rom_m", where="DetectorConfig.partial_min_m"
            )
        if self.half_window > 2 * self.diff_span:
            raise InvalidInputError("must not exceed 2 x diff_s", where="DetectorConfig.smooth_s")
        if not 0.0 < self.band_low_ms < self.band_high_ms:
            raise InvalidInputError(
                "need 0 < band_low_ms < band_high_ms", where="DetectorConfig.band_high_ms"
            )
        if self.settle_s <= 0.0:
            raise InvalidInputError("must be > 0", where="DetectorConfig.settle_s")
        object.__setattr__(self, "start", LiftStart(self.start))

    @property
    def period_s(self) -> float:
        return 1.0 / self.sample_rate_hz

    @property
    def half_window(self) -> int:
        """``m``: the position boxcar spans 2m + 1 samples."""
        return math.floor(self.sample_rate_hz * self.smooth_s + 0.5)

    @property
    def diff_span(self) -> int:
        """``h``: velocity at k is (xs[k+h] - xs[k-h]) / (t[k+h] - t[k-h])."""
        return max(1, math.floor(self.sample_rate_hz * self.diff_s + 0.5))

    @property
    def delay(self) -> int:
        """Samples of look-ahead: a sample is analysed once ``m + 2h`` later ones arrived."""
        return self.half_window + 2 * self.diff_span
