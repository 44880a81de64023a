"""prompt_gil_handover: the switch interval shortened while the site runs, then restored."""

from __future__ import annotations

import sys

import pytest

from controller.gil import LOOP_SWITCH_INTERVAL_S, prompt_gil_handover


def test_the_interval_is_short_inside_and_restored_after() -> None:
    before = sys.getswitchinterval()
    with prompt_gil_handover():
        assert sys.getswitchinterval() == pytest.approx(LOOP_SWITCH_INTERVAL_S)
        assert before > LOOP_SWITCH_INTERVAL_S
    assert sys.getswitchinterval() == before


def _failing_site() -> None:
    with prompt_gil_handover(0.001):
        assert sys.getswitchinterval() == pytest.approx(0.001)
        raise RuntimeError("the site failed")


def test_the_interval_is_restored_when_the_site_fails() -> None:
    before = sys.getswitchinterval()
    with pytest.raises(RuntimeError, match="the site failed"):
        _failing_site()
    assert sys.getswitchinterval() == before
