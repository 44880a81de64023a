"""``gymctl user add|list|passwd|remove|token``: staff accounts of the panel.

There is no default account and no default password: the first admin is created here, on
the controller's machine, by someone who can open its database. Passwords are asked twice
on the terminal (never echoed) or read from the first line of standard input with
``--password-stdin`` (for scripts); they are stored only as argon2id hashes. The database
is the site config's store (``--config gym.toml``) or a file given with ``--db``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path
from typing import TypeVar, cast

from controller.cli._common import Subparsers, print_json, print_table
from controller.cli._store import add_store_options, existing_store, store_path
from controller.errors import NotFoundError
from controller.store import StoreReader, StoreWriter
from controller.store.people import (
    ROLES,
    Role,
    audit,
    create_api_token,
    create_staff_user,
    delete_staff_user,
    hash_secret,
    set_password_hash,
)
from kernels.errors import InvalidInputError
from web_ui.auth import new_token
from web_ui.passwords import Passwords, check_new_password

T = TypeVar("T")


def register(subparsers: Subparsers) -> None:
    description = (
        "Staff accounts of the panel (roles: admin = everything; coach = athletes, plans, "
        "load overrides; front_desk = check-in and e-stop). There is no default account: "
        "create the first admin here."
    )
    parser = subparsers.add_parser(
        "user", help="staff accounts of the panel", description=description
    )
    commands = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND", required=True)

    add = commands.add_parser("add", help="create an account", description="Create an account.")
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=ROLES, help="what the account may do")
    _password_option(add)
    _store_options(add)
    add.set_defaults(handler=_add)

    listing = commands.add_parser(
        "list", help="list the accounts", description="List the accounts (never their passwords)."
    )
    listing.add_argument("--json", action="store_true", help="one JSON object")
    _store_options(listing)
    listing.set_defaults(handler=_list)

    passwd = commands.add_parser(
        "passwd", help="set a new password", description="Set a new password for an account."
    )
    passwd.add_argument("username")
    _password_option(passwd)
    _store_options(passwd)
    passwd.set_defaults(handler=_passwd)

    remove = commands.add_parser(
        "remove",
        help="delete an account",
        description="Delete an account with its API tokens and panel sessions.",
    )
    remove.add_argument("username")
    remove.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _store_options(remove)
    remove.set_defaults(handler=_remove)

    token = commands.add_parser(
        "token",
        help="create an API token for a machine client",
        description="Create an API token (Authorization: Bearer ...) acting with the user's "
        "role. It is printed once and stored only as a hash.",
    )
    token.add_argument("username")
    token.add_argument("--name", required=True, help="what the token is for, e.g. prometheus")
    token.add_argument("--expires-days", type=int, metavar="DAYS", help="expire after DAYS")
    token.add_argument("--json", action="store_true", help="one JSON object")
    _store_options(token)
    token.set_defaults(handler=_token)


def _password_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input",
    )


def _store_options(parser: argparse.ArgumentParser) -> None:
    add_store_options(parser)


def _db_path(args: argparse.Namespace) -> Path:
    return store_path(args, command="gymctl user")


def _existing_db(args: argparse.Namespace) -> Path:
    return existing_store(
        args, command="gymctl user", hint="create the first account with 'gymctl user add'"
    )


def _read_password(args: argparse.Namespace, username: str) -> str:
    if args.password_stdin:
        line = sys.stdin.readline()
        password = line.rstrip("\r\n")
        check_new_password(password, username=username)
        return password
    if not sys.stdin.isatty():
        raise InvalidInputError(
            "no terminal to ask the password on: use --password-stdin", where="password"
        )
    password = getpass.getpass(f"New password for {username}: ")
    check_new_password(password, username=username)
    if getpass.getpass("Again: ") != password:
        raise InvalidInputError("the two passwords differ", where="password")
    return password


def _write(path: Path, fn: Callable[[StoreWriter], Awaitable[T]]) -> T:
    async def run() -> T:
        async with StoreWriter(path, commit_interval_s=0.0) as writer:
            return await fn(writer)

    return asyncio.run(run())


def _add(args: argparse.Namespace) -> int:
    path = _db_path(args)
    role = cast(Role, args.role)
    password = _read_password(args, args.username)
    password_hash = Passwords().hash(password, username=args.username)

    async def run(writer: StoreWriter) -> int:
        user_id: int = await writer.call(
            partial(
                create_staff_user, username=args.username, role=role, password_hash=password_hash
            )
        )
        await _audit(writer, "user.add", args.username, {"role": role})
        return user_id

    _write(path, run)
    print(f"created {args.username} ({role}) in {path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    path = _existing_db(args)
    users = asyncio.run(StoreReader(path).staff_users())
    if args.json:
        print_json({"users": users})
        return 0
    rows = [
        (
            u["username"],
            u["role"],
            "disabled" if u["disabled"] else "active",
            time.strftime("%Y-%m-%d %H:%M", time.localtime(u["last_login"]))
            if u["last_login"]
            else None,
        )
        for u in users
    ]
    print_table(["username", "role", "status", "last sign-in"], rows)
    return 0


def _passwd(args: argparse.Namespace) -> int:
    path = _existing_db(args)
    password = _read_password(args, args.username)
    password_hash = Passwords().hash(password, username=args.username)

    async def run(writer: StoreWriter) -> None:
        await writer.call(
            partial(set_password_hash, username=args.username, password_hash=password_hash)
        )
        # a new password ends every session of the account
        await writer.call(
            lambda db: db.execute(
                "DELETE FROM web_sessions WHERE user_id = "
                "(SELECT id FROM staff_users WHERE username = ?)",
                [args.username],
            )
        )
        await _audit(writer, "user.passwd", args.username, {})

    try:
        _write(path, run)
    except NotFoundError as exc:
        raise InvalidInputError(str(exc), where="username") from None
    print(f"password of {args.username} changed; their panel sessions ended")
    return 0


def _remove(args: argparse.Namespace) -> int:
    path = _existing_db(args)
    if not args.yes:
        if not sys.stdin.isatty():
            raise InvalidInputError("confirm with --yes (no terminal to ask on)", where="remove")
        answer = input(f"Delete the account {args.username} with its tokens? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("nothing deleted")
            return 1

    async def run(writer: StoreWriter) -> None:
        await writer.call(partial(delete_staff_user, username=args.username))
        await _audit(writer, "user.remove", args.username, {})

    try:
        _write(path, run)
    except NotFoundError as exc:
        raise InvalidInputError(str(exc), where="username") from None
    print(f"deleted {args.username}")
    return 0


def _token(args: argparse.Namespace) -> int:
    path = _existing_db(args)
    if args.expires_days is not None and not 1 <= args.expires_days <= 3650:
        raise InvalidInputError("must be 1..3650", where="--expires-days")
    if not args.name.strip() or len(args.name) > 64:
        raise InvalidInputError("must be 1-64 characters", where="--name")
    try:
        user = asyncio.run(StoreReader(path).staff_user(args.username))
    except NotFoundError as exc:
        raise InvalidInputError(str(exc), where="username") from None
    token = new_token()
    expires = time.time() + args.expires_days * 86_400 if args.expires_days else None

    async def run(writer: StoreWriter) -> int:
        token_id: int = await writer.call(
            partial(
                create_api_token,
                user_id=int(user["id"]),
                name=args.name,
                token_hash=hash_secret(token),
                expires=expires,
            )
        )
        await _audit(
            writer,
            "token.create",
            args.username,
            {"name": args.name, "token_id": token_id, "expires": expires},
        )
        return token_id

    token_id = _write(path, run)
    if args.json:
        print_json(
            {
                "id": token_id,
                "token": token,
                "username": args.username,
                "role": user["role"],
                "name": args.name,
                "expires": expires,
            }
        )
    else:
        print(token)
        print(
            f"(token {token_id} for {args.username}, role {user['role']}; shown only now)",
            file=sys.stderr,
        )
    return 0


async def _audit(
    writer: StoreWriter, action: str, username: str, detail: dict[str, object]
) -> None:
    try:
        actor = f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name in this environment
        actor = "cli"
    await writer.call(
        partial(
            audit, actor=actor, action=action, target_type="user", target_id=username, detail=detail
        )
    )
