"""``gymctl run --config FILE``: the controller of a site with real equipment."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from controller import control_loop
from controller.adapters import make_adapter_factory
from controller.cli._common import Subparsers
from controller.cli._runtime import port, setup_logging, stop_on_signals
from controller.config import load_config
from controller.gil import prompt_gil_handover
from controller.gym import Gym, GymOptions
from controller.heap import settled_heap
from controller.timeslice import loop_scheduling

log = logging.getLogger(__name__)


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    options = GymOptions(
        mqtt_port=args.mqtt_port,
        db_path=args.db,
        panel=False if args.no_panel else None,
    )
    setup_logging(args.verbose)

    async def main() -> None:
        gym = Gym(
            config,
            make_adapter=make_adapter_factory(base_dir=Path(config.base_dir)),
            options=options,
        )
        async with gym:
            undo = stop_on_signals(gym.stop)
            try:
                where = [f"gymctl: {config.site.name}: {len(gym.runtimes)} stations"]
                if gym.bridge is not None:
                    kind = "embedded broker" if gym.broker is not None else "broker"
                    where.append(f"MQTT {kind} {gym.mqtt_host}:{gym.mqtt_port}")
                if gym.panel is not None:
                    where.append(f"panel on port {config.panel.port}")
                where.append(f"database {gym.db_path}")
                print("; ".join(where), flush=True)
                # the start-up's objects out of the collector's way, worker threads made
                # to hand the GIL back to the stations' loop promptly, and the loop's
                # thread run promptly by the kernel when it wakes (SCHED_FIFO if the
                # config asks and the service may, else a short time slice)
                with (
                    settled_heap(),
                    prompt_gil_handover(),
                    loop_scheduling(config.site.realtime_priority) as scheduling,
                ):
                    level = logging.WARNING if scheduling.refused else logging.INFO
                    log.log(level, "%s", scheduling.describe())
                    await gym.serve_forever()
            finally:
                undo()

    control_loop.run(main())
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run the controller of a site with real equipment (--config FILE)",
        description="Run a site: connect its stations' equipment (Modbus racks, BLE bikes, "
        "straps and bands), the MQTT bridge (or the embedded broker on 127.0.0.1 when the "
        "config names no broker), the store and the panel, until SIGINT or SIGTERM.",
    )
    parser.add_argument(
        "--config", type=Path, required=True, metavar="FILE", help="the site config (TOML)"
    )
    parser.add_argument(
        "--mqtt-port",
        type=port,
        default=None,
        metavar="M",
        help="MQTT port (overrides mqtt.port; the embedded broker's when no host is configured)",
    )
    parser.add_argument(
        "--db", type=Path, default=None, metavar="PATH", help="database (overrides store.path)"
    )
    parser.add_argument("--no-panel", action="store_true", help="do not start the web panel")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    parser.set_defaults(handler=run)
