"""Command groups whose subcommands live in modules of their own.

A group (``analyze``, ``bench``, ``sim``) is one parser; each of its subcommands is a
module with ``register(subparsers)``, so that the code of ``gymctl analyze lift`` and
``gymctl analyze hrv`` stays with its own concern.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence

from controller.cli._common import Subparsers


def register_group(subparsers: Subparsers, name: str, *, help: str, modules: Sequence[str]) -> None:
    parser = subparsers.add_parser(name, help=help, description=help)
    group = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND", required=True)
    for module in modules:
        importlib.import_module(module).register(group)
