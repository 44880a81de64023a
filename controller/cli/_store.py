"""Where a command finds the site's database: ``--db PATH`` or ``--config FILE``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import cast

from controller.config import load_config
from kernels.errors import InvalidInputError


def add_store_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--db", type=Path, metavar="PATH", help="the store's SQLite file")
    where.add_argument(
        "--config", type=Path, metavar="FILE", help="the site config (its [store] path is used)"
    )


def store_path(args: argparse.Namespace, *, command: str) -> Path:
    """The database file the options name (it may not exist yet)."""
    if args.db is not None:
        return cast(Path, args.db)
    if args.config is not None:
        return load_config(args.config).store_path
    raise InvalidInputError(
        "give the store with --db PATH or the site config with --config FILE", where=command
    )


def existing_store(args: argparse.Namespace, *, command: str, hint: str = "") -> Path:
    """The database file the options name; it must exist."""
    path = store_path(args, command=command)
    if not path.is_file():
        raise InvalidInputError(f"no database here{f' ({hint})' if hint else ''}", where=str(path))
    return path
