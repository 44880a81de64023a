"""``gymctl demo``: a whole simulated gym on this machine, over the real protocols."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from controller import control_loop
from controller.cli._common import Subparsers, print_json, print_table
from controller.cli._runtime import port, setup_logging, stop_on_signals
from controller.demo.run import DemoHandle, DemoOptions, run_demo
from kernels.errors import InvalidInputError

MAX_STATIONS = 64


def options_from(args: argparse.Namespace) -> DemoOptions:
    if not 1 <= args.stations <= MAX_STATIONS:
        raise InvalidInputError(f"must be 1..{MAX_STATIONS}", where="--stations")
    duration = args.duration
    if duration is not None and not (math.isfinite(duration) and duration > 0):
        raise InvalidInputError("must be a positive number of seconds", where="--duration")
    if args.port == args.mqtt_port:
        raise InvalidInputError(
            f"the panel and the MQTT broker cannot share port {args.port}", where="--port"
        )
    db: Path = args.db
    if db.exists() and db.is_dir():
        raise InvalidInputError("is a directory, not a database file", where=str(db))
    if not db.resolve().parent.is_dir():
        raise InvalidInputError("its directory does not exist", where=str(db))
    return DemoOptions(
        stations=args.stations,
        duration_s=duration,
        port=args.port,
        mqtt_port=args.mqtt_port,
        db=db,
        panel=not args.no_panel,
    )


def _announce(handle: DemoHandle, options: DemoOptions) -> None:
    gym = handle.gym
    lines = [f"gymctl demo: {len(gym.runtimes)} stations"]
    for spec in handle.world.specs:
        if spec.kind == "rack":
            where = f"rack over Modbus TCP on 127.0.0.1:{handle.world.racks[spec.id].port}"
        elif spec.kind == "bike":
            where = "bike (FTMS) and heart-rate strap over BLE (bumble)"
        else:
            where = "sensorized band over BLE (bumble)"
        lines.append(f"  {spec.id:8} {where}")
    lines.append(
        f"  MQTT: embedded broker on 127.0.0.1:{options.mqtt_port} "
        f"(topics {gym.config.mqtt.topic_prefix}/{gym.config.site.id}/#)"
    )
    if gym.panel is not None:
        login = f" (log in as {handle.login[0]} / {handle.login[1]})" if handle.login else ""
        lines.append(f"  panel: http://127.0.0.1:{options.port}{login}")
    lines.append(f"  database: {options.db}")
    lines.append("  stops after the given duration" if options.duration_s else "  Ctrl-C stops it")
    print("\n".join(lines), flush=True)


def run(args: argparse.Namespace) -> int:
    options = options_from(args)
    setup_logging(args.verbose)

    async def main() -> dict[str, Any]:
        undo: list[Any] = []

        def started(handle: DemoHandle) -> None:
            undo.append(stop_on_signals(handle.stop.set))
            if not args.json:
                _announce(handle, options)
            elif handle.login is not None:  # stdout is the summary's; the login goes to stderr
                user, password = handle.login
                print(
                    f"gymctl demo: panel http://127.0.0.1:{options.port} "
                    f"(log in as {user} / {password})",
                    file=sys.stderr,
                    flush=True,
                )

        try:
            return await run_demo(options, on_start=started)
        finally:
            for step in undo:
                step()

    summary = control_loop.run(main())
    if args.json:
        print_json(summary)
        return 0
    rows = [
        [key, summary[key]]
        for key in (
            "stations",
            "sessions",
            "sessions_done",
            "sets",
            "reps",
            "velocity_loss_stops",
            "decisions",
            "traces",
            "duration_s",
            "db",
        )
    ]
    print_table(["demo", "value"], rows)
    changes = summary.get("load_changes_by_kind") or {}
    if changes:
        listed = ", ".join(f"{kind} {n}" for kind, n in changes.items())
        print(f"decisions that changed something: {listed}")
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a whole simulated gym here: racks over Modbus TCP, a bike, a strap and a "
        "band over BLE, the embedded MQTT broker and the panel",
        description="A simulated gym on this machine, over the real protocols: racks "
        "emulated as Modbus TCP servers on loopback, a bike with a heart-rate strap and a band "
        "emulated over BLE (bumble), athletes of different readiness with seeded history whose "
        "sessions check in, run, adapt and finish by themselves, the embedded MQTT broker and "
        "the panel. Rests are shortened to a twentieth of the plan's (at least 3 s); reps take "
        "the time the emulated athletes take.",
    )
    parser.add_argument(
        "--stations",
        type=int,
        default=4,
        metavar="N",
        help="stations: a bike, a band and N-2 racks (fewer than 3: racks only); default 4",
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        metavar="S",
        help="stop after S seconds and print a summary (default: until Ctrl-C)",
    )
    parser.add_argument("--port", type=port, default=8000, metavar="P", help="panel port (8000)")
    parser.add_argument(
        "--mqtt-port", type=port, default=1883, metavar="M", help="embedded MQTT broker port (1883)"
    )
    parser.add_argument(
        "--db",
        type=Path,
        default=Path("gymctl-demo.db"),
        metavar="PATH",
        help="SQLite database (created and seeded if new; default gymctl-demo.db)",
    )
    parser.add_argument("--no-panel", action="store_true", help="do not start the web panel")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    parser.set_defaults(handler=run)
