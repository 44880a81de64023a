"""``gymctl bench modbus`` run small: the figures are there and make sense (no timing asserts)."""

from __future__ import annotations

import json

import pytest

from controller.cli import main


@pytest.mark.slow
def test_bench_modbus_small_run_is_well_formed(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "bench",
            "modbus",
            "--racks",
            "2",
            "--seconds",
            "1.2",
            "--sweep-seconds",
            "0.6",
            "--max-racks",
            "2",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["benchmark"] == "modbus"
    assert isinstance(data["ratio_vs_bare"], float)
    assert data["ratio_vs_bare"] > 0
    # the ratio is printed rounded to 3 places: at the goal's edge only the unrounded
    # value (which decided meets_goal) can tell, e.g. 0.7996 prints as 0.8 and misses it
    if abs(data["ratio_vs_bare"] - data["goal_ratio"]) > 0.0005:
        assert data["meets_goal"] == (data["ratio_vs_bare"] >= data["goal_ratio"])
    assert isinstance(data["comparable"], bool)
    assert data["racks_sustained"] in (0, 1, 2)
    for side in ("bare", "adapter"):
        figures = data["comparison"][side]
        assert figures["samples"] > 0
        assert figures["fifo_polls"] > 0
        assert figures["samples_per_cpu_s"] > 0
        # both fetch the racks' samples: at most what 2 racks at 1 kHz make in the window,
        # plus a full FIFO each (1000 samples) left over from before it on a busy machine
        assert figures["samples"] <= 2 * (1000 * 1.2 + 1000)
    adapter = data["comparison"]["adapter"]
    # one batch per channel (4 on the reference rack) per poll that brought samples
    assert adapter["batches"] % 4 == 0
    assert 0 < adapter["batches"] <= 4 * adapter["fifo_polls"]
    steps = data["sweep"]
    assert [s["racks"] for s in steps][: len(steps)] == [1, 2][: len(steps)]
    for step in steps:
        assert step["expected_per_s"] == 1000 * step["racks"]
        assert step["gaps"] >= 0
        assert isinstance(step["sustained"], bool)
    # the sweep stops at the first step not sustained; the figure is the step before it
    assert all(step["sustained"] for step in steps[:-1])
    last = steps[-1]
    expected = last["racks"] if last["sustained"] else (steps[-2]["racks"] if len(steps) > 1 else 0)
    assert data["racks_sustained"] == expected


def test_bench_modbus_refuses_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "modbus", "--racks", "0"]) == 2
    assert "--racks: must be at least 1" in capsys.readouterr().err
    assert main(["bench", "modbus", "--seconds", "0"]) == 2
