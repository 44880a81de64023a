"""``gymctl adapter export MAP --c-header``: a map as source for a device's firmware."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.cli._common import Subparsers
from equipment_adapters.modbus.cheader import export_c_header
from equipment_adapters.modbus.mapfile import load_map
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write a register map in another form (a C header for firmware)",
        description="Write a register map as a C header: addresses, data types, scales, raw "
        "limits and safe values, enums, status bits, the FIFO layout and the identity values, "
        "so that firmware and gymctl are built from one source.",
    )
    parser.add_argument(
        "map",
        metavar="MAP",
        help="a map file (.toml, .yaml) or a shipped map's name (reference-rack)",
    )
    form = parser.add_mutually_exclusive_group(required=True)
    form.add_argument("--c-header", action="store_true", help="a C99/C++ header")
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write to FILE instead of standard output"
    )
    parser.add_argument(
        "--prefix", help="prefix of the C names (default: the map's name in capitals)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    regmap = load_map(args.map)
    if args.prefix is not None and not args.prefix.isidentifier():
        raise InvalidInputError(f"{args.prefix!r} is not a C identifier", where="--prefix")
    text = export_c_header(regmap, prefix=args.prefix)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    try:
        args.output.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InvalidInputError(
            exc.strerror or "cannot be written", where=str(args.output)
        ) from None
    return 0
