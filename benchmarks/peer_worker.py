"""Runs inside a peer library's own environment (see benchmarks/peers.py).

Usage: ``python peer_worker.py values|bench|rr_txt LIBRARY [RR.npy] [REPEAT]``; prints one
JSON object. Needs only numpy, the library and ``benchmarks/_timing.py``; gymctl is
not installed in these environments (their numpy and pandas pins conflict with ours).

- ``values``: the library's time-domain figures under our names, converted to our
  conventions where a library documents a different one (NeuroKit2's pNN50 divides by n).
- ``bench``: seconds per call of the library's time-domain and correction functions and of
  a numpy RMSSD + SDNN, each timed by ``_timing.best_per_call``, and the values.
- ``rr_txt``: systole's bundled real recording (rr.txt), as a list of ms.
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

# The repository root, so that the dependency-free timing module is shared, not copied.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks._timing import best_per_call

warnings.filterwarnings("ignore")


def _hrv_analysis() -> tuple[Callable[[Any], dict[str, float]], Callable[[Any], object]]:
    from hrvanalysis import (  # type: ignore[import-not-found]
        get_time_domain_features,
        interpolate_nan_values,
        remove_ectopic_beats,
    )

    def values(rr: Any) -> dict[str, float]:
        f = get_time_domain_features(rr)
        return {
            "mean_rr_ms": f["mean_nni"],
            "mean_hr_bpm": f["mean_hr"],
            "sdnn_ms": f["sdnn"],
            "rmssd_ms": f["rmssd"],
            "pnn50_pct": f["pnni_50"],
        }

    def correct(rr: Any) -> object:
        return interpolate_nan_values(remove_ectopic_beats(rr, method="malik", verbose=False))

    return values, correct


def _systole() -> tuple[Callable[[Any], dict[str, float]], Callable[[Any], object]]:
    from systole.correction import correct_rr  # type: ignore[import-not-found]
    from systole.hrv import time_domain  # type: ignore[import-not-found]

    def values(rr: Any) -> dict[str, float]:
        table = time_domain(rr, input_type="rr_ms")
        f = dict(zip(table["Metric"], table["Values"], strict=True))
        return {
            "mean_rr_ms": f["MeanRR"],
            "mean_hr_bpm": f["MeanBPM"],
            "sdnn_ms": f["SDNN"],
            "rmssd_ms": f["RMSSD"],
            "pnn50_pct": f["pnn50"],
        }

    def correct(rr: Any) -> object:
        return correct_rr(rr, verbose=False)

    return values, correct


def _neurokit2() -> tuple[Callable[[Any], dict[str, float]], Callable[[Any], object]]:
    import neurokit2 as nk  # type: ignore[import-not-found]

    def sampling_rate(rr: Any) -> int:
        # NeuroKit2 takes R-peak sample indices: pick a rate at which every interval is a
        # whole number of samples, so that its input is our input exactly.
        for rate in (1000, 2000, 3000, 4000, 6000, 8000, 12000, 1024000):
            samples = np.asarray(rr) * rate / 1000.0
            if np.allclose(samples, np.round(samples), rtol=0.0, atol=1e-6):
                return rate
        raise ValueError("intervals are not whole samples at any rate tried")

    def peaks_of(rr: Any, rate: int) -> Any:
        samples = np.round(np.asarray(rr) * rate / 1000.0).astype(np.int64)
        return np.concatenate(([0], np.cumsum(samples)))

    def values(rr: Any) -> dict[str, float]:
        rate = sampling_rate(rr)
        f = nk.hrv_time(peaks_of(rr, rate), sampling_rate=rate).iloc[0]
        n = len(rr)
        return {
            "mean_rr_ms": float(f["HRV_MeanNN"]),
            "sdnn_ms": float(f["HRV_SDNN"]),
            "rmssd_ms": float(f["HRV_RMSSD"]),
            # NeuroKit2 divides NN50 by n; ours (and the others') by n - 1.
            "pnn50_pct": float(f["HRV_pNN50"]) * n / (n - 1),
        }

    def correct(rr: Any) -> object:
        return nk.signal_fixpeaks(
            peaks_of(rr, 1000), sampling_rate=1000, method="Kubios", iterative=False, show=False
        )

    return values, correct


LIBRARIES = {"hrv-analysis": _hrv_analysis, "systole": _systole, "neurokit2": _neurokit2}


def _numpy_baseline(rr: Any) -> tuple[float, float]:
    return float(np.sqrt(np.mean(np.diff(rr) ** 2))), float(np.std(rr, ddof=1))


def main(argv: list[str]) -> int:
    mode, library = argv[0], argv[1]
    if mode == "rr_txt":
        import systole  # type: ignore[import-not-found]

        path = Path(systole.__file__).parent / "datasets" / "rr.txt"
        lines = path.read_text().splitlines()[1:]
        print(json.dumps([float(line.split(",")[1]) for line in lines if line.strip()]))
        return 0
    values, correct = LIBRARIES[library]()
    rr = np.load(argv[2])
    if mode == "values":
        print(json.dumps({k: float(v) for k, v in values(rr).items()}))
        return 0
    repeat = int(argv[3]) if len(argv) > 3 else 5
    with contextlib.redirect_stdout(io.StringIO()):  # some libraries print as they work
        result = {
            "time_domain_s": best_per_call(lambda: values(rr), repeat=repeat),
            "correction_s": best_per_call(lambda: correct(rr), repeat=repeat),
            "numpy_baseline_s": best_per_call(lambda: _numpy_baseline(rr), repeat=repeat),
            "values": {k: float(v) for k, v in values(rr).items()},
        }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
