"""``gymctl athlete erase ATHLETE --yes``: delete everything the site holds about an athlete.

Every row of every table with an ``athlete_id`` column goes, raw traces included, in one
transaction; the database and its write-ahead log are then checkpointed so that no copy
of the deleted bytes stays in the files (docs/store.md). The audit log keeps one line
saying an athlete was erased, without the id or name. Export first if the athlete asked
for a copy. An athlete with a running session is refused: events still arriving would
be stored again (end the session in the panel first).
"""

from __future__ import annotations

import argparse
import asyncio

from controller.cli._common import Subparsers, print_json, print_table
from controller.cli._store import add_store_options, existing_store
from controller.cli.athlete_export import actor
from controller.errors import NotFoundError
from controller.store import Store
from kernels.errors import InvalidInputError


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "erase",
        help="erase everything about one athlete (cannot be undone)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("athlete", metavar="ATHLETE", help="the athlete's id (a-...)")
    parser.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_store_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not args.yes:
        raise InvalidInputError(
            "erasure cannot be undone: confirm with --yes (export first if a copy is wanted)",
            where="gymctl athlete erase",
        )
    path = existing_store(args, command="gymctl athlete erase")

    async def erase() -> dict[str, int]:
        async with Store(path, retention=False) as store:
            running = await store.reader.query(
                "SELECT id, station_id FROM sessions WHERE athlete_id = ? AND status = 'running'",
                [args.athlete],
            )
            if running:
                where = ", ".join(f"{r['id']} at {r['station_id']}" for r in running)
                raise InvalidInputError(
                    f"has a running session ({where}): end it first", where=args.athlete
                )
            try:
                return await store.erase_athlete(args.athlete, actor=actor())
            except NotFoundError as exc:
                raise InvalidInputError(str(exc), where="ATHLETE") from None

    counts = asyncio.run(erase())
    deleted = {table: n for table, n in sorted(counts.items()) if n}
    if args.json:
        print_json({"athlete": args.athlete, "erased": True, "rows_deleted": deleted})
    else:
        print_table(["table", "rows deleted"], sorted(deleted.items()))
        print(f"erased {args.athlete}: {sum(deleted.values())} rows, file checkpointed")
    return 0
