"""``gymctl bench pipeline``: N emulated 1 kHz racks through the whole station pipeline."""

from __future__ import annotations

import argparse
import asyncio

from benchmarks import pipeline_sockets as sockets
from benchmarks.pipeline import build_parser, print_report, sweep
from controller.cli._common import Subparsers, print_json
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "pipeline",
        help="N stations at 1 kHz through the real station pipeline: throughput, CPU, "
        "rep-to-cue latency, loop lag, memory",
        description="A real site (store, bus, MQTT bridge, stations with drive, cues, stream "
        "processor and set supervisor) whose racks are emulated in-process at the batch "
        "boundary (their FIFO registers decoded by the adapter's FifoReader), for each N of "
        "the sweep in a fresh child process; against a naive per-sample Python baseline "
        "measured in the same run (ratio_vs_baseline, samples per CPU-second). MQTT goes to "
        "a Mosquitto started for the run when /usr/sbin/mosquitto exists, else to the "
        "embedded amqtt broker.",
    )
    build_parser(parser)
    sockets = parser.add_argument_group(
        "socket-level variant",
        "racks over Modbus TCP on loopback (emulators in a child process), bands over "
        "bumble (in this process), MQTT to Mosquitto: what the transports add",
    )
    sockets.add_argument(
        "--sockets", action="store_true", help="run the socket-level variant instead of the sweep"
    )
    sockets.add_argument("--racks", type=int, default=50, help="Modbus TCP racks (default 50)")
    sockets.add_argument("--bands", type=int, default=20, help="bumble BLE bands (default 20)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.sockets:
        return _sockets(args)
    data = asyncio.run(
        sweep(
            args.stations,
            duration_s=args.duration,
            warmup_s=args.warmup,
            poll_ms=args.poll_ms,
            mqtt=not args.no_mqtt,
            telemetry_hz=args.telemetry_hz,
        )
    )
    if args.json:
        print_json(data)
    else:
        print_report(data)
    return 0


def _sockets(args: argparse.Namespace) -> int:
    if args.duration <= 0:
        raise InvalidInputError("must be positive", where="--duration")
    data = asyncio.run(
        sockets.run(
            racks=args.racks, bands=args.bands, duration_s=args.duration, mqtt=not args.no_mqtt
        )
    )
    if args.json:
        print_json(data)
    else:
        sockets.print_report(data)
    return 0
