"""``gymctl adapter``: register maps of Modbus equipment, for equipment makers."""

from __future__ import annotations

from controller.cli._common import Subparsers
from controller.cli._groups import register_group

SUBCOMMANDS: tuple[str, ...] = (
    "controller.cli.adapter_check",
    "controller.cli.adapter_export",
)


def register(subparsers: Subparsers) -> None:
    register_group(
        subparsers,
        "adapter",
        help="Modbus register maps: conformance check of a device, C header for its firmware",
        modules=SUBCOMMANDS,
    )
