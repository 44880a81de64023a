"""The stream processor benchmark runs and reports well-formed figures (no timed asserts)."""

from __future__ import annotations

import json

import pytest

from benchmarks import stream_processor


def test_the_benchmark_measures_both_paths_on_the_same_reps() -> None:
    figures = stream_processor.measure(batches=400, repeat=1)
    assert figures.batches == 400
    assert figures.reps > 0
    for value in (
        figures.one_sided_direct_us,
        figures.one_sided_processor_us,
        figures.two_sided_direct_us,
        figures.two_sided_processor_us,
        figures.idle_processor_us,
        figures.one_sided_ratio,
        figures.two_sided_ratio,
    ):
        assert value > 0


def test_the_command_line_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert stream_processor.main(["--json", "--batches", "300"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["batches"] == 300
    assert {"one_sided_ratio", "two_sided_ratio", "idle_processor_us"} <= set(data)
