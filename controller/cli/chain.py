"""``gymctl chain``: a chain of sites whose brokers bridge to a central broker."""

from __future__ import annotations

from controller.cli._common import Subparsers
from controller.cli._groups import register_group

SUBCOMMANDS: tuple[str, ...] = (
    "controller.cli.chain_bridge_config",
    "controller.cli.chain_central_config",
)


def register(subparsers: Subparsers) -> None:
    register_group(
        subparsers,
        "chain",
        help="a chain of sites: the site brokers' bridges and the central broker",
        modules=SUBCOMMANDS,
    )
