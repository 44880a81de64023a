"""Files a user might feed the command line, generated with impossible values in them: each
run exits 0 with one finite JSON object, or exits 2 with a single ``gymctl: error:`` line
naming the file (and the line where there is one), never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import math
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.traces import position_at, squat_set
from controller.cli import main

CELLS = st.sampled_from(["nan", "NaN", "inf", "-inf", "1e308", "-1e308", "", "x", "1e-320", "0"])


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def no_nan_or_infinity(token: str) -> float:
    raise AssertionError(f"{token} in the JSON output")


def check_outcome(code: int, out: str, err: str, path: Path) -> None:
    if code == 0:
        report = json.loads(out, parse_constant=no_nan_or_infinity)
        assert isinstance(report, dict)
        assert err == ""
        return
    assert code == 2, (code, err)
    assert out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gymctl: error: "), err
    assert str(path) in lines[0]
    assert "Traceback" not in err


T = np.arange(0.0, 20.0, 1.0 / 100.0)
X = position_at(squat_set(failed=False, grinder=False), T)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(0, T.size - 1), st.sampled_from(["t", "position"]), CELLS),
        max_size=5,
    ),
    st.lists(st.integers(1, T.size - 1), max_size=3),
)
def test_analyze_lift_on_broken_traces(cells: list[tuple[int, str, str]], swaps: list[int]) -> None:
    rows = [[f"{t:.4f}", f"{x:.6f}"] for t, x in zip(T, X, strict=True)]
    for i, column, value in cells:
        rows[i][0 if column == "t" else 1] = value
    for i in swaps:  # reversed (or, with equal values, duplicate) timestamps
        rows[i - 1][0], rows[i][0] = rows[i][0], rows[i - 1][0]
    text = "t,position\n" + "\n".join(",".join(r) for r in rows) + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "trace.csv"
        path.write_text(text, encoding="utf-8")
        code, out, err = run_cli("analyze", "lift", str(path), "--json", "--load-kg", "100")
        check_outcome(code, out, err, path)
        if not cells and not swaps:
            assert code == 0
            assert len(json.loads(out)["reps"]) >= 4  # the set within the first 20 s
        if code == 2 and "line" in err:
            line = int(err.split("line ")[1].split(",")[0].split(":")[0])
            assert 2 <= line <= T.size + 1


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.sampled_from(["800", "0", "-812", "65535", "x", "1e308", "nan"]),
        ),
        max_size=40,
    ),
    st.booleans(),
)
def test_analyze_hrv_on_impossible_rr_series(values: list[str], csv: bool) -> None:
    body = ["rr_ms", *values] if csv else values
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rr.txt"
        path.write_text("\n".join(body) + "\n", encoding="utf-8")
        code, out, err = run_cli("analyze", "hrv", str(path), "--json")
        check_outcome(code, out, err, path)
        plausible = all(_plausible(v) for v in values) and len(values) >= 2
        assert (code == 0) == plausible, (values, err)


def _plausible(cell: str) -> bool:
    try:
        value = float(cell)
    except ValueError:
        return False
    return math.isfinite(value) and 150.0 <= value <= 6000.0


PLAN_LINES = st.sampled_from(
    [
        "name: x",
        "weeks: -1",
        "weeks: .nan",
        "sessions: [{blocks: [null]}]",
        "title: " + "[" * 3000,
        "goal: strength",
        "sessions: 7",
        "- 1",
        "\t:",
        "name: [",
    ]
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PLAN_LINES, min_size=1, max_size=6), st.sampled_from(["yaml", "json"]))
def test_plan_validate_on_broken_plans(lines: list[str], suffix: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"plan.{suffix}"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        code, out, err = run_cli("plan", "validate", str(path), "--json")
        assert code == 2  # none of these is a whole plan
        assert out == ""
        assert err.startswith(f"gymctl: error: {path}: ")
        assert "Traceback" not in err
