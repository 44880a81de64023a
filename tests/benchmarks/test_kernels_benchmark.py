"""The kernel benchmark runs on a small trace; its figures are well-formed (no timing asserted)."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks import kernels
from controller.cli import main


def test_benchmark_runs_small_and_its_figures_are_well_formed() -> None:
    result = kernels.run(sets=1, rest_s=5.0, repeats=1)
    assert result.reps == 5
    assert result.reps_identical
    assert result.samples == pytest.approx(result.trace_s * 1000.0, abs=1)
    for name in (
        "samples_per_s_one_batch",
        "samples_per_s_50_batches",
        "python_samples_per_s",
        "numpy_samples_per_s_50_batches",
        "ratio_vs_python",
        "ratio_vs_numpy",
        "us_per_50_sample_batch",
    ):
        value = getattr(result, name)
        assert math.isfinite(value)
        assert value > 0.0
    assert result.ratio_vs_python == pytest.approx(
        result.samples_per_s_one_batch / result.python_samples_per_s
    )
    assert result.goal_vs_numpy_met == (result.ratio_vs_numpy >= kernels.GOAL_VS_NUMPY)
    assert "ratio vs Python" in kernels.report(result)


def test_gymctl_bench_kernels_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    small = kernels.run
    monkeypatch.setattr(kernels, "run", lambda **kw: small(sets=1, rest_s=5.0, repeats=1))
    assert main(["bench", "kernels", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    for key in (
        "samples_per_s_one_batch",
        "samples_per_s_50_batches",
        "ratio_vs_python",
        "ratio_vs_numpy",
    ):
        assert isinstance(figures[key], float)
    assert main(["bench", "kernels", "--repeats", "0"]) == 2
    assert "--repeats" in capsys.readouterr().err
