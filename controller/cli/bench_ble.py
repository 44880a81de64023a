"""``gymctl bench ble``: BLE notifications through codec and adapter into sample batches,
against bare bumble notifications in the same run (see :mod:`benchmarks.ble`)."""

from __future__ import annotations

import argparse
import asyncio

from benchmarks.ble import run_ble_bench
from controller.cli._common import Subparsers, print_json, print_table
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "ble",
        help="BLE notifications/s through codec and adapter vs bare bumble",
        description=(__doc__ or "").strip(),
    )
    parser.add_argument(
        "--notifications", type=int, default=1000, help="notifications per round (default 1000)"
    )
    parser.add_argument("--rounds", type=int, default=9, help="measured rounds of each path")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.notifications < 1:
        raise InvalidInputError("must be at least 1", where="--notifications")
    if args.rounds < 1:
        raise InvalidInputError("must be at least 1", where="--rounds")
    result = asyncio.run(run_ble_bench(args.notifications, args.rounds))
    if args.json:
        print_json(result.as_dict())
        return 0
    print_table(
        ["path", "notifications/s (CPU)", "notifications/s (wall)"],
        [
            ["bare bumble", result.bare_notifications_per_s, result.wall_bare_notifications_per_s],
            ["codec + adapter", result.notifications_per_s, result.wall_notifications_per_s],
        ],
    )
    print(
        f"ratio vs bare: {result.ratio_vs_bare:.3f} (goal >= 0.7); "
        f"{result.samples_per_notification} samples per notification, "
        f"{result.samples_per_s:.0f} samples/s"
    )
    return 0
