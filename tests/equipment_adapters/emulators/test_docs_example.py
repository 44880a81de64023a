"""The example of docs/rack-emulator.md runs as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "rack-emulator.md"


def test_the_python_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    example = re.search(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert example is not None
    exec(compile(example.group(1), str(DOC), "exec"), {"__name__": "docs_example"})
    out = capsys.readouterr().out.splitlines()
    printed = [line for line in out if re.fullmatch(r"\[\d\.\d+, \d\.\d+\]", line)]
    assert len(printed) == 1  # the velocities of the two reps
    velocities = [float(v) for v in printed[0].strip("[]").split(",")]
    assert velocities[0] > velocities[1] > 0
    assert any(line.startswith("SampleBatch(device_id='rack-1'") for line in out)
