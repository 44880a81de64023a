"""IMU rep detection for bands and bar-mounted sensors: reps and their velocities from an
accelerometer and gyroscope, with no position sensor.

The per-sample work (gravity tracking with the gyroscope, vertical acceleration,
integration with zero-velocity resets) runs in the compiled ``kernels._imu_reps`` without
the GIL; segmentation and per-rep drift correction work on whole segments with numpy. The
algorithm is described, step by step, in :mod:`kernels.reference.imu_reps`, the plain
version the tests hold this one to.

An IMU measures no absolute position: ``rom_m`` is the concentric displacement integrated
from the drift-corrected velocity, and the rep metrics need a pause (``still_s``, 0.15 s by
default) at the end of each rep, where the velocity is known to be zero.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from kernels._imu_reps import vertical_motion
from kernels.errors import InvalidInputError
from kernels.reps import RepMetrics

G = 9.80665


@dataclass(frozen=True, slots=True)
class ImuRepConfig:
    min_rom_m: float = 0.08  #: an upward run shorter than this is not a rep
    still_s: float = 0.25  #: stillness needed before velocity is reset to zero
    pause_s: float = 0.08  #: quiet this long inside a movement is a pause (velocity zero)
    accel_tol_ms2: float = 0.15  #: |reading| within this of gravity counts as still...
    gyro_tol_rads: float = 0.05  #: ...with rotation below this
    gravity_alpha: float = 0.05  #: pull of the gravity estimate to the reading while still


DEFAULT_CONFIG = ImuRepConfig()


def _as_imu(values: npt.ArrayLike, name: str) -> npt.NDArray[np.float64]:
    array = np.ascontiguousarray(values, dtype=np.float64)
    if array.ndim != 2 or array.shape[1] not in (3, 6):
        raise InvalidInputError(f"expected shape (n, 3) or (n, 6), got {array.shape}", where=name)
    if not np.isfinite(array).all():
        row = int(np.argwhere(~np.isfinite(array))[0][0])
        raise InvalidInputError("not a finite number", where=f"{name} row {row}")
    return array


def _runs(mask: npt.NDArray[np.bool_]) -> npt.NDArray[np.intp]:
    """(k, 2) [start, end) ranges where ``mask`` is True."""
    padded = np.concatenate(([False], mask, [False]))
    edges = np.flatnonzero(padded[1:] != padded[:-1])
    return edges.reshape(-1, 2)


def drift_corrected(
    velocity: npt.NDArray[np.float64], quiet: npt.NDArray[np.bool_], pause: int
) -> npt.NDArray[np.float64]:
    """Velocity minus its drift, pinned to zero at the segment's ends and its pauses."""
    n = velocity.shape[0]
    runs = _runs(quiet)
    pauses = runs[(runs[:, 1] - runs[:, 0]) >= pause]
    anchors = np.unique(np.concatenate(([0, n - 1], pauses[:, 0], pauses[:, 1] - 1)))
    index = np.arange(n)
    v: npt.NDArray[np.float64] = velocity - np.interp(index, anchors, velocity[anchors])
    for start, end in pauses:
        v[start:end] = 0.0
    return v


