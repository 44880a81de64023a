"""``gymctl analyze lvp FILE``: an athlete's load-velocity profile and estimated 1RM.

FILE is CSV with a header row and the columns ``load_kg`` and ``mean_velocity_ms`` (one
point per set: its load and its best rep's mean velocity). With a ``date`` column
(YYYY-MM-DD) recent points weigh more (half-life ``--half-life-days``); without one every
point weighs the same. The 1RM is estimated where the line reaches the minimal velocity
threshold: ``--mvt``, or the default of ``--exercise``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from controller.cli._common import Subparsers, print_json, print_table
from controller.cli._csv import Columns, read_columns
from kernels.errors import InvalidInputError
from kernels.lifts import lift
from kernels.lvp import DEFAULT_HALF_LIFE_DAYS, LoadVelocityProfile, fit_profile, recency_weights

#: Target mean velocities shown with the loads the profile gives for them (m/s).
ZONES_MS = (1.0, 0.75, 0.5)


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "lvp",
        help="load-velocity profile and estimated 1RM (CSV: load_kg, mean_velocity_ms)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "file", type=Path, metavar="FILE", help="CSV with columns load_kg and mean_velocity_ms"
    )
    parser.add_argument(
        "--exercise",
        metavar="NAME",
        help="back_squat, full_squat, bench_press or deadlift: its MVT is the default",
    )
    parser.add_argument(
        "--mvt",
        type=float,
        metavar="M_PER_S",
        help="minimal velocity threshold (mean velocity at 1RM)",
    )
    parser.add_argument(
        "--half-life-days",
        type=float,
        default=DEFAULT_HALF_LIFE_DAYS,
        metavar="DAYS",
        help="with a date column: a point this much older counts half "
        f"(default {DEFAULT_HALF_LIFE_DAYS:g})",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    report = analyse_file(
        args.file, exercise=args.exercise, mvt_ms=args.mvt, half_life_days=args.half_life_days
    )
    if args.json:
        print_json(report)
    else:
        _print_report(report)
    return 0


def analyse_file(
    path: Path, *, exercise: str | None, mvt_ms: float | None, half_life_days: float
) -> dict[str, Any]:
    """The JSON report of ``gymctl analyze lvp``."""
    name: str | None = None
    if exercise is not None:
        try:
            chosen = lift(exercise)
        except InvalidInputError as exc:
            raise InvalidInputError(exc.problem, where="--exercise") from None
        name = chosen.name
        if mvt_ms is None:
            mvt_ms = chosen.mvt_ms
    if mvt_ms is not None and not (math.isfinite(mvt_ms) and 0.0 < mvt_ms < 2.0):
        raise InvalidInputError(f"must be a velocity in m/s, got {mvt_ms}", where="--mvt")
    if not (math.isfinite(half_life_days) and half_life_days > 0.0):
        raise InvalidInputError("must be a positive number of days", where="--half-life-days")
    columns = read_columns(path, numbers=("load_kg", "mean_velocity_ms"), optional_text=("date",))
    loads = columns.values["load_kg"]
    velocities = columns.values["mean_velocity_ms"]
    for row in np.flatnonzero(loads < 0.0):
        raise InvalidInputError(
            "a load cannot be negative", where=columns.where(int(row), "load_kg")
        )
    for row in np.flatnonzero(velocities <= 0.0):
        raise InvalidInputError(
            "a mean velocity must be positive", where=columns.where(int(row), "mean_velocity_ms")
        )
    weights = None
    if "date" in columns.text:
        ages = _ages_days(columns)
        weights = recency_weights(ages, half_life_days=half_life_days)
    try:
        profile = fit_profile(loads, velocities, mvt_ms=mvt_ms, weights=weights)
    except InvalidInputError as exc:
        raise InvalidInputError(exc.problem, where=str(path)) from None
    return _report(profile, path, name, weighted=weights is not None, half_life=half_life_days)


def _ages_days(columns: Columns) -> npt.NDArray[np.float64]:
    days = []
    for row, text in enumerate(columns.text["date"]):
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InvalidInputError(
                f"{text!r} is not a date (YYYY-MM-DD)", where=columns.where(row, "date")
            ) from None
        days.append(when.replace(tzinfo=None).timestamp() / 86400.0)
    stamp = np.array(days, dtype=np.float64)
    ages: npt.NDArray[np.float64] = stamp.max() - stamp
    return ages


def _report(
    profile: LoadVelocityProfile,
    path: Path,
    exercise: str | None,
    *,
    weighted: bool,
    half_life: float,
) -> dict[str, Any]:
    return {
        "file": str(path),
        "exercise": exercise,
        "slope": profile.slope,
        "intercept": profile.intercept,
        "r2": profile.r2,
        "mvt_ms": profile.mvt_ms,
        "e1rm_kg": profile.e1rm_kg,
        "n_points": profile.n_points,
        "weighted_by_date": weighted,
        "half_life_days": half_life if weighted else None,
        "loads_for_velocity_kg": {f"{v:.2f}": profile.load_for_velocity(v) for v in ZONES_MS},
    }


def _print_report(report: dict[str, Any]) -> None:
    print(f"{report['file']}: {report['n_points']} points", end="")
    if report["weighted_by_date"]:
        print(f", weighted by date (half-life {report['half_life_days']:g} days)")
    else:
        print(", equally weighted")
    print(
        f"velocity = {report['intercept']:.3f} {report['slope']:+.5f} x load   "
        f"(m/s, kg; r^2 {report['r2']:.3f})"
    )
    if report["e1rm_kg"] is None:
        print("estimated 1RM: unknown (give --exercise or --mvt)")
    else:
        what = f" for {report['exercise']}" if report["exercise"] else ""
        print(f"estimated 1RM: {report['e1rm_kg']:.1f} kg at MVT {report['mvt_ms']:.2f} m/s{what}")
    print()
    print_table(
        ["target m/s", "load kg"],
        [[float(v), kg] for v, kg in report["loads_for_velocity_kg"].items()],
    )
