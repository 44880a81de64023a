from __future__ import annotations

import subprocess
import sys

import pytest

from controller import __version__
from controller.cli import build_parser, main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"gymctl {__version__}"


def test_every_level_has_help() -> None:
    parser = build_parser()
    parser.format_help()
    pending = [parser]
    while pending:
        current = pending.pop()
        assert current.format_help().startswith("usage: gymctl")
        for action in current._actions:
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                pending.extend(choices.values())


def test_console_script_runs() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "controller.cli", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0
    assert "usage: gymctl" in result.stdout


def test_missing_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([])
    assert exit_info.value.code == 2
