from __future__ import annotations

import json

import pytest

from controller.cli import main


def test_bench_ble_json_is_well_formed(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ble", "--notifications", "100", "--rounds", "1", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["notifications"] == 100
    assert result["samples_per_notification"] == 16
    for key in (
        "notifications_per_s",
        "bare_notifications_per_s",
        "ratio_vs_bare",
        "wall_notifications_per_s",
        "wall_bare_notifications_per_s",
        "samples_per_s",
    ):
        assert isinstance(result[key], float)
        assert result[key] > 0
    assert result["samples_per_s"] == pytest.approx(16 * result["notifications_per_s"], rel=1e-3)


def test_bench_ble_text_and_bad_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "ble", "--notifications", "50", "--rounds", "1"]) == 0
    assert "ratio vs bare" in capsys.readouterr().out
    assert main(["bench", "ble", "--rounds", "0"]) == 2
    assert "--rounds" in capsys.readouterr().err
