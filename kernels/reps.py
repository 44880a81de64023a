"""The metrics of one completed rep, shared by every rep detector (position and IMU)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RepMetrics:
    """One completed rep. Times are in the stream's time base (seconds), velocities m/s.

    ``mean_velocity_ms`` is the mean concentric velocity (concentric displacement over
    concentric duration); ``mean_propulsive_velocity_ms`` stops at the first instant after
    peak velocity where the bar's acceleration reaches -g. Power is present only when the
    load is known. Detectors that cannot measure a field (an IMU has no absolute position)
    still fill it from their own estimate and document how.
    """

    index: int  #: 0-based index in the stream
    start_s: float  #: start of the rep (start of the concentric phase for bottom-start lifts)
    end_s: float  #: end of the rep (top reached for bottom-start lifts, back at top otherwise)
    concentric_start_s: float
    concentric_end_s: float
    rom_m: float
    mean_velocity_ms: float
    mean_propulsive_velocity_ms: float
    peak_velocity_ms: float
    concentric_s: float
    eccentric_s: float
    time_to_peak_s: float
    mean_power_w: float | None = None
    peak_power_w: float | None = None
