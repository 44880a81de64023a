"""The fuzz targets under hypothesis (the suite's short run; the long one is
``python -m benchmarks.fuzz`` with atheris), and proof that the targets can fail."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.fuzz import targets as fuzz
from benchmarks.fuzz.__main__ import main as fuzz_main
from equipment_adapters.ble.codecs import hrs

TARGETS = fuzz.all_targets()
SEEDS = {name: list(t.seeds()) for name, t in TARGETS.items()}


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], max_len: int) -> bytes:
    """A valid input with a few bytes flipped, inserted or cut (where bugs hide)."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(("flip", "insert", "cut")))
        at = draw(st.integers(0, len(data)))
        if op == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=4))
        else:
            del data[at : at + draw(st.integers(1, 4))]
    return bytes(data[:max_len])


def inputs(name: str) -> st.SearchStrategy[bytes]:
    target = TARGETS[name]
    raw = st.binary(max_size=min(target.max_len, 300))
    seeds = SEEDS[name]
    return raw | mutated(seeds, target.max_len) if seeds else raw


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_target_holds_on_random_and_mutated_input(name: str) -> None:
    run = TARGETS[name].run

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(inputs(name))
    def check(data: bytes) -> None:
        run(data)

    check()


@pytest.mark.parametrize("name", sorted(n for n in TARGETS if SEEDS[n]))
def test_seeds_are_accepted_inputs(name: str) -> None:
    for seed in SEEDS[name]:
        TARGETS[name].run(seed)


def test_a_decoder_that_breaks_the_contract_is_a_finding() -> None:
    """The harness is not a test that cannot fail: an IndexError, a value that does not
    survive re-encoding and an error without a place are each reported."""

    def index_error(data: bytes) -> object:
        return data[5]

    with pytest.raises(IndexError):
        fuzz._decoder(index_error)(b"\x00")

    def lossy_encode(m: hrs.HeartRateMeasurement) -> bytes:
        return hrs.encode_heart_rate(hrs.HeartRateMeasurement(m.heart_rate_bpm + 1))

    with pytest.raises(fuzz.ContractError):
        fuzz._decoder(hrs.decode_heart_rate, lossy_encode)(b"\x00\x48")

    def placeless(data: bytes) -> object:
        from equipment_adapters.errors import DecodeError

        raise DecodeError("bad", field="x", offset=len(data) + 3)

    with pytest.raises(fuzz.ContractError):
        fuzz._decoder(placeless)(b"\x01")


def test_impossible_floats_reach_the_kernels() -> None:
    """The float decoder of the kernel targets yields NaN, infinities and extremes."""
    data = bytes(b for i in range(len(fuzz.SPECIALS)) for b in (i, 0))
    values = fuzz.floats(data)
    assert values.size == len(fuzz.SPECIALS)
    assert any(v != v for v in values)  # NaN
    assert float("inf") in values
    assert -float("inf") in values
    assert 1e308 in values


@pytest.mark.skipif(importlib.util.find_spec("atheris") is None, reason="atheris not installed")
def test_the_long_run_driver_reports_what_it_ran(tmp_path: Path) -> None:
    """``python -m benchmarks.fuzz`` on one target for a few hundred inputs."""
    code = fuzz_main(["--runs", "300", "--target", "ble.heart_rate", "--out", str(tmp_path)])
    assert code == 0
    report = json.loads((tmp_path / "report.json").read_text())
    (entry,) = report["targets"]
    assert entry["target"] == "ble.heart_rate"
    assert entry["runs"] == 300
    assert entry["ok"]
    assert entry["features"] > 0
    assert (tmp_path / "corpus" / "ble.heart_rate").is_dir()
