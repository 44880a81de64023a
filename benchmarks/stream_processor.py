"""What a station's stream processor adds to the kernels, per batch.

The station's hot path is ``StreamProcessor.feed``: a lookup on the channel, the kernel,
and (during a set) a copy into the set's trace buffer. This measures, on the same
50-sample batches of a 1 kHz multi-set squat trace (``benchmarks.traces``):

* **one-sided**: ``RepDetector.feed`` called directly (the baseline) against the same
  batches through ``StreamProcessor.feed`` with a set armed (the trace copy included);
* **two-sided**: ``TwoSidedRepDetector.feed`` called directly with the four channels of
  each read against the four batches through the processor (matching by sequence number);
* **idle**: batches between sets, through the processor (nothing but the lookup).

Each figure is microseconds per batch and the processor's ratio to its baseline in the same
run. ``python -m benchmarks.stream_processor [--json] [--batches N]``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from benchmarks.traces import multi_set_session
from controller.pipeline import CompletedRep, StreamProcessor
from equipment_adapters.batch import Channel, SampleBatch
from kernels.asymmetry import TwoSidedRepDetector
from kernels.rep_config import DetectorConfig, LiftStart
from kernels.rep_detector import RepDetector

RATE = 1000.0
BATCH = 50


@dataclass(frozen=True, slots=True)
class Figures:
    batches: int
    reps: int
    one_sided_direct_us: float
    one_sided_processor_us: float
    one_sided_ratio: float
    two_sided_direct_us: float
    two_sided_processor_us: float
    two_sided_ratio: float
    idle_processor_us: float


def _best(run: Callable[[], int], repeat: int) -> tuple[float, int]:
    """The fastest of ``repeat`` runs (seconds) and what the run returned."""
    best = float("inf")
    out = 0
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, out


def measure(batches: int = 20_000, repeat: int = 3) -> Figures:
    script = multi_set_session(sets=4, rest_s=5.0)
    _, x = script.render(RATE, noise_m=0.0002, seed=1)
    n = min(batches, x.shape[0] // BATCH)
    x = x[: n * BATCH]
    period = 1.0 / RATE
    chunks = [np.ascontiguousarray(x[i * BATCH : (i + 1) * BATCH]) for i in range(n)]
    one = [
        SampleBatch("r", Channel.POSITION, i * BATCH * period, period, c, 0.0, i * BATCH)
        for i, c in enumerate(chunks)
    ]
    left = [c * 1.02 for c in chunks]
    force = [np.full(BATCH, 500.0) for _ in chunks]
    four = [
        SampleBatch("r", channel, i * BATCH * period, period, values, 0.0, i * BATCH)
        for i in range(n)
        for channel, values in (
            (Channel.POSITION_LEFT, left[i]),
            (Channel.POSITION_RIGHT, chunks[i]),
            (Channel.FORCE_LEFT, force[i]),
            (Channel.FORCE_RIGHT, force[i]),
        )
    ]
    config = DetectorConfig(RATE, start=LiftStart.TOP)

    def direct_one() -> int:
        detector = RepDetector(config, load_kg=100.0)
        reps = 0
        for batch in one:
            reps += len(detector.feed(batch.values, batch.t0, batch.period))
        return reps

    def processor_one() -> int:
        reps: list[CompletedRep] = []
        processor = StreamProcessor("s", on_rep=reps.append)
        processor.arm(set_id="s", exercise="back_squat", load_kg=100.0, rep_source="position")
        feed = processor.feed
        for batch in one:
            feed(batch)
        return len(reps)

    def direct_two() -> int:
        detector = TwoSidedRepDetector(config, load_kg=100.0)
        reps = 0
        for i in range(n):
            reps += len(
                detector.feed(
                    i * BATCH * period,
                    period,
                    left=left[i],
                    right=chunks[i],
                    left_force=force[i],
                    right_force=force[i],
                )
            )
        return reps

    channels = frozenset(
        {Channel.POSITION_LEFT, Channel.POSITION_RIGHT, Channel.FORCE_LEFT, Channel.FORCE_RIGHT}
    )

    def processor_two() -> int:
        reps: list[CompletedRep] = []
        processor = StreamProcessor("s", on_rep=reps.append, two_sided=channels)
        processor.arm(set_id="s", exercise="back_squat", load_kg=100.0, rep_source="position")
        feed = processor.feed
        for batch in four:
            feed(batch)
        return len(reps)

    def idle() -> int:
        processor = StreamProcessor("s", on_rep=lambda rep: None)
        feed = processor.feed
        for batch in one:
            feed(batch)
        return 0

    t_direct_one, reps = _best(direct_one, repeat)
    t_proc_one, reps_proc = _best(processor_one, repeat)
    if reps_proc != reps:
        raise RuntimeError(f"the processor found {reps_proc} reps, the detector {reps}")
    t_direct_two, _ = _best(direct_two, repeat)
    t_proc_two, _ = _best(processor_two, repeat)
    t_idle, _ = _best(idle, repeat)
    us = 1e6 / n
    return Figures(
        batches=n,
        reps=reps,
        one_sided_direct_us=round(t_direct_one * us, 3),
        one_sided_processor_us=round(t_proc_one * us, 3),
        one_sided_ratio=round(t_proc_one / t_direct_one, 3),
        two_sided_direct_us=round(t_direct_two * us, 3),
        two_sided_processor_us=round(t_proc_two * us, 3),
        two_sided_ratio=round(t_proc_two / t_direct_two, 3),
        idle_processor_us=round(t_idle * us, 3),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.stream_processor", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    figures = measure(args.batches)
    if args.json:
        print(json.dumps(asdict(figures), indent=2))
    else:
        for key, value in asdict(figures).items():
            print(f"{key:26} {value}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
