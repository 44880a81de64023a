"""Plain-Python IMU rep detection, written for clarity: the oracle of ``kernels.imu_reps``.

1. Gravity: the gravity vector in the sensor frame is tracked by rotating it with the
   gyroscope (dg/dt = -w x g) and, while the sensor is held still, pulled towards the
   accelerometer reading (which is then gravity alone, bias included).
2. Vertical acceleration is the reading projected on the gravity estimate, minus its norm.
3. Integration gives vertical velocity; after ``still_s`` of stillness (reading norm within
   ``accel_tol`` of gravity, rotation below ``gyro_tol``) velocity is reset to zero.
4. A movement between two still periods is a segment. Its velocity is known to be zero at
   both ends and during every pause inside it (``pause_s`` or more of quiet samples, such as
   a pause at the bottom): the drift is removed piecewise linearly between those anchors and
   the pauses are set to zero.
5. In a segment, every upward run (velocity > 0) that rises at least ``min_rom_m`` is a
   concentric phase; the downward run next to it is its eccentric phase.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import replace

from kernels.reps import RepMetrics

G = 9.80665


def vertical_motion(
    accel: Sequence[Sequence[float]],
    gyro: Sequence[Sequence[float]],
    dt: float,
    state: list[float],
    *,
    accel_tol: float,
    gyro_tol: float,
    still_samples: int,
    alpha: float,
) -> tuple[list[float], list[float], list[int]]:
    """Per-sample vertical acceleration, velocity and stillness; ``state`` is updated."""
    gx, gy, gz, v, count, initialised = state
    a_out: list[float] = []
    v_out: list[float] = []
    still: list[int] = []
    for (ax, ay, az), (wx, wy, wz) in zip(accel, gyro, strict=True):
        if not initialised:
            gx, gy, gz, initialised = ax, ay, az, 1.0
        cx, cy, cz = wy * gz - wz * gy, wz * gx - wx * gz, wx * gy - wy * gx
        gx, gy, gz = gx - cx * dt, gy - cy * dt, gz - cz * dt
        a_norm = math.sqrt(ax * ax + ay * ay + az * az)
        w_norm = math.sqrt(wx * wx + wy * wy + wz * wz)
        g_norm = math.sqrt(gx * gx + gy * gy + gz * gz)
        count = count + 1.0 if abs(a_norm - g_norm) < accel_tol and w_norm < gyro_tol else 0.0
        if count >= still_samples:
            gx, gy, gz = gx + alpha * (ax - gx), gy + alpha * (ay - gy), gz + alpha * (az - gz)
            g_norm = math.sqrt(gx * gx + gy * gy + gz * gz)
        av = (ax * gx + ay * gy + az * gz) / g_norm - g_norm
        if count >= still_samples:
            v = 0.0
            still.append(2)  # confirmed still: velocity reset
        else:
            v += av * dt
            still.append(1 if count > 0 else 0)  # 1: quiet, not yet confirmed
        a_out.append(av)
        v_out.append(v)
    state[:] = [gx, gy, gz, v, count, initialised]
    return a_out, v_out, still


def _runs(values: Sequence[float], positive: bool) -> list[tuple[int, int]]:
    """[start, end) index ranges where values are > 0 (positive) or < 0 (negative)."""
    runs: list[tuple[int, int]] = []
    start = None
    for i, value in enumerate(values):
        inside = value > 0 if positive else value < 0
        if inside and start is None:
            start = i
        elif not inside and start is not None:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(values)))
    return runs


def drift_corrected(velocity: Sequence[float], quiet: Sequence[int], pause: int) -> list[float]:
    """Velocity minus its drift, pinned to zero at the anchors (ends and pauses)."""
    n = len(velocity)
    pauses = [r for r in _runs([float(q) for q in quiet], True) if r[1] - r[0] >= pause]
    anchors = sorted({0, n - 1, *[i for r in pauses for i in (r[0], r[1] - 1)]})
    error = [0.0] * n
    for left, right in itertools.pairwise(anchors):
        for i in range(left, right + 1):
            w = (i - left) / (right - left)
            error[i] = velocity[left] * (1 - w) + velocity[right] * w
    v = [velocity[i] - error[i] for i in range(n)]
    for start, end in pauses:
        for i in range(start, end):
            v[i] = 0.0
    return v


def segment_reps(
    a_vert: Sequence[float],
    velocity: Sequence[float],
    quiet: Sequence[int],
    *,
    t_start: float,
    dt: float,
    min_rom_m: float,
    pause: int,
    load_kg: float | None = None,
) -> tuple[list[RepMetrics], tuple[float, float] | None]:
    """The reps of one movement segment (between two still periods), and a descent left
    after its last rep (the eccentric phase of a rep split by a long pause at the bottom)."""
    if len(velocity) < 2:
        return [], None
    v = drift_corrected(velocity, quiet, pause)
    ups = [r for r in _runs(v, True) if sum(v[r[0] : r[1]]) * dt >= min_rom_m]
    downs = _runs(v, False)
    reps: list[RepMetrics] = []
    previous_end = 0
    for c_start, c_end in ups:
        # the eccentric phase: the deepest descent since the previous rep, else the next one
        before = [d for d in downs if d[1] <= c_start and d[0] >= previous_end]
        after = [d for d in downs if d[0] >= c_end]
        if before:
            ecc: tuple[int, int] | None = min(before, key=lambda d: sum(v[d[0] : d[1]]))
        else:
            ecc = after[0] if after else None
        previous_end = c_end
        conc = v[c_start:c_end]
        duration = (c_end - c_start) * dt
        rom = sum(conc) * dt
        peak_i = max(range(len(conc)), key=lambda i: conc[i])
        propulsive_end = len(conc)
        for i in range(peak_i, len(conc)):
            if a_vert[c_start + i] <= -G:
                propulsive_end = max(i, 1)
                break
        mpv = sum(conc[:propulsive_end]) / propulsive_end
        mean_power = peak_power = None
        if load_kg is not None:
            powers = [load_kg * (G + a_vert[c_start + i]) * conc[i] for i in range(len(conc))]
            mean_power, peak_power = sum(powers) / len(powers), max(powers)
        start = min(c_start, ecc[0]) if ecc else c_start
        end = max(c_end, ecc[1]) if ecc else c_end
        reps.append(
            RepMetrics(
                index=0,
                start_s=t_start + start * dt,
                end_s=t_start + end * dt,
                concentric_start_s=t_start + c_start * dt,
                concentric_end_s=t_start + c_end * dt,
                rom_m=rom,
                mean_velocity_ms=rom / duration,
                mean_propulsive_velocity_ms=mpv,
                peak_velocity_ms=conc[peak_i],
                concentric_s=duration,
                eccentric_s=(ecc[1] - ecc[0]) * dt if ecc else 0.0,
                time_to_peak_s=peak_i * dt,
                mean_power_w=mean_power,
                peak_power_w=peak_power,
            )
        )
    left = [d for d in downs if d[0] >= previous_end]
    trailing = None
    if left:
        deepest = min(left, key=lambda d: sum(v[d[0] : d[1]]))
        if -sum(v[deepest[0] : deepest[1]]) * dt >= min_rom_m:
            trailing = (t_start + deepest[0] * dt, t_start + deepest[1] * dt)
    return reps, trailing


def detect_imu_reps(
    accel: Sequence[Sequence[float]],
    gyro: Sequence[Sequence[float]],
    fs_hz: float,
    *,
    t0: float = 0.0,
    min_rom_m: float = 0.08,
    still_s: float = 0.25,
    pause_s: float = 0.08,
    accel_tol: float = 0.15,
    gyro_tol: float = 0.05,
    alpha: float = 0.05,
    load_kg: float | None = None,
) -> list[RepMetrics]:
    dt = 1.0 / fs_hz
    state = [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    a_vert, velocity, still = vertical_motion(
        accel,
        gyro,
        dt,
        state,
        accel_tol=accel_tol,
        gyro_tol=gyro_tol,
        still_samples=max(1, round(still_s * fs_hz)),
        alpha=alpha,
    )
    pause = max(1, round(pause_s * fs_hz))
    quiet = [1 if s == 1 else 0 for s in still]
    reps: list[RepMetrics] = []
    descent: tuple[float, float] | None = None
    start = None
    for i, s in enumerate(still):
        if s != 2 and start is None:
            start = i
        elif s == 2 and start is not None:
            found, trailing = segment_reps(
                a_vert[start:i],
                velocity[start:i],
                quiet[start:i],
                t_start=t0 + start * dt,
                dt=dt,
                min_rom_m=min_rom_m,
                pause=pause,
                load_kg=load_kg,
            )
            for k, rep in enumerate(found):
                if k == 0 and rep.eccentric_s == 0.0 and descent is not None:
                    rep = replace(rep, start_s=descent[0], eccentric_s=descent[1] - descent[0])  # noqa: PLW2901
                reps.append(replace(rep, index=len(reps)))
            descent = trailing if (trailing is not None or not found) else None
            start = None
    return reps
