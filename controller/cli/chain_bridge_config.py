"""``gymctl chain bridge-config --config SITE.toml``: the site Mosquitto's configuration.

Prints it, or writes it to ``--output`` (mode 0600 when it holds the bridge's password).
Run Mosquitto with it (``mosquitto -c FILE``) and the controller with the same site
config: the controller talks to the site broker, the site broker to the centre.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.chain.bridge_config import bridge_config, holds_secret, parse_central
from controller.cli._common import Subparsers, write_text_file
from controller.config import load_config


def run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    central = None
    if args.central is not None:
        default = config.chain.central_port if config.chain is not None else 1883
        central = parse_central(args.central, default_port=default)
    text = bridge_config(config, central=central, source=str(args.config))
    if args.output is None:
        sys.stdout.write(text)
        return 0
    mode = 0o600 if holds_secret(config) else 0o644
    write_text_file(args.output, text, mode=mode)
    print(f"wrote {args.output}: run 'mosquitto -c {args.output}'", file=sys.stderr)
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "bridge-config",
        help="write the site Mosquitto's configuration, bridged to the central broker",
        description="Write the site broker's mosquitto.conf from the site config: its "
        "listener on mqtt.port, persistence, and the bridge to the central broker that "
        "remaps <mqtt.topic_prefix>/<site.id>/ to <chain.prefix>/<chain.name>/, queues "
        "while the centre is away and announces itself on <chain.prefix>/<name>/bridge/state. "
        "Settings come from the config's [chain] section (see docs/chain.md).",
    )
    parser.add_argument(
        "--config", type=Path, required=True, metavar="FILE", help="the site config (TOML)"
    )
    parser.add_argument(
        "--central",
        metavar="HOST[:PORT]",
        help="the central broker (overrides chain.central_host and chain.central_port)",
    )
    parser.add_argument(
        "-o", "--output", type=Path, metavar="FILE", help="write here instead of stdout"
    )
    parser.set_defaults(handler=run)
