"""``gymctl adapter check MAP --host H --port P``: is this device what its map says?"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from controller.cli._common import Subparsers, print_json, print_table
from equipment_adapters.modbus.conformance import DEFAULT_FIFO_SECONDS, check_device
from equipment_adapters.modbus.link import Endpoint, RtuEndpoint, TcpEndpoint
from equipment_adapters.modbus.mapfile import load_map
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "check",
        help="conformance check of a Modbus device against a register map",
        description="Check a device against a register map: identity, every point readable, "
        "writes inside the limits accepted and outside refused, e-stop and watchdog bring the "
        "resistance to zero, FIFO continuity. Writes to the device: use a rack nobody is on. "
        "Exits 1 if any check fails.",
    )
    parser.add_argument(
        "map",
        metavar="MAP",
        help="a map file (.toml, .yaml) or a shipped map's name (reference-rack)",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--host", help="Modbus TCP host of the device")
    where.add_argument("--serial", metavar="DEVICE", help="serial port of a Modbus RTU device")
    parser.add_argument("--port", type=int, default=502, help="Modbus TCP port (default 502)")
    parser.add_argument(
        "--baudrate", type=int, default=115200, help="RTU baud rate (default 115200)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=DEFAULT_FIFO_SECONDS,
        metavar="SECONDS",
        help=f"how long the FIFO continuity check reads (default {DEFAULT_FIFO_SECONDS:g} s)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="time allowed per request (default 1 s)",
    )
    parser.add_argument(
        "--unit", type=int, help="Modbus device address (default: the map's unit_id)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(handler=run)


def endpoint_of(args: argparse.Namespace) -> Endpoint:
    if args.serial:
        return RtuEndpoint(args.serial, baudrate=args.baudrate)
    if not 0 < args.port < 65536:
        raise InvalidInputError(f"{args.port} is not a TCP port", where="--port")
    return TcpEndpoint(args.host, args.port)


def run(args: argparse.Namespace) -> int:
    regmap = load_map(args.map)
    if args.duration <= 0:
        raise InvalidInputError("must be positive", where="--duration")
    if args.timeout <= 0:
        raise InvalidInputError("must be positive", where="--timeout")
    if args.unit is not None and not 1 <= args.unit <= 247:
        raise InvalidInputError(f"{args.unit} is not a Modbus device address", where="--unit")
    endpoint = endpoint_of(args)
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)  # its errors are our rows
    if not args.json:
        print(
            f"checking {endpoint} against {regmap.name} v{regmap.version} "
            f"(FIFO for {args.duration:g} s)...",
            file=sys.stderr,
        )
    report = asyncio.run(
        check_device(
            regmap,
            endpoint,
            fifo_seconds=args.duration,
            request_timeout=args.timeout,
            unit_id=args.unit,
        )
    )
    if args.json:
        print_json(report.to_json())
    else:
        print_table(
            ["check", "result", "detail"],
            [[r.name, r.verdict.value, r.detail] for r in report.results],
        )
        failed = sum(1 for r in report.results if r.verdict.value == "FAIL")
        verdict = "PASS" if report.passed else "FAIL"
        print(f"\n{verdict}: {len(report.results)} checks, {failed} failed")
    return 0 if report.passed else 1
