"""Sample batches: the only way samples cross the adapter boundary.

Per-sample Python work is the main performance risk of the whole system, so adapters hand
the controller numpy arrays of many samples at once, never single values.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt


class Channel(enum.StrEnum):
    """What a batch carries, with its unit (the unit is part of the contract)."""

    POSITION = "position"  #: bar or cable position, m, up positive
    POSITION_LEFT = "position_left"  #: left cable position, m
    POSITION_RIGHT = "position_right"  #: right cable position, m
    FORCE = "force"  #: cable force of a one-sided rack, N
    FORCE_LEFT = "force_left"  #: left cable force, N
    FORCE_RIGHT = "force_right"  #: right cable force, N
    HEART_RATE = "heart_rate"  #: bpm
    RR = "rr"  #: RR intervals, ms (an event series: period 0)
    POWER = "power"  #: W
    CADENCE = "cadence"  #: rpm
    SPEED = "speed"  #: km/h
    RESISTANCE = "resistance"  #: unitless resistance level
    TENSION = "tension"  #: band tension, N
    IMU = "imu"  #: shape (n, 6): ax, ay, az in m/s^2 (gravity included), gx, gy, gz in rad/s


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Consecutive samples of one channel of one device.

    ``t0`` is the device's timestamp of the first sample in seconds (device clock);
    ``period`` the time between samples, or 0.0 for an event series whose values carry their
    own timing (RR intervals). ``seq`` is the device's sequence number of the first sample
    where the device numbers them, so lost or repeated samples can be detected.
    ``received`` is the controller's monotonic clock when the batch arrived: freshness and
    latency are measured with it, never with the device clock.
    """

    device_id: str
    channel: Channel
    t0: float
    period: float
    values: npt.NDArray[np.float64]
    received: float
    seq: int | None = None
    extra: dict[str, float] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def t_end(self) -> float:
        """Device time just after the last sample (``t0`` for event series)."""
        return self.t0 + self.period * len(self)
