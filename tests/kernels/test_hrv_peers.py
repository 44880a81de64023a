"""Agreement with established HRV libraries, run in their own environments.

The libraries cannot be installed beside gymctl (numpy and pandas pins), so
``benchmarks.peers`` builds a pinned venv for each group under ``.bench-envs/`` (once; about
three minutes from a clean clone) and these tests compare against figures computed there.
They skip only when the package index cannot be reached, and say so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import peers
from benchmarks.rr_data import inject_artifacts, simulate_rr
from kernels import hrv

pytestmark = pytest.mark.slow

#: systole's rr.txt (245 beats): its published figures (Kubios 2.2: 45.545, 84.691, 26.230).
SYSTOLE_RR_TXT = {"rmssd_ms": 45.546669, "sdnn_ms": 84.690544, "pnn50_pct": 26.229508}


def _worker(library: str, *args: str) -> Any:
    try:
        return peers.run_worker(library, *args)
    except peers.PeersUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def real_recording() -> np.ndarray:
    return np.asarray(_worker("systole", "rr_txt"), dtype=np.float64)


def _ours(rr: np.ndarray) -> dict[str, float]:
    return {k: v for k, v in hrv.time_domain(rr).to_json().items() if k != "n_intervals"}


def test_published_figures_of_the_real_recording(real_recording: np.ndarray) -> None:
    assert real_recording.size == 245
    ours = _ours(real_recording)
    for key, published in SYSTOLE_RR_TXT.items():
        # Published to 6 decimals: agreement to the last printed digit.
        assert ours[key] == pytest.approx(published, abs=5e-7), key


@pytest.mark.parametrize("library", ["hrv-analysis", "systole", "neurokit2"])
@pytest.mark.parametrize("data", ["real", "simulated"])
def test_time_domain_agrees_with_peer(
    library: str, data: str, real_recording: np.ndarray, tmp_path: Path
) -> None:
    rr = real_recording if data == "real" else np.round(simulate_rr(300, seed=5))
    path = tmp_path / "rr.npy"
    np.save(path, rr)
    theirs = _worker(library, "values", str(path))
    ours = _ours(rr)
    assert theirs  # every library reports at least RMSSD, SDNN, pNN50 and mean RR
    for key, value in theirs.items():
        # systole rounds its output to 6 decimals; 1e-6 relative holds for all of them.
        assert ours[key] == pytest.approx(value, rel=1e-6), (library, key)


def test_correction_of_the_real_recording_with_injected_artifacts(
    real_recording: np.ndarray,
) -> None:
    clean = hrv.correct_artifacts(real_recording).rr_ms
    truth = hrv.time_domain(clean).rmssd_ms
    for seed in range(5):
        injected = inject_artifacts(clean, seed=seed, missed=1, extra=1, ectopic=1)
        corrected = hrv.correct_artifacts(injected.rr_ms)
        assert corrected.n_corrected >= 3
        got = hrv.time_domain(corrected.rr_ms).rmssd_ms
        assert abs(got / truth - 1) < 0.05, seed
