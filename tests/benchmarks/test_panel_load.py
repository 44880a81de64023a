"""The panel load benchmark runs end to end, tiny (figures are not judged: no timed asserts)."""

from __future__ import annotations

import json

import pytest

from benchmarks import panel_load
from controller.cli import main


@pytest.mark.parametrize("panel_process", [False, True], ids=["inline", "own-process"])
async def test_a_tiny_run_reports_every_figure(panel_process: bool) -> None:
    report = await panel_load.run(
        stations=3,
        viewers=4,
        rate=20.0,
        clients=2,
        warmup_s=4.0,
        seconds=2.0,
        rounds=2,
        check_in_over_s=0.5,
        panel_process=panel_process,
        realtime=10 if panel_process else None,
    )
    data = report.to_json()
    json.dumps(data, allow_nan=False)
    assert data["stations"] == 3
    assert data["viewers"] == 4
    live = data["live"]
    assert live["count"] == 4
    assert live["floor"] == 2
    assert live["station"] == 2
    assert live["token"] == 2
    assert live["session"] == 2
    assert live["frames"] > 0  # the floor feed sends the station tiles at least once
    api = data["api"]
    assert api["requests"] > 0
    assert api["ok"] == api["requests"], api["status"]
    assert api["p50_ms"] is not None
    assert api["p99_ms"] >= api["p50_ms"]
    assert data["rounds"] == 2
    assert len(data["client_rounds"]) == 2
    assert data["api"]["p99_ms"] == max(r["api_p99_ms"] for r in data["client_rounds"])
    for window in ("unloaded", "loaded"):
        figures = data[window]
        assert figures["seconds"] == 4.0  # two rounds' windows pooled
        # more ticks than one window of 2 s holds (3 stations, 40 ticks each)
        assert figures["loop_lag_samples"] > 3 * 40
        assert figures["loop_lag_p99_ms"] >= figures["loop_lag_p50_ms"] >= 0.0
    assert [s["station"] for s in data["per_station"]] == ["rack-1", "rack-2", "rack-3"]
    assert data["sessions_started"] >= 3
    assert data["goal_ratio"] == panel_load.GOAL_RATIO
    assert any("API" in line for line in panel_load.summary_lines(data))
    assert data["panel_process"] is panel_process
    assert "the loop's thread" in data["loop_scheduling"]
    # the panel's own process is measured apart (loaded, it serves the viewers and clients)
    if panel_process:
        assert data["unloaded"]["panel_cpu_share"] >= 0.0
        assert data["loaded"]["panel_cpu_share"] > 0.0
    else:
        assert data["unloaded"]["panel_cpu_share"] is None
        assert data["loaded"]["panel_cpu_share"] is None
    if panel_process:
        assert data["realtime_priority"] == 10
        assert any(line.startswith("panel ") for line in panel_load.summary_lines(data))


def test_percentiles_and_ratios() -> None:
    assert panel_load.percentile([], 99) is None
    assert panel_load.percentile([3.0, 1.0, 2.0], 50) == 2.0
    assert panel_load.percentile([float(i) for i in range(101)], 99) == 99.0
    unloaded = [panel_load._Snapshot([0.001, 0.002], [0.010]), panel_load._Snapshot([0.001], [])]
    loaded = [panel_load._Snapshot([0.004, 0.002], [0.015]), panel_load._Snapshot([], [0.02])]
    first, second = panel_load.compare(["a", "b"], unloaded, loaded)
    assert first.loop_lag_ratio == 2.0
    assert first.rep_to_cue_ratio == 1.5
    assert second.loop_lag_ratio is None
    assert second.rep_to_cue_ratio is None
    both = panel_load.pooled([unloaded, loaded])
    assert both[0].lags_s == [0.001, 0.002, 0.004, 0.002]
    assert both[1].rep_to_cue_s == [0.02]


@pytest.mark.parametrize(
    "argv",
    [
        ["--stations", "0"],
        ["--seconds", "0"],
        ["--rate", "-1"],
        ["--feed-hz", "0.5"],
        ["--rounds", "0"],
        ["--realtime", "0"],
        ["--realtime", "100"],
    ],
)
def test_bad_arguments_are_refused_with_exit_code_2(
    argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["bench", "panel-load", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gymctl: error:")
    assert "Traceback" not in err
