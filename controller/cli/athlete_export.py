"""``gymctl athlete export ATHLETE --out FILE``: everything the site holds about an athlete.

A zip of ``athlete.json`` (every table), one CSV per table and the raw traces as CSV (see
docs/store.md). With ``--passphrase-file`` every member is AES-256 encrypted (the WinZip
AES format: 7-Zip, Keka, WinZip and ``7z x FILE`` open it; docs/threat-model.md says how
the athlete does). The file is written under a temporary name and renamed: a failed
export leaves nothing behind. The export is recorded in the audit log.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
from functools import partial
from pathlib import Path

from controller.cli._common import Subparsers, print_json, read_text_file
from controller.cli._store import add_store_options, existing_store
from controller.errors import NotFoundError
from controller.store import Store
from controller.store.people import audit
from controller.store.subjects import check_passphrase
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "export",
        help="export everything about one athlete to a zip (optionally encrypted)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("athlete", metavar="ATHLETE", help="the athlete's id (a-...)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the zip to write")
    parser.add_argument(
        "--passphrase-file",
        type=Path,
        metavar="F",
        help="encrypt with the passphrase on the first line of F (12 characters or more)",
    )
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_store_options(parser)
    parser.set_defaults(handler=run)


def read_passphrase(path: Path) -> str:
    """The first line of a passphrase file (a trailing newline is not part of it)."""
    lines = read_text_file(path).splitlines()
    return check_passphrase(lines[0] if lines else "", where=str(path))


def actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        return "cli"


def run(args: argparse.Namespace) -> int:
    path = existing_store(args, command="gymctl athlete export")
    passphrase = read_passphrase(args.passphrase_file) if args.passphrase_file else None
    out: Path = args.out
    if out.exists() and not args.force:
        raise InvalidInputError("exists already (use --force to replace it)", where=str(out))
    if out.is_dir():
        raise InvalidInputError("is a directory, not a file", where=str(out))

    async def export() -> int:
        async with Store(path, retention=False) as store:
            try:
                written = await store.export_athlete(args.athlete, out, passphrase=passphrase)
            except NotFoundError as exc:
                raise InvalidInputError(str(exc), where="ATHLETE") from None
            size = (await asyncio.to_thread(written.stat)).st_size
            await store.writer.call(
                partial(
                    audit,
                    actor=actor(),
                    action="athlete.export",
                    target_type="athlete",
                    target_id=args.athlete,
                    athlete_id=args.athlete,
                    detail={"bytes": size, "encrypted": passphrase is not None},
                )
            )
            return size

    size = asyncio.run(export())
    if args.json:
        print_json(
            {
                "athlete": args.athlete,
                "file": str(out),
                "bytes": size,
                "encrypted": passphrase is not None,
            }
        )
    else:
        how = "AES-256 encrypted" if passphrase is not None else "not encrypted"
        print(f"exported {args.athlete} to {out} ({size} bytes, {how})")
    return 0
