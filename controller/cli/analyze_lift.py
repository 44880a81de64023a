"""``gymctl analyze lift FILE``: the reps of a recorded bar-position trace.

FILE is CSV with a header row and at least the columns ``t`` (seconds) and ``position``
(metres, up positive); other columns are ignored, an empty or ``nan`` position is a
dropout. The trace goes through the same streaming rep detector as live equipment.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

import numpy as np

from controller.cli._common import Subparsers, print_json, print_table
from controller.cli._csv import Columns, read_columns
from kernels.errors import InvalidInputError
from kernels.lifts import Lift, lift
from kernels.rep_config import DetectorConfig, LiftStart
from kernels.rep_detector import RepDetector
from kernels.reps import RepMetrics
from kernels.set_analysis import analyse_set

#: Larger times are not seconds of a recording (and would lose the sample spacing to
#: rounding: 1e308 + 0.001 == 1e308); UNIX times (1.7e9 s) are well within.
MAX_TIME_S = 1e12


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "lift",
        help="reps, velocities and power of a bar-position trace (CSV: t, position)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("file", type=Path, metavar="FILE", help="CSV with columns t and position")
    parser.add_argument("--load-kg", type=float, metavar="KG", help="load on the bar: adds power")
    parser.add_argument(
        "--exercise",
        metavar="NAME",
        help="back_squat, full_squat, bench_press or deadlift: sets where reps start and the "
        "MVT for reps in reserve (default: start decided from the trace)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    report = analyse_file(args.file, load_kg=args.load_kg, exercise=args.exercise)
    if args.json:
        print_json(report)
    else:
        _print_report(report)
    return 0


def analyse_file(path: Path, *, load_kg: float | None, exercise: str | None) -> dict[str, Any]:
    """The JSON report of ``gymctl analyze lift``."""
    if load_kg is not None and not (math.isfinite(load_kg) and load_kg >= 0.0):
        raise InvalidInputError(f"must be a number >= 0, got {load_kg}", where="--load-kg")
    chosen: Lift | None = None
    if exercise is not None:
        try:
            chosen = lift(exercise)
        except InvalidInputError as exc:
            raise InvalidInputError(exc.problem, where="--exercise") from None
    columns = read_columns(path, numbers=("t", "position"), may_be_missing=("position",))
    t = columns.values["t"]
    x = columns.values["position"]
    if len(columns) < 2:
        raise InvalidInputError(f"{len(columns)} sample(s): a trace needs more", where=str(path))
    far = np.flatnonzero(np.abs(t) > MAX_TIME_S)
    if far.size:
        i = int(far[0])
        raise InvalidInputError(
            f"t={t[i]:g} s is not a time in seconds (|t| <= {MAX_TIME_S:g})",
            where=columns.where(i, "t"),
        )
    steps = np.diff(t)
    back = np.flatnonzero(steps <= 0.0)
    if back.size:
        i = int(back[0]) + 1
        verb = "goes backwards" if steps[i - 1] < 0.0 else "does not advance"
        raise InvalidInputError(
            f"time {verb} (t={t[i]:g} s after t={t[i - 1]:g} s)", where=columns.where(i, "t")
        )
    rate = 1.0 / float(np.median(steps))
    if not 10.0 <= rate <= 20000.0:
        raise InvalidInputError(
            f"sample rate {rate:.4g} Hz is outside 10-20000 Hz (is t in seconds?)",
            where=f"{path}, column 't'",
        )
    start = chosen.start if chosen else LiftStart.AUTO
    detector = RepDetector(DetectorConfig(rate, start=start), load_kg=load_kg)
    try:
        reps = [*detector.feed_timed(t, x), *detector.finish()]
    except InvalidInputError as exc:
        raise _in_file(exc, columns) from None
    analysis = (
        analyse_set([r.mean_velocity_ms for r in reps], mvt_ms=chosen.mvt_ms if chosen else None)
        if reps
        else None
    )
    return {
        "file": str(path),
        "sample_rate_hz": rate,
        "samples": len(columns),
        "dropouts": int(np.count_nonzero(np.isnan(x))),
        "exercise": chosen.name if chosen else None,
        "start": detector.start.name.lower(),
        "load_kg": load_kg,
        "reps": [
            _rep_json(rep, None if analysis is None else analysis.losses_pct[i], load_kg)
            for i, rep in enumerate(reps)
        ],
        "partial_reps": detector.partial_reps,
        "velocity_loss_pct": None if analysis is None else analysis.velocity_loss_pct,
        "best_rep": None if analysis is None else analysis.best_index,
        "reps_in_reserve": None if analysis is None else analysis.reps_in_reserve,
        "mvt_ms": chosen.mvt_ms if chosen else None,
    }


def _in_file(exc: InvalidInputError, columns: Columns) -> InvalidInputError:
    """The detector names a sample; the user needs the file's line and column."""
    where = exc.where or ""
    if where.startswith("sample ") and where[7:].isdigit() and int(where[7:]) < len(columns):
        column = "position" if exc.problem.startswith("position") else "t"
        return InvalidInputError(exc.problem, where=columns.where(int(where[7:]), column))
    return InvalidInputError(exc.problem, where=f"{columns.path}: {where}" if where else None)