def segment_reps(
    a_vert: npt.NDArray[np.float64],
    velocity: npt.NDArray[np.float64],
    quiet: npt.NDArray[np.bool_],
    *,
    t_start: float,
    dt: float,
    config: ImuRepConfig = DEFAULT_CONFIG,
    load_kg: float | None = None,
) -> tuple[list[RepMetrics], tuple[float, float] | None]:
    """The reps of one movement segment (``index`` 0: the caller numbers them), and the
    (start, end) times of a descent left after its last rep: a long pause at the bottom
    splits a rep into two segments, and that descent is the next rep's eccentric phase."""
    n = velocity.shape[0]
    if n < 2:
        return [], None
    v = drift_corrected(velocity, quiet, max(1, round(config.pause_s / dt)))
    ups = _runs(v > 0)
    downs = _runs(v < 0)
    reps: list[RepMetrics] = []
    areas = np.array([v[a:b].sum() for a, b in downs])  # one per run, not per sample
    previous_end = 0
    for c_start, c_end in ups:
        conc = v[c_start:c_end]
        rom = float(conc.sum() * dt)
        if rom < config.min_rom_m:
            continue
        # the eccentric phase: the deepest descent since the previous rep, else the next one
        before = np.flatnonzero((downs[:, 1] <= c_start) & (downs[:, 0] >= previous_end))
        after = np.flatnonzero(downs[:, 0] >= c_end)
        if before.shape[0]:
            ecc = downs[before[np.argmin(areas[before])]]
        elif after.shape[0]:
            ecc = downs[after[0]]
        else:
            ecc = None
        previous_end = int(c_end)
        duration = (c_end - c_start) * dt
        peak_i = int(np.argmax(conc))
        braking = np.flatnonzero(a_vert[c_start + peak_i : c_end] <= -G)
        propulsive_end = max(peak_i + int(braking[0]), 1) if braking.shape[0] else conc.shape[0]
        mean_power = peak_power = None
        if load_kg is not None:
            powers = load_kg * (G + a_vert[c_start:c_end]) * conc
            mean_power, peak_power = float(powers.mean()), float(powers.max())
        start = min(c_start, ecc[0]) if ecc is not None else c_start
        end = max(c_end, ecc[1]) if ecc is not None else c_end
        reps.append(
            RepMetrics(
                index=0,
                start_s=t_start + int(start) * dt,
                end_s=t_start + int(end) * dt,
                concentric_start_s=t_start + int(c_start) * dt,
                concentric_end_s=t_start + int(c_end) * dt,
                rom_m=rom,
                mean_velocity_ms=rom / duration,
                mean_propulsive_velocity_ms=float(conc[:propulsive_end].mean()),
                peak_velocity_ms=float(conc[peak_i]),
                concentric_s=duration,
                eccentric_s=float((ecc[1] - ecc[0]) * dt) if ecc is not None else 0.0,
                time_to_peak_s=peak_i * dt,
                mean_power_w=mean_power,
                peak_power_w=peak_power,
            )
        )
    left = np.flatnonzero(downs[:, 0] >= previous_end)
    trailing = None
    if left.shape[0]:
        deepest = downs[left[np.argmin(areas[left])]]
        if -areas[left].min() * dt >= config.min_rom_m:
            trailing = (t_start + int(deepest[0]) * dt, t_start + int(deepest[1]) * dt)
    return reps, trailing


