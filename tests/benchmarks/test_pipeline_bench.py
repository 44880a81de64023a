"""``gymctl bench pipeline`` run small: the figures are there and well-formed (no timing
asserts), and the emulated rack hands the pipeline exactly the trace it plays."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from benchmarks import pipeline
from controller.cli import main
from equipment_adapters.batch import SampleBatch

RUN_KEYS = {
    "stations",
    "offered_samples_per_s",
    "processed_samples_per_s",
    "cpu_s_per_s",
    "cpu_us_per_station_s",
    "rep_to_cue_p50_ms",
    "rep_to_cue_p99_ms",
    "rep_to_cue_max_ms",
    "loop_lag_p99_ms",
    "peak_rss_mb",
    "ratio_vs_baseline",
    "every_sample_processed",
}


def _check_run(run: dict[str, object], stations: int) -> None:
    assert run.keys() >= RUN_KEYS
    assert run["stations"] == stations
    assert run["offered_samples_per_s"] == stations * pipeline.RATE_HZ
    processed = run["processed_samples_per_s"]
    assert isinstance(processed, float)
    assert processed > 0
    cpu = run["cpu_s_per_s"]
    assert isinstance(cpu, float)
    assert cpu > 0
    assert isinstance(run["peak_rss_mb"], float)
    assert run["peak_rss_mb"] > 10
    assert isinstance(run["ratio_vs_baseline"], float)
    assert run["ratio_vs_baseline"] > 0
    lag = run["loop_lag_p99_ms"]
    assert lag is None or isinstance(lag, float)
    p50, p99, top = run["rep_to_cue_p50_ms"], run["rep_to_cue_p99_ms"], run["rep_to_cue_max_ms"]
    if p50 is not None:
        assert isinstance(p50, float)
        assert isinstance(p99, float)
        assert isinstance(top, float)
        assert 0 < p50 <= p99 <= top


@pytest.mark.slow
def test_the_command_line_prints_one_json_object_per_run(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(
        [
            "bench",
            "pipeline",
            "--stations",
            "2",
            "3",
            "--duration",
            "1.0",
            "--warmup",
            "0.5",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["benchmark"] == "pipeline"
    assert data["settings"]["mqtt"] in ("mosquitto", "amqtt (embedded)")
    assert data["baseline"]["samples_per_cpu_s"] > 0
    assert [run["stations"] for run in data["runs"]] == [2, 3]
    for run, n in zip(data["runs"], (2, 3), strict=True):
        _check_run(run, n)
        assert run["mqtt_connected"] is True
        assert isinstance(run["mqtt_published"], int)
        assert run["mqtt_published"] >= 0


async def test_one_site_without_mqtt_streams_every_sample() -> None:
    run = await pipeline.measure(3, duration_s=1.0, warmup_s=0.3, poll_ms=10.0)
    assert run.mqtt == "none"
    assert run.mqtt_published is None
    assert run.samples_lost == 0
    # every sample written in the window was read, up to one poll interval of each rack
    assert run.processed_samples_per_s * run.duration_s >= 3 * 1000 * (run.duration_s - 0.05)


def test_bad_station_counts_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "pipeline", "--stations", "0", "--no-mqtt"]) == 2
    assert "--stations" in capsys.readouterr().err


async def test_the_rack_delivers_its_trace_through_the_fifo_reader() -> None:
    fifo = pipeline.one_sided_fifo()
    trace = pipeline.rack_trace(1, capacity=fifo.capacity)
    batches: list[SampleBatch] = []
    first = (1 << 16) * 3 - 700  # the loop and the 16-bit seq field both wrap in the run
    rack = pipeline.BenchRack(
        "r", on_batch=batches.append, on_event=None, fifo=fifo, trace=trace, first_seq=first
    )
    async with rack:
        origin = rack.origin
        for k in range(1, 200):
            await rack.poll(origin + k * 0.0137)
    assert rack.lost == 0
    seqs = [b.seq for b in batches]
    assert seqs[0] is not None
    values = np.concatenate([b.values for b in batches])
    expected_seq = np.arange(seqs[0], seqs[0] + values.shape[0])
    np.testing.assert_array_equal(values, trace.positions[expected_seq % pipeline.CYCLE])
    for before, after in itertools.pairwise(batches):
        assert after.seq == before.seq + len(before)  # type: ignore[operator]


def test_each_rep_of_the_trace_has_its_completing_sample() -> None:
    trace = pipeline.rack_trace(0, capacity=1000)
    assert trace.rep_end.shape[0] == 7  # seven reps per set
    # a rep is known only after it ended, and before the bar is back in the rack
    assert np.all(trace.rep_complete >= trace.rep_end)
    assert np.all(trace.rep_complete < trace.set_end)
    rack = pipeline.BenchRack(
        "r",
        on_batch=lambda b: None,
        on_event=None,
        fifo=pipeline.one_sided_fifo(),
        trace=trace,
        first_seq=0,
    )
    base = 5 * pipeline.HALF
    for end, complete in zip(trace.rep_end, trace.rep_complete, strict=True):
        assert rack.completing_sample((base + int(end)) / pipeline.RATE_HZ) == base + complete


def test_the_naive_baseline_finds_reps() -> None:
    figures = pipeline.naive_baseline(12_000)
    assert figures["reps"] >= 2
    assert figures["samples_per_cpu_s"] > 0


@pytest.mark.slow
def test_the_socket_variant_runs_small(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "bench",
            "pipeline",
            "--sockets",
            "--racks",
            "2",
            "--bands",
            "1",
            "--duration",
            "2",
            "--no-mqtt",
            "--json",
        ]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["benchmark"] == "pipeline-sockets"
    run = data["run"]
    assert run["racks"] == 2
    assert run["bands"] == 1
    assert run["offered_samples_per_s"] == 2 * 1000 + 100
    assert run["rack_samples_per_s"] > 0  # the racks' FIFOs came over Modbus TCP
    assert run["cpu_s_per_s"] > 0
    assert run["emulators_cpu_s_per_s"] is None or run["emulators_cpu_s_per_s"] >= 0
    assert run["peak_rss_mb"] > 10
    p50, p99 = run["arrival_to_cue_p50_ms"], run["arrival_to_cue_p99_ms"]
    assert (p50 is None) == (p99 is None)
    if p50 is not None:
        assert 0 <= p50 <= p99 <= run["arrival_to_cue_max_ms"]
