"""Benchmark of the streaming rep detector (``gymctl bench kernels``).

One long 1 kHz trace of several squat sets with rests (noise 0.2 mm, 0.1 mm steps) goes
through, in the same process:

- the compiled detector in one batch and in 50-sample batches (what a station is fed);
- the plain Python reference (one batch), the oracle the tests compare against;
- the vectorised numpy version, in one batch and in 50-sample batches.

All four must find the same reps (the benchmark says so). Each figure is the best of
``repeats`` runs of the CPU time of this thread, which keeps other processes on a shared
machine out of the numbers; the baselines run on the same trace, so the ratios compare
like with like. Goals (issue 2): one batch at least 50 million samples/s, at least 100 x
the Python reference, 50-sample batches at least 5 x the numpy version.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from benchmarks.traces import multi_set_session
from kernels.reference.rep_detector import ReferenceRepDetector
from kernels.reference.rep_detector_numpy import NumpyRepDetector
from kernels.rep_config import DetectorConfig
from kernels.rep_detector import RepDetector
from kernels.reps import RepMetrics

RATE_HZ = 1000.0
BATCH = 50
GOAL_ONE_BATCH = 50e6
GOAL_VS_PYTHON = 100.0
GOAL_VS_NUMPY = 5.0

Detector = RepDetector | ReferenceRepDetector | NumpyRepDetector


@dataclass(frozen=True, slots=True)
class KernelBenchmark:
    samples: int
    trace_s: float
    reps: int
    reps_identical: bool  #: every implementation found the same reps, bit for bit
    samples_per_s_one_batch: float
    samples_per_s_50_batches: float
    us_per_50_sample_batch: float
    python_samples_per_s: float
    numpy_samples_per_s_one_batch: float
    numpy_samples_per_s_50_batches: float
    ratio_vs_python: float  #: compiled one batch / Python reference
    ratio_vs_numpy: float  #: compiled / numpy, both in 50-sample batches
    stations_1khz_per_core: float  #: 1 kHz stations one core could feed in 50-sample batches
    goal_one_batch_met: bool
    goal_vs_python_met: bool
    goal_vs_numpy_met: bool
    timing: str = "best CPU time of this thread over the repeats"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _one_batch(make: Callable[[], Detector], x: npt.NDArray[np.float64]) -> list[RepMetrics]:
    detector = make()
    return [*detector.feed(x, 0.0, 1.0 / RATE_HZ), *detector.finish()]


def _batches(make: Callable[[], Detector], x: npt.NDArray[np.float64]) -> list[RepMetrics]:
    detector = make()
    feed = detector.feed
    period = 1.0 / RATE_HZ
    reps: list[RepMetrics] = []
    for start in range(0, x.size, BATCH):
        found = feed(x[start : start + BATCH], start * period, period)
        if found:
            reps += found
    reps += detector.finish()
    return reps


def _best(
    run: Callable[[Callable[[], Detector], npt.NDArray[np.float64]], list[RepMetrics]],
    make: Callable[[], Detector],
    x: npt.NDArray[np.float64],
    repeats: int,
) -> tuple[float, list[RepMetrics]]:
    best = float("inf")
    reps: list[RepMetrics] = []
    for _ in range(repeats):
        start = time.thread_time()
        reps = run(make, x)
        best = min(best, time.thread_time() - start)
    return max(best, 1e-9), reps


def run(*, sets: int = 3, rest_s: float = 60.0, repeats: int = 5) -> KernelBenchmark:
    """Run the benchmark; ``sets`` and ``rest_s`` set the trace's length."""
    script = multi_set_session(sets=sets, rest_s=rest_s)
    _, x = script.render(RATE_HZ, noise_m=0.0002, quantum_m=0.0001, seed=1)
    config = DetectorConfig(RATE_HZ)

    def compiled() -> Detector:
        return RepDetector(config)

    def reference() -> Detector:
        return ReferenceRepDetector(config)

    def vectorised() -> Detector:
        return NumpyRepDetector(config)

    slow_repeats = max(1, repeats // 3)
    one, reps = _best(_one_batch, compiled, x, repeats)
    fifty, reps_50 = _best(_batches, compiled, x, repeats)
    py, reps_py = _best(_one_batch, reference, x, slow_repeats)
    np_one, reps_np = _best(_one_batch, vectorised, x, slow_repeats)
    np_fifty, reps_np_50 = _best(_batches, vectorised, x, slow_repeats)
    n = int(x.size)
    rate_one, rate_50 = n / one, n / fifty
    rate_np_50 = n / np_fifty
    return KernelBenchmark(
        samples=n,
        trace_s=n / RATE_HZ,
        reps=len(reps),
        reps_identical=reps == reps_50 == reps_py == reps_np == reps_np_50,
        samples_per_s_one_batch=rate_one,
        samples_per_s_50_batches=rate_50,
        us_per_50_sample_batch=fifty / (n / BATCH) * 1e6,
        python_samples_per_s=n / py,
        numpy_samples_per_s_one_batch=n / np_one,
        numpy_samples_per_s_50_batches=rate_np_50,
        ratio_vs_python=py / one,
        ratio_vs_numpy=np_fifty / fifty,
        stations_1khz_per_core=rate_50 / RATE_HZ,
        goal_one_batch_met=rate_one >= GOAL_ONE_BATCH,
        goal_vs_python_met=py / one >= GOAL_VS_PYTHON,
        goal_vs_numpy_met=np_fifty / fifty >= GOAL_VS_NUMPY,
    )


def report(result: KernelBenchmark) -> str:
    """The human-readable form of the figures."""

    def mark(met: bool) -> str:
        return "met" if met else "NOT met"

    r = result
    return "\n".join(
        [
            f"rep detector on {r.samples} samples ({r.trace_s:.0f} s at 1 kHz, {r.reps} reps; "
            f"same reps in every implementation: {'yes' if r.reps_identical else 'NO'})",
            f"  compiled, one batch      {r.samples_per_s_one_batch / 1e6:8.1f} M samples/s  "
            f"(goal 50: {mark(r.goal_one_batch_met)})",
            f"  compiled, 50-sample      {r.samples_per_s_50_batches / 1e6:8.1f} M samples/s  "
            f"({r.us_per_50_sample_batch:.2f} us a batch, "
            f"{r.stations_1khz_per_core:,.0f} stations at 1 kHz per core)",
            f"  Python reference         {r.python_samples_per_s / 1e6:8.3f} M samples/s",
            f"  numpy, one batch         {r.numpy_samples_per_s_one_batch / 1e6:8.3f} M samples/s",
            f"  numpy, 50-sample         {r.numpy_samples_per_s_50_batches / 1e6:8.3f} M samples/s",
            f"  ratio vs Python          {r.ratio_vs_python:8.0f} x  "
            f"(goal 100: {mark(r.goal_vs_python_met)})",
            f"  ratio vs numpy (50)      {r.ratio_vs_numpy:8.0f} x  "
            f"(goal 5: {mark(r.goal_vs_numpy_met)})",
            f"  timing: {r.timing}",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--sets", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    result = run(sets=args.sets, repeats=args.repeats)
    if args.json:
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        print(report(result))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
