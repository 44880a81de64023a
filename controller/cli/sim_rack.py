"""``gymctl sim rack``: an emulated rack on 127.0.0.1, with an athlete lifting on it."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from controller.cli._common import Subparsers
from equipment_adapters.emulators.rack import RackEmulator, find_athlete
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "rack",
        help="an emulated rack: a Modbus TCP (or RTU) server implementing a register map",
        description="Run an emulated motorized rack on 127.0.0.1 implementing a register map, "
        "with an athlete who lifts sets by themselves (unless --idle). It keeps a device "
        "watchdog: write the heartbeat, or the resistance falls to zero and a fault latches. "
        "Prints the address it serves, then runs until interrupted.",
    )
    parser.add_argument(
        "--port",
        type=int,
        default=5020,
        help="TCP port on 127.0.0.1 (default 5020, 0 picks a free one)",
    )
    parser.add_argument(
        "--serial", metavar="DEVICE", help="serve Modbus RTU on this serial port instead of TCP"
    )
    parser.add_argument(
        "--baudrate", type=int, default=115200, help="RTU baud rate (default 115200)"
    )
    parser.add_argument(
        "--unit", type=int, help="Modbus device address to answer (default: the map's)"
    )
    parser.add_argument(
        "--map",
        default="reference-rack",
        help="a rack map file or a shipped map's name (default reference-rack)",
    )
    parser.add_argument(
        "--athlete", default="ath-ana", help="a demo athlete's id or name (default ath-ana)"
    )
    parser.add_argument(
        "--exercise", default="back_squat", help="the lift of the sets (default back_squat)"
    )
    parser.add_argument("--reps", type=int, default=5, help="reps per set (default 5)")
    parser.add_argument(
        "--rest",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="rest between sets (default 20 s)",
    )
    parser.add_argument(
        "--idle", action="store_true", help="nobody lifts: only the device's own behaviour"
    )
    parser.add_argument(
        "--ignore-watchdog",
        action="store_true",
        help="a faulty device that keeps its load when the heartbeat stops",
    )
    parser.add_argument(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this long (default: run until interrupted)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port < 65536:
        raise InvalidInputError(f"{args.port} is not a TCP port", where="--port")
    if args.unit is not None and not 1 <= args.unit <= 247:
        raise InvalidInputError(
            f"{args.unit} is not a Modbus device address (1..247)", where="--unit"
        )
    if args.reps < 1:
        raise InvalidInputError("must be at least 1", where="--reps")
    if args.rest < 0:
        raise InvalidInputError("must not be negative", where="--rest")
    athlete = find_athlete(args.athlete)
    if args.exercise not in athlete.lifts:
        known = ", ".join(sorted(athlete.lifts))
        raise InvalidInputError(
            f"{athlete.name} has no lift {args.exercise!r} (known: {known})", where="--exercise"
        )
    emulator = RackEmulator(
        regmap=args.map,
        athlete=athlete,
        port=args.port,
        serial_port=args.serial,
        baudrate=args.baudrate,
        unit_id=args.unit,
        ignore_watchdog=args.ignore_watchdog,
    )
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    asyncio.run(_serve(emulator, args))
    return 0


async def _serve(emulator: RackEmulator, args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with emulator as rack, asyncio.TaskGroup() as group:
            where = args.serial or f"tcp 127.0.0.1:{rack.port}"
            print(
                f"{rack.regmap.name} emulator: modbus {where} unit {rack.unit_id}, "
                f"athlete {rack.athlete.name}",
                flush=True,
            )
            lifting = None
            if not args.idle:
                lifting = group.create_task(
                    rack.run_sets(args.exercise, sets=1_000_000, reps=args.reps, rest_s=args.rest),
                    name="sim rack athlete",
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(args.duration):
                    await stop.wait()
            if lifting is not None:
                lifting.cancel()
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
