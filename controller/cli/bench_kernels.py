"""``gymctl bench kernels``: the streaming rep detector against its Python and numpy versions."""

from __future__ import annotations

import argparse

from benchmarks import kernels
from controller.cli._common import Subparsers, print_json
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "kernels",
        help="rep detector: samples/s in one batch and 50-sample batches, ratios to baselines",
        description=kernels.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--sets", type=int, default=3, metavar="N", help="squat sets in the trace (default 3)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, metavar="N", help="runs of each measurement (default 5)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.sets < 1:
        raise InvalidInputError("must be at least 1", where="--sets")
    if args.repeats < 1:
        raise InvalidInputError("must be at least 1", where="--repeats")
    result = kernels.run(sets=args.sets, repeats=args.repeats)
    if args.json:
        print_json(result.to_json())
    else:
        print(kernels.report(result))
    return 0
