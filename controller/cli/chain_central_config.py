"""``gymctl chain central-config -o DIR``: the central Mosquitto's configuration and ACL.

Writes ``DIR/mosquitto.conf`` and ``DIR/acl``; run ``mosquitto -c DIR/mosquitto.conf``.
The accounts themselves go in a ``mosquitto_passwd`` file: one per site, named after the
site (its ``chain.name``), and the readers (``gymctl hq``'s ``--username``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from controller.chain.central_config import ACL_NAME, CentralSettings, central_config
from controller.cli._common import Subparsers, write_text_file
from kernels.errors import InvalidInputError


def _absolute(path: Path | None) -> Path | None:
    return None if path is None else path.expanduser().resolve()


def run(args: argparse.Namespace) -> int:
    directory: Path = args.output_dir.expanduser().resolve()
    settings = CentralSettings(
        prefix=args.prefix,
        bind_address=args.bind,
        port=args.port,
        cert_file=_absolute(args.tls_cert),
        key_file=_absolute(args.tls_key),
        ca_file=_absolute(args.tls_ca),
        password_file=_absolute(args.password_file),
        readers=tuple(args.reader or ("hq",)),
        persistence_dir=_absolute(args.persistence_dir) or Path("/var/lib/mosquitto"),
        session_expiry=args.session_expiry,
    )
    config = central_config(settings, acl_path=directory / ACL_NAME)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInputError(
            exc.strerror or "cannot be made", where=str(exc.filename or directory)
        ) from None
    for name, text in (("mosquitto.conf", config.conf), (ACL_NAME, config.acl)):
        write_text_file(directory / name, text)
    conf = directory / "mosquitto.conf"
    print(f"wrote {conf} and {directory / ACL_NAME}: run 'mosquitto -c {conf}'", file=sys.stderr)
    return 0


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "central-config",
        help="write the central Mosquitto's configuration and ACL for a chain of sites",
        description="Write DIR/mosquitto.conf and DIR/acl for the chain's central broker: "
        "a TLS listener with accounts (required on any address but loopback), persistence "
        "for the bridges' sessions, and an ACL where each site's bridge account (named "
        "after the site's chain.name) writes only under <prefix>/<site>/ and the reader "
        "accounts read everything. See docs/chain.md.",
    )
    parser.add_argument(
        "-o", "--output-dir", type=Path, required=True, metavar="DIR", help="where to write"
    )
    parser.add_argument(
        "--prefix", default="chain", help="the chain's topic prefix (the sites' chain.prefix)"
    )
    parser.add_argument(
        "--bind", default="0.0.0.0", metavar="ADDRESS", help="the listener's address"
    )
    parser.add_argument(
        "--port", type=int, help="the listener's port (default 8883 with TLS, else 1883)"
    )
    parser.add_argument("--tls-cert", type=Path, metavar="FILE", help="the server certificate")
    parser.add_argument("--tls-key", type=Path, metavar="FILE", help="its private key")
    parser.add_argument(
        "--tls-ca",
        type=Path,
        metavar="FILE",
        help="require client certificates signed by this CA",
    )
    parser.add_argument(
        "--password-file",
        type=Path,
        metavar="FILE",
        help="the mosquitto_passwd file with the sites' and the readers' accounts",
    )
    parser.add_argument(
        "--reader",
        action="append",
        metavar="ACCOUNT",
        help="an account that reads every site (repeatable; default: hq)",
    )
    parser.add_argument(
        "--persistence-dir",
        type=Path,
        metavar="DIR",
        help="where the broker keeps its state (default /var/lib/mosquitto)",
    )
    parser.add_argument(
        "--session-expiry",
        default="30d",
        metavar="DURATION",
        help="forget a bridge's session after this long away (Mosquitto syntax: 30d, 12h)",
    )
    parser.set_defaults(handler=run)
