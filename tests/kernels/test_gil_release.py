"""The compiled kernels keep the GIL for a station's batch and release it for a large input
(``kernels/_gil.pxd``), with the same results either way.

A rival thread counts only while it holds the GIL; with a long switch interval it gets the
GIL only when the test's thread releases it, so its count tells whether a call released.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator

import numpy as np

from equipment_adapters.emulators.imu_motion import RepSpec, imu_trace
from kernels._asymmetry import SideTrackCore
from kernels._imu_reps import vertical_motion
from kernels._line_fit import weighted_line_fit
from kernels._rep_detector import NOGIL_MIN_SAMPLES
from kernels.reference import asymmetry as reference_asymmetry
from kernels.reference.line_fit import weighted_line_fit as reference_line_fit
from kernels.rep_config import DetectorConfig
from kernels.rep_detector import RepDetector

RATE = 1000.0
SMALL = 50  #: a station's batch: 50 ms at 1 kHz
LARGE = 4 * NOGIL_MIN_SAMPLES
#: the IMU kernel's accel and gyro tolerances, still samples and gravity pull
TOLERANCES = (0.15, 0.05, 25, 0.05)


@contextlib.contextmanager
def _rival() -> Iterator[list[int]]:
    before = sys.getswitchinterval()
    sys.setswitchinterval(30.0)  # no forced hand-over within the test
    stop = threading.Event()
    count = [0]

    def spin() -> None:
        while not stop.is_set():
            count[0] += 1
            time.sleep(0.0005)  # lets the test's thread take the GIL back

    thread = threading.Thread(target=spin, name="gil-rival")
    thread.start()
    try:
        time.sleep(0.01)  # the rival has run and now waits for the GIL
        yield count
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(before)


def _released(call: Callable[[], object], times: int) -> int:
    """How often the rival ran during ``times`` calls (0: the GIL was held throughout)."""
    with _rival() as count:
        before = count[0]
        for _ in range(times):
            call()
        return count[0] - before


def _positions(n: int) -> np.ndarray:
    t = np.arange(n) / RATE
    return 0.4 + 0.25 * np.sin(2.0 * np.pi * 0.5 * t)


def test_a_stations_batch_keeps_the_gil_and_a_large_input_releases_it() -> None:
    detector = RepDetector(DetectorConfig(RATE))
    stream = _positions(200 * SMALL + 20 * LARGE)
    cursor = [0]

    def feed(n: int) -> None:
        a = cursor[0]
        detector.feed(stream[a : a + n], a / RATE, 1.0 / RATE)
        cursor[0] = a + n

    assert _released(lambda: feed(SMALL), 200) == 0
    assert _released(lambda: feed(LARGE), 20) > 0


def test_the_other_kernels_keep_the_gil_for_small_inputs() -> None:
    track = SideTrackCore(4, 150)
    x, force = _positions(SMALL), np.full(SMALL, 500.0)
    t0 = [0.0]

    def side() -> None:
        track.feed(x, force, t0[0], 1.0 / RATE)
        t0[0] += SMALL / RATE

    imu = imu_trace([RepSpec(0.7)], 100.0, seed=3)
    accel = np.ascontiguousarray(imu.accel_ms2[:SMALL])
    gyro = np.ascontiguousarray(imu.gyro_rads[:SMALL])
    a_out, v_out, s_out = np.empty(SMALL), np.empty(SMALL), np.empty(SMALL, dtype=np.uint8)
    state = np.zeros(6)

    def motion() -> None:
        vertical_motion(accel, gyro, 0.01, state, a_out, v_out, s_out, *TOLERANCES)

    loads, speeds = np.linspace(40.0, 140.0, 12), np.linspace(1.2, 0.3, 12)
    assert _released(side, 200) == 0
    assert _released(motion, 200) == 0
    assert _released(lambda: weighted_line_fit(loads, speeds, np.ones(12)), 200) == 0


def test_a_large_input_gives_what_the_reference_gives() -> None:
    n = LARGE + 123
    rng = np.random.default_rng(5)
    x = np.cumsum(rng.normal(0.0, 0.001, n))
    force = rng.normal(500.0, 50.0, n)
    force[rng.integers(0, n, 40)] = np.nan
    whole = SideTrackCore(3, 4000)
    plain = reference_asymmetry.SideTrack(3, 4000)
    whole.feed(x, force, 2.0, 0.001)
    plain.feed(x.tolist(), force.tolist(), 2.0, 0.001)
    for t in np.linspace(n * 0.001 - 10.0, n * 0.001, 53):  # the window's last 10 s
        np.testing.assert_array_equal(whole.at(float(t)), plain.at(float(t)))

    loads = rng.uniform(20.0, 200.0, n)
    speeds = 1.5 - 0.006 * loads + rng.normal(0.0, 0.02, n)
    weights = rng.uniform(0.5, 2.0, n)
    np.testing.assert_allclose(
        weighted_line_fit(loads, speeds, weights),
        reference_line_fit(loads.tolist(), speeds.tolist(), weights.tolist()),
        rtol=1e-9,
    )


def test_a_large_imu_input_gives_what_small_ones_give() -> None:
    imu = imu_trace([RepSpec(0.7), RepSpec(0.5, bottom_start=True)] * 12, 100.0, seed=4)
    accel, gyro = np.ascontiguousarray(imu.accel_ms2), np.ascontiguousarray(imu.gyro_rads)
    n = accel.shape[0]
    assert n >= NOGIL_MIN_SAMPLES
    a_whole, v_whole, s_whole = np.empty(n), np.empty(n), np.empty(n, dtype=np.uint8)
    a_cut, v_cut, s_cut = np.empty(n), np.empty(n), np.empty(n, dtype=np.uint8)
    state_whole, state_cut = np.zeros(6), np.zeros(6)
    vertical_motion(accel, gyro, 0.01, state_whole, a_whole, v_whole, s_whole, *TOLERANCES)
    for a in range(0, n, SMALL):
        b = min(n, a + SMALL)
        vertical_motion(
            accel[a:b], gyro[a:b], 0.01, state_cut, a_cut[a:b], v_cut[a:b], s_cut[a:b], *TOLERANCES
        )
    np.testing.assert_array_equal(a_cut, a_whole)
    np.testing.assert_array_equal(v_cut, v_whole)
    np.testing.assert_array_equal(s_cut, s_whole)
    np.testing.assert_array_equal(state_cut, state_whole)