def _rep_json(rep: RepMetrics, loss: float | None, load_kg: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "index": rep.index,
        "start_s": rep.start_s,
        "end_s": rep.end_s,
        "concentric_start_s": rep.concentric_start_s,
        "rom_m": rep.rom_m,
        "mean_velocity_ms": rep.mean_velocity_ms,
        "mean_propulsive_velocity_ms": rep.mean_propulsive_velocity_ms,
        "peak_velocity_ms": rep.peak_velocity_ms,
        "concentric_s": rep.concentric_s,
        "eccentric_s": rep.eccentric_s,
        "time_to_peak_s": rep.time_to_peak_s,
        "velocity_loss_pct": loss,
    }
    if load_kg is not None:
        out["mean_power_w"] = rep.mean_power_w
        out["peak_power_w"] = rep.peak_power_w
    return out


def _print_report(report: dict[str, Any]) -> None:
    exercise = report["exercise"] or f"unknown exercise ({report['start']}-start)"
    load = f", {report['load_kg']:g} kg" if report["load_kg"] is not None else ""
    print(
        f"{report['file']}: {report['samples']} samples at {report['sample_rate_hz']:.0f} Hz, "
        f"{exercise}{load}"
    )
    powered = report["load_kg"] is not None
    headers = [
        "rep",
        "start s",
        "ROM m",
        "MCV m/s",
        "MPV m/s",
        "peak m/s",
        "conc s",
        "ecc s",
        "VL %",
    ]
    if powered:
        headers += ["mean W", "peak W"]
    rows = []
    for rep in report["reps"]:
        row = [
            rep["index"] + 1,
            rep["start_s"],
            rep["rom_m"],
            rep["mean_velocity_ms"],
            rep["mean_propulsive_velocity_ms"],
            rep["peak_velocity_ms"],
            rep["concentric_s"],
            rep["eccentric_s"],
            f"{rep['velocity_loss_pct']:6.1f}",
        ]
        if powered:
            row += [round(rep["mean_power_w"]), round(rep["peak_power_w"])]
        rows.append(row)
    print()
    if rows:
        print_table(headers, rows)
    else:
        print("no complete reps")
    print()
    print(f"reps: {len(rows)}   partial reps: {report['partial_reps']}")
    if report["velocity_loss_pct"] is not None:
        print(
            f"velocity loss: {report['velocity_loss_pct']:.1f} % "
            f"(last rep against rep {report['best_rep'] + 1})"
        )
    if report["reps_in_reserve"] is not None:
        print(
            f"reps in reserve: about {report['reps_in_reserve']:.1f} "
            f"(velocity trend to the {report['mvt_ms']:.2f} m/s MVT)"
        )
