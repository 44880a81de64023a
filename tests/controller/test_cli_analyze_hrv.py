from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.rr_data import inject_artifacts, simulate_rr
from controller.cli import main
from kernels import hrv


def _write(path: Path, values: np.ndarray) -> Path:
    path.write_text("# exported RR\n" + "\n".join(f"{v:.3f}" for v in values) + "\n")
    return path


def test_json_output_matches_the_kernels(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rr = np.round(simulate_rr(300, seed=4), 3)
    assert (
        main(["analyze", "hrv", str(_write(tmp_path / "rr.txt", rr)), "--no-correct", "--json"])
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {
        "n_intervals",
        "n_corrected",
        "mean_rr_ms",
        "mean_hr_bpm",
        "sdnn_ms",
        "rmssd_ms",
        "ln_rmssd",
        "pnn50_pct",
    }
    expected = hrv.time_domain(rr)
    assert out["n_intervals"] == 300
    assert out["n_corrected"] == 0
    assert out["rmssd_ms"] == pytest.approx(expected.rmssd_ms, rel=1e-12)
    assert out["sdnn_ms"] == pytest.approx(expected.sdnn_ms, rel=1e-12)
    assert out["mean_hr_bpm"] == pytest.approx(expected.mean_hr_bpm, rel=1e-12)


def test_correction_on_by_default(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    clean = simulate_rr(300, seed=8)
    injected = inject_artifacts(clean, seed=8).rr_ms
    path = _write(tmp_path / "rr.txt", injected)
    assert main(["analyze", "hrv", str(path), "--json"]) == 0
    corrected = json.loads(capsys.readouterr().out)
    assert main(["analyze", "hrv", str(path), "--json", "--no-correct"]) == 0
    raw = json.loads(capsys.readouterr().out)
    truth = hrv.time_domain(clean).rmssd_ms
    assert corrected["n_corrected"] >= 6
    assert abs(corrected["rmssd_ms"] / truth - 1) < 0.05
    assert raw["rmssd_ms"] > 2 * truth


def test_csv_with_rr_ms_column_and_text_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rr = simulate_rr(100, seed=1)
    path = tmp_path / "rr.csv"
    path.write_text("time_s, rr_ms ,quality\n" + "".join(f"{i},{v},ok\n" for i, v in enumerate(rr)))
    assert main(["analyze", "hrv", str(path)]) == 0
    text = capsys.readouterr().out
    assert "RMSSD (ms)" in text
    assert f"{hrv.time_domain(hrv.correct_artifacts(rr).rr_ms).rmssd_ms:.3f}" in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("800\n900\nabc\n", "rr.txt:3: 'abc' is not a number"),
        ("800\n0.9\n", "rr.txt:2: 0.9 is not an RR interval in milliseconds"),
        ("800\n", "holds 1 RR interval(s)"),
        ("", "holds 0 RR interval(s)"),
        ("rr_ms\n800\n900\n-\n", "rr.txt:4: column rr_ms: '-' is not a number"),
        ("a,rr_ms\n1,800\n2\n", "rr.txt:3: has 1 fields"),
        ("800\nnan\n", "rr.txt:2: nan is not an RR interval"),
    ],
)
def test_bad_files_exit_2_with_the_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "rr.txt"
    path.write_text(content)
    assert main(["analyze", "hrv", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_missing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["analyze", "hrv", str(tmp_path / "none.txt")]) == 2
    assert "no such file" in capsys.readouterr().err