class ImuRepDetector:
    """Streaming detector: feed IMU batches as they arrive, get each rep once it is over.

    A rep is reported when the stillness after it is confirmed (``still_s`` later).
    ``t0`` is the stream's time of its first sample; ``load_kg`` (when known) adds power.
    """

    def __init__(
        self,
        fs_hz: float,
        *,
        t0: float = 0.0,
        load_kg: float | None = None,
        config: ImuRepConfig = DEFAULT_CONFIG,
    ) -> None:
        if not fs_hz > 0:
            raise InvalidInputError(f"sample rate must be positive, got {fs_hz}", where="fs_hz")
        self.fs_hz = fs_hz
        self.dt = 1.0 / fs_hz
        self.t0 = t0
        self.load_kg = load_kg
        self.config = config
        self._still_samples = max(1, round(config.still_s * fs_hz))
        self._state = np.zeros(6, dtype=np.float64)
        self._index = 0  #: samples consumed
        self._reps = 0
        self._segment_start: int | None = None
        self._seg_a: list[npt.NDArray[np.float64]] = []
        self._seg_v: list[npt.NDArray[np.float64]] = []
        self._seg_q: list[npt.NDArray[np.bool_]] = []
        self._descent: tuple[float, float] | None = None  #: eccentric waiting for its rep

    @property
    def reps_found(self) -> int:
        return self._reps

    def feed(self, imu: npt.ArrayLike, gyro: npt.ArrayLike | None = None) -> list[RepMetrics]:
        """``imu`` is (n, 6) (ax, ay, az in m/s^2 with gravity, gx, gy, gz in rad/s), or
        (n, 3) accelerations with ``gyro`` (n, 3)."""
        data = _as_imu(imu, "imu")
        if data.shape[1] == 6:
            accel = np.ascontiguousarray(data[:, :3])
            rot = np.ascontiguousarray(data[:, 3:])
        else:
            if gyro is None:
                raise InvalidInputError(
                    "three columns of acceleration need gyro (n, 3)", where="gyro"
                )
            accel, rot = data, _as_imu(gyro, "gyro")
            if rot.shape != accel.shape:
                raise InvalidInputError(
                    f"gyro shape {rot.shape} differs from accel {accel.shape}", where="gyro"
                )
        n = accel.shape[0]
        a_vert = np.empty(n)
        velocity = np.empty(n)
        still = np.empty(n, dtype=np.uint8)
        c = self.config
        vertical_motion(
            accel,
            rot,
            self.dt,
            self._state,
            a_vert,
            velocity,
            still,
            c.accel_tol_ms2,
            c.gyro_tol_rads,
            self._still_samples,
            c.gravity_alpha,
        )
        return self._segments(a_vert, velocity, still)

    def _segments(
        self,
        a_vert: npt.NDArray[np.float64],
        velocity: npt.NDArray[np.float64],
        flags: npt.NDArray[np.uint8],
    ) -> list[RepMetrics]:
        still = flags == 2  # confirmed still: velocity was reset
        quiet = flags == 1
        found: list[RepMetrics] = []
        base = self._index
        pos = 0
        n = still.shape[0]
        while pos < n:
            if self._segment_start is None:
                moving = np.flatnonzero(~still[pos:])
                if moving.shape[0] == 0:
                    break
                pos += int(moving[0])
                self._segment_start = base + pos
            stop = np.flatnonzero(still[pos:])
            end = pos + int(stop[0]) if stop.shape[0] else n
            self._seg_a.append(a_vert[pos:end])
            self._seg_v.append(velocity[pos:end])
            self._seg_q.append(quiet[pos:end])
            if not stop.shape[0]:
                break
            found.extend(self._close_segment())
            pos = end
        self._index = base + n
        return found

    def _close_segment(self) -> list[RepMetrics]:
        assert self._segment_start is not None
        a = np.concatenate(self._seg_a)
        v = np.concatenate(self._seg_v)
        q = np.concatenate(self._seg_q)
        t_start = self.t0 + self._segment_start * self.dt
        self._seg_a, self._seg_v, self._seg_q, self._segment_start = [], [], [], None
        found, trailing = segment_reps(
            a, v, q, t_start=t_start, dt=self.dt, config=self.config, load_kg=self.load_kg
        )
        reps: list[RepMetrics] = []
        for rep in found:
            if not reps and rep.eccentric_s == 0.0 and self._descent is not None:
                start, end = self._descent
                rep = replace(rep, start_s=start, eccentric_s=end - start)  # noqa: PLW2901
            reps.append(replace(rep, index=self._reps))
            self._reps += 1
        self._descent = trailing if (trailing is not None or not found) else None
        return reps


def detect_imu_reps(
    imu: npt.ArrayLike,
    fs_hz: float,
    *,
    t0: float = 0.0,
    load_kg: float | None = None,
    config: ImuRepConfig = DEFAULT_CONFIG,
) -> list[RepMetrics]:
    """All completed reps of a recorded (n, 6) IMU trace."""
    return ImuRepDetector(fs_hz, t0=t0, load_kg=load_kg, config=config).feed(imu)
