"""``gymctl bench modbus``: the rack adapter against bare pymodbus, and racks per process."""

from __future__ import annotations

import argparse
import asyncio
import logging
from typing import Any

from benchmarks.modbus import GOAL_RATIO, run_benchmark
from controller.cli._common import Subparsers, print_json, print_table
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "modbus",
        help="emulated 1 kHz racks polled by one process: adapter vs bare pymodbus, capacity",
        description="Emulated reference racks (1 kHz FIFO) in a child process, polled by this "
        "one at the map's cadence: samples and polls per second delivered as sample batches "
        "by the rack adapter against bare pymodbus making the same requests, and the rate per "
        f"CPU-second of each (ratio_vs_bare, goal {GOAL_RATIO:g}); then the number of racks "
        "polled without losing a sample (racks_sustained).",
    )
    parser.add_argument("--racks", type=int, default=2, help="racks in the comparison (default 2)")
    parser.add_argument(
        "--seconds", type=float, default=12.0, help="length of the comparison (default 12 s)"
    )
    parser.add_argument(
        "--sweep-seconds",
        type=float,
        default=3.0,
        help="length of each capacity step (default 3 s)",
    )
    parser.add_argument(
        "--max-racks", type=int, default=64, help="largest capacity step (default 64)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    for name in ("racks", "max_racks"):
        if getattr(args, name) < 1:
            raise InvalidInputError("must be at least 1", where=f"--{name.replace('_', '-')}")
    for name in ("seconds", "sweep_seconds"):
        if getattr(args, name) <= 0:
            raise InvalidInputError("must be positive", where=f"--{name.replace('_', '-')}")
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    report = asyncio.run(
        run_benchmark(
            racks=args.racks,
            seconds=args.seconds,
            sweep_seconds=args.sweep_seconds,
            max_racks=args.max_racks,
        )
    )
    data = report.to_json()
    if args.json:
        print_json(data)
    else:
        _print(data)
    return 0


def _print(data: dict[str, Any]) -> None:
    comparison = data["comparison"]
    print(f"adapter against bare pymodbus: {comparison['racks']} racks at the map's cadence")
    print_table(
        ["polling", "polls/s", "samples/s", "batches", "cpu share", "samples/cpu-s"],
        [
            [
                name,
                figures["polls_per_s"],
                figures["samples_per_s"],
                figures["batches"],
                figures["cpu_share"],
                figures["samples_per_cpu_s"],
            ]
            for name, figures in (
                ("bare pymodbus", comparison["bare"]),
                ("rack adapter", comparison["adapter"]),
            )
        ],
    )
    print(
        f"ratio_vs_bare {data['ratio_vs_bare']:.3f} (samples per CPU-second; goal "
        f"{data['goal_ratio']:g}), polls {data['ratio_polls_vs_bare']:.3f}"
    )
    if not data["comparable"]:
        print("(not comparable: the two made different numbers of polls; the machine is busy)")
    print()
    print("capacity: racks at the map's cadence (FIFO every 20 ms)")
    columns = [
        ("racks", "racks"),
        ("samples/s", "samples_per_s"),
        ("expected/s", "expected_per_s"),
        ("polls/s", "polls_per_s"),
        ("samples/poll", "samples_per_poll"),
        ("gaps", "gaps"),
        ("skipped", "skipped_ticks"),
        ("cpu", "controller_cpu"),
        ("emulators cpu", "emulator_cpu"),
    ]
    print_table(
        [title for title, _ in columns] + ["sustained"],
        [
            [step[key] for _, key in columns] + ["yes" if step["sustained"] else "no"]
            for step in data["sweep"]
        ],
    )
    print(f"racks_sustained {data['racks_sustained']}")
    before, after = data["load_average"]
    print(f"(load average {before:g} before, {after:g} after, on {data['cpus']} CPUs)")
