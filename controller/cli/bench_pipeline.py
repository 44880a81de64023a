"""``gymctl bench pipeline``: N emulated 1 kHz racks through the whole station pipeline."""

from __future__ import annotations

import argparse
import asyncio

from benchmarks.pipeline import build_parser, print_report, sweep
from controller.cli._common import Subparsers, print_json


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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
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
