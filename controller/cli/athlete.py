"""``gymctl athlete``: athletes' data (import of wearables' exports, export, erasure)."""

from __future__ import annotations

from controller.cli._common import Subparsers
from controller.cli._groups import register_group

SUBCOMMANDS: tuple[str, ...] = (
    "controller.cli.athlete_import",
    "controller.cli.athlete_export",
    "controller.cli.athlete_erase",
)


def register(subparsers: Subparsers) -> None:
    register_group(
        subparsers,
        "athlete",
        help="athletes' data: import wearables' readiness inputs, export, erase",
        modules=SUBCOMMANDS,
    )
