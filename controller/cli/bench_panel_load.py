"""``gymctl bench panel-load``: the panel under load while a hundred stations train."""

from __future__ import annotations

import argparse
import logging

from benchmarks.panel_load import GOAL_RATIO, add_arguments, run_cli
from controller.cli._common import Subparsers


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "panel-load",
        help="API latency, live frames and station lag with the panel under load",
        description="The site as `gymctl run` runs it, its stations' racks emulated at the "
        "batch boundary (1 kHz, real time) with the demo's athletes and plans; after a "
        "warm-up, one window with the panel idle, then one with live viewers and JSON API "
        "clients in a separate process. Reports the API's p50/p99 latency and requests/s, "
        "live frames/s per viewer, and each station's loop lag p99 and rep-to-cue latency "
        f"p99 loaded against unloaded (goal: at most {GOAL_RATIO:g}x).",
    )
    add_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace) -> int:
    # a hundred stations log every check-in and set: keep the figures readable (for this
    # run only: the command also runs in-process, where the level would outlive it)
    quiet = logging.getLogger("controller")
    before = quiet.level
    quiet.setLevel(logging.WARNING)
    try:
        return run_cli(args)
    finally:
        quiet.setLevel(before)
