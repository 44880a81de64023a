"""Synthetic IMU traces of reps with known velocity: what a band or bar sensor measures.

Each rep moves the sensor along the vertical with a smooth velocity profile
``v(t) = 2 D / T sin^2(pi t / T)`` (mean velocity D/T exactly, peak twice that), lowering
then lifting or lifting then lowering, with pauses. The sensor is tilted and rotates with
the movement, so its accelerometer sees gravity on every axis and its gyroscope sees the
rotation; white noise and a constant accelerometer bias make integration drift, as real
MEMS sensors do. Pure numpy: the band emulator streams these, the kernel tests judge
against their known velocities.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

G = 9.80665


@dataclass(frozen=True, slots=True)
class RepSpec:
    """One rep: mean concentric velocity and range of motion are the truth to recover."""

    mean_velocity_ms: float
    rom_m: float = 0.5
    eccentric_s: float = 1.2
    pause_bottom_s: float = 0.1
    pause_top_s: float = 1.2
    bottom_start: bool = False  #: True: lift first then lower (deadlift); else lower first


@dataclass(frozen=True, slots=True)
class SensorModel:
    roll_rad: float = 0.25
    pitch_rad: float = -0.15
    pitch_per_m: float = 0.4  #: the sensor pitches as it moves (a handle turning in the hand)
    accel_noise_ms2: float = 0.04
    gyro_noise_rads: float = 0.003
    accel_bias_ms2: tuple[float, float, float] = (0.03, -0.02, 0.04)
    band_preload_n: float = 80.0
    band_stiffness_n_per_m: float = 350.0


DEFAULT_SENSOR = SensorModel()


@dataclass(frozen=True, slots=True, eq=False)
class ImuTrace:
    fs_hz: float
    position_m: npt.NDArray[np.float64]  #: vertical, up positive, 0 at the start
    velocity_ms: npt.NDArray[np.float64]
    accel_ms2: npt.NDArray[np.float64]  #: (n, 3) sensor frame, gravity included
    gyro_rads: npt.NDArray[np.float64]  #: (n, 3)
    tension_n: npt.NDArray[np.float64]


def _phase(distance: float, duration: float, fs: float) -> npt.NDArray[np.float64]:
    n = max(2, round(duration * fs))
    t = (np.arange(n) + 0.5) / fs
    velocity: npt.NDArray[np.float64] = (2.0 * distance / duration) * np.sin(
        np.pi * t / duration
    ) ** 2
    return velocity


def velocity_profile(
    reps: Sequence[RepSpec], fs: float, lead_s: float = 1.0, tail_s: float = 1.0
) -> npt.NDArray[np.float64]:
    parts = [np.zeros(round(lead_s * fs))]
    for rep in reps:
        concentric = rep.rom_m / rep.mean_velocity_ms
        up = _phase(rep.rom_m, concentric, fs)
        down = -_phase(rep.rom_m, rep.eccentric_s, fs)
        pause = np.zeros(round(rep.pause_bottom_s * fs))
        first, second = (up, down) if rep.bottom_start else (down, up)
        parts += [first, pause, second, np.zeros(round(rep.pause_top_s * fs))]
    parts.append(np.zeros(round(tail_s * fs)))
    return np.concatenate(parts)


def _rotation(
    roll: npt.NDArray[np.float64], pitch: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    """World-from-sensor rotation matrices (n, 3, 3) for roll about x then pitch about y."""
    cr, sr, cp, sp = np.cos(roll), np.sin(roll), np.cos(pitch), np.sin(pitch)
    n = roll.shape[0]
    rx = np.zeros((n, 3, 3))
    rx[:, 0, 0] = 1
    rx[:, 1, 1], rx[:, 1, 2], rx[:, 2, 1], rx[:, 2, 2] = cr, -sr, sr, cr
    ry = np.zeros((n, 3, 3))
    ry[:, 1, 1] = 1
    ry[:, 0, 0], ry[:, 0, 2], ry[:, 2, 0], ry[:, 2, 2] = cp, sp, -sp, cp
    rotation: npt.NDArray[np.float64] = ry @ rx
    return rotation


def imu_trace(
    reps: Sequence[RepSpec],
    fs: float = 100.0,
    sensor: SensorModel = DEFAULT_SENSOR,
    *,
    seed: int = 0,
    lead_s: float = 1.0,
    tail_s: float = 1.0,
    start_position_m: float = 0.0,
) -> ImuTrace:
    rng = np.random.default_rng(seed)
    velocity = velocity_profile(reps, fs, lead_s, tail_s)
    dt = 1.0 / fs
    position = start_position_m + np.concatenate(([0.0], np.cumsum(velocity[:-1]) * dt))
    accel_world = np.gradient(velocity, dt)
    n = velocity.shape[0]
    roll = np.full(n, sensor.roll_rad)
    pitch = sensor.pitch_rad + sensor.pitch_per_m * (position - start_position_m)
    r_ws = _rotation(roll, pitch)
    specific_force = np.zeros((n, 3))
    specific_force[:, 2] = accel_world + G
    accel = np.einsum("nji,nj->ni", r_ws, specific_force)  # sensor = R^T world
    accel += np.asarray(sensor.accel_bias_ms2) + rng.normal(0, sensor.accel_noise_ms2, (n, 3))
    gyro = np.zeros((n, 3))
    # pitch rotates about the world-fixed y axis after roll; in the sensor frame that rate is
    # R^T [0, pitch_rate, 0]
    pitch_rate = np.gradient(pitch, dt)
    gyro = np.einsum("nji,nj->ni", r_ws, np.stack([np.zeros(n), pitch_rate, np.zeros(n)], axis=1))
    gyro += rng.normal(0, sensor.gyro_noise_rads, (n, 3))
    tension = sensor.band_preload_n + sensor.band_stiffness_n_per_m * np.maximum(position, 0.0)
    tension += rng.normal(0, 0.5, n)
    return ImuTrace(fs, position, velocity, accel, gyro, tension)


def rest_samples(
    n: int, sensor: SensorModel, position_m: float, rng: np.random.Generator
) -> npt.NDArray[np.float64]:
    """``n`` rows of (tension, ax, ay, az, gx, gy, gz) of a sensor held still at
    ``position_m`` (in the traces' resting orientation: only tension depends on where)."""
    r = _rotation(np.full(1, sensor.roll_rad), np.full(1, sensor.pitch_rad))[0]
    gravity = r.T @ np.array([0.0, 0.0, G])
    rows = np.empty((n, 7))
    rows[:, 0] = sensor.band_preload_n + sensor.band_stiffness_n_per_m * max(position_m, 0.0)
    rows[:, 0] += rng.normal(0, 0.5, n)
    rows[:, 1:4] = (
        gravity + np.asarray(sensor.accel_bias_ms2) + rng.normal(0, sensor.accel_noise_ms2, (n, 3))
    )
    rows[:, 4:7] = rng.normal(0, sensor.gyro_noise_rads, (n, 3))
    return rows


__all__ = ["G", "ImuTrace", "RepSpec", "SensorModel", "imu_trace", "rest_samples"]
