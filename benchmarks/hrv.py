"""HRV benchmark: gymctl's kernels against peer libraries on 300 and 100,000 beats.

gymctl's functions are timed in this process; each peer library in a subprocess of its own
environment (``benchmarks.peers``), with the same timing rule (``_timing.best_per_call``) on
the same data (a saved ``.npy``). A numpy RMSSD + SDNN is timed in every process as a
calibration: if its times differ much between processes, the machine was busy and the
cross-process ratios are less trustworthy (``calibration`` in the output). Values are
compared too, so a fast wrong answer cannot pass. Method and figures: benchmarks/RESULTS.md.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import peers
from benchmarks._timing import best_per_call
from benchmarks.rr_data import inject_artifacts, simulate_rr
from kernels import hrv

SIZES: dict[str, int] = {"300": 300, "100k": 100_000}
LIBRARIES: tuple[str, ...] = ("hrv-analysis", "systole", "neurokit2")


def dataset(n: int) -> np.ndarray:
    """Whole-millisecond intervals (as files and straps give them) with a few artefacts."""
    clean = np.round(simulate_rr(n, seed=n))
    k = max(1, n // 300)
    return np.round(inject_artifacts(clean, seed=n, missed=k, extra=k, ectopic=k).rr_ms)


def _numpy_baseline(rr: np.ndarray) -> tuple[float, float]:
    return float(np.sqrt(np.mean(np.diff(rr) ** 2))), float(np.std(rr, ddof=1))


def _ours(rr: np.ndarray, repeat: int) -> dict[str, float]:
    return {
        "time_domain_s": best_per_call(lambda: hrv.time_domain(rr), repeat=repeat),
        "correction_s": best_per_call(lambda: hrv.correct_artifacts(rr), repeat=repeat),
        "numpy_baseline_s": best_per_call(lambda: _numpy_baseline(rr), repeat=repeat),
    }


def run(
    *,
    repeat: int = 5,
    sizes: dict[str, int] | None = None,
    libraries: tuple[str, ...] = LIBRARIES,
) -> dict[str, Any]:
    """Run the benchmark; raises ``peers.PeersUnavailableError`` without the package index."""
    sizes = sizes or SIZES
    result: dict[str, Any] = {"repeat": repeat, "sizes": dict(sizes), "gymctl": {}, "peers": {}}
    agreement: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, n in sizes.items():
            rr = dataset(n)
            path = Path(tmp) / f"rr_{label}.npy"
            np.save(path, rr)
            result["gymctl"][label] = _ours(rr, repeat)
            ours = hrv.time_domain(rr).to_json()
            for library in libraries:
                timing = peers.run_worker(library, "bench", str(path), str(repeat))
                theirs = timing.pop("values")
                result["peers"].setdefault(library, {})[label] = timing
                worst = max(abs(ours[k] / v - 1.0) for k, v in theirs.items())
                agreement[library] = max(agreement.get(library, 0.0), worst)
    result["agreement_max_rel_diff"] = agreement
    for label in sizes:
        for metric in ("time_domain", "correction"):
            key = f"{metric}_s"
            fastest = min(libraries, key=lambda lib: result["peers"][lib][label][key])
            ratio = result["peers"][fastest][label][key] / result["gymctl"][label][key]
            result[f"speedup_{metric}_{label}"] = ratio
            result[f"fastest_peer_{metric}_{label}"] = fastest
        base = [result["gymctl"][label]["numpy_baseline_s"]] + [
            result["peers"][lib][label]["numpy_baseline_s"] for lib in libraries
        ]
        result.setdefault("calibration", {})[label] = max(base) / min(base)
    return result
