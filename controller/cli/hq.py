"""``gymctl hq --broker HOST:PORT``: the chain view, every site of a chain, live.

It reads the central broker (every site's bridge notifications, controller status,
station states, reps, sets and alerts) and serves a page in the panel's style on
``--host``/``--port``. Access: a token from ``--token-file`` or ``GYMCTL_HQ_TOKEN``;
without one the view is open and may only listen on a loopback address.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

from controller.chain.bridge_config import parse_central
from controller.chain.model import ChainView
from controller.chain.monitor import ChainMonitor
from controller.cli._common import Subparsers, read_text_file
from controller.cli._runtime import port, setup_logging, stop_on_signals
from controller.config import TlsConfig
from controller.mqtt.bridge import is_loopback, tls_context
from kernels.errors import InvalidInputError
from web_ui.hq import HqSettings, create_hq_app
from web_ui.server import PanelServer

TOKEN_ENV = "GYMCTL_HQ_TOKEN"
MIN_TOKEN = 16


def _secret(path: Path | None) -> str | None:
    """The first line of a secret file (kept out of the command line and ``ps``)."""
    if path is None:
        return None
    lines = read_text_file(path).splitlines()
    value = lines[0].strip() if lines else ""
    if not value:
        raise InvalidInputError("is empty", where=str(path))
    return value


def _token(args: argparse.Namespace) -> str | None:
    token = _secret(args.token_file) or os.environ.get(TOKEN_ENV) or None
    if token is not None and len(token) < MIN_TOKEN:
        raise InvalidInputError(
            f"the token must be at least {MIN_TOKEN} characters", where="--token-file"
        )
    if token is None and not is_loopback(args.host):
        raise InvalidInputError(
            f"the chain view would be open to anyone who reaches {args.host}: give "
            f"--token-file or {TOKEN_ENV}, or keep --host on 127.0.0.1",
            where="--host",
        )
    return token


def run(args: argparse.Namespace) -> int:
    central = parse_central(args.broker, where="--broker")
    token = _token(args)
    password = _secret(args.password_file)
    if password is not None and args.username is None:
        raise InvalidInputError("a password needs --username", where="--password-file")
    levels = args.prefix.split("/")
    if any(not level for level in levels) or any(c in args.prefix for c in "+# \0"):
        raise InvalidInputError(
            "must be topic levels without '+', '#', spaces or empty levels", where="--prefix"
        )
    for option, path in (
        ("--tls-ca", args.tls_ca),
        ("--tls-cert", args.tls_cert),
        ("--tls-key", args.tls_key),
    ):
        if path is not None and not path.is_file():
            raise InvalidInputError(f"no such file: {path}", where=option)
    if (args.tls_cert is None) != (args.tls_key is None):
        raise InvalidInputError("--tls-cert and --tls-key go together", where="--tls-cert")
    tls = TlsConfig(ca_file=str(args.tls_ca)) if args.tls_ca is not None else None
    setup_logging(args.verbose)

    async def main() -> None:
        context = await asyncio.to_thread(tls_context, tls) if tls is not None else None
        view = ChainView(args.prefix)
        stop = asyncio.Event()
        async with ChainMonitor(
            view,
            host=central.host,
            port=central.port,
            username=args.username,
            password=password,
            tls_context=context,
        ) as monitor:
            settings = HqSettings(token=token, secure_cookie=args.tls_cert is not None)
            app = create_hq_app(monitor, settings)
            async with PanelServer(
                app,
                host=args.host,
                port=args.port,
                ssl_certfile=str(args.tls_cert) if args.tls_cert else None,
                ssl_keyfile=str(args.tls_key) if args.tls_key else None,
            ) as server:
                undo = stop_on_signals(stop.set)
                try:
                    access = "token required" if token else "open (loopback only)"
                    print(
                        f"gymctl hq: {central} ({args.prefix}/#) on {server.url}; {access}",
                        flush=True,
                    )
                    await stop.wait()
                finally:
                    undo()

    asyncio.run(main())
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "hq",
        help="the chain view: every site of a chain, live, from the central broker",
        description="Read the central broker of a chain (every site's bridge status, "
        "controller status, stations, reps, sets and alerts) and serve a live page of "
        "every site. Access: a token from --token-file or GYMCTL_HQ_TOKEN (sign in on "
        "the page, or send 'Authorization: Bearer TOKEN' to /api/v1/chain); without a "
        "token the view only listens on a loopback address. See docs/chain.md.",
    )
    parser.add_argument("--broker", required=True, metavar="HOST[:PORT]", help="the central broker")
    parser.add_argument("--prefix", default="chain", help="the chain's topic prefix (chain)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on (127.0.0.1)")
    parser.add_argument("--port", type=port, default=8100, metavar="P", help="port (8100)")
    parser.add_argument("--token-file", type=Path, metavar="FILE", help="the access token")
    parser.add_argument("--username", help="account on the central broker")
    parser.add_argument(
        "--password-file", type=Path, metavar="FILE", help="its password (first line)"
    )
    parser.add_argument(
        "--tls-ca", type=Path, metavar="FILE", help="CA of the central broker (TLS to it)"
    )
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS: certificate")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="serve HTTPS: its key")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    parser.set_defaults(handler=run)
