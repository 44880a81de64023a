"""``gymctl athlete``: athletes' data (import of other wearables' exports, ...)."""

from __future__ import annotations

from controller.cli._common import Subparsers
from controller.cli._groups import register_group

SUBCOMMANDS: tuple[str, ...] = ("controller.cli.athlete_import",)


def register(subparsers: Subparsers) -> None:
    register_group(
        subparsers,
        "athlete",
        help="athletes' data: import readiness inputs from other wearables",
        modules=SUBCOMMANDS,
    )
