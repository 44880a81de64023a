"""The central Mosquitto's configuration and ACL for a chain of sites (pure).

The centre only receives: each site's bridge publishes under ``<prefix>/<site>/`` and the
chain view (``gymctl hq``) reads ``<prefix>/#``. One ACL pattern confines every bridge to
its own tree when the bridge's account is named after the site (``chain.username`` equal
to ``chain.name``), so a site cannot pose as another; reader accounts may only read.

Why each setting:

* TLS and accounts are required on any address but loopback: the bridges' passwords and
  the sites' events cross the network.
* ``persistence`` with ``persistent_client_expiration``: the bridges keep persistent
  sessions (``cleansession false``), so the centre holds what it acknowledged across a
  restart, and forgets a site gone for good after a while instead of growing forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from controller.chain.bridge_config import _is_loopback, _word
from controller.config import _topic_levels
from kernels.errors import InvalidInputError

ACL_NAME = "acl"


@dataclass(frozen=True, slots=True)
class CentralSettings:
    """What the central broker needs to know; paths as they will be on its host."""

    prefix: str = "chain"
    bind_address: str = "0.0.0.0"
    port: int | None = None  #: default 8883 with TLS, 1883 without
    cert_file: Path | None = None
    key_file: Path | None = None
    ca_file: Path | None = None  #: ask clients for certificates signed by this CA
    password_file: Path | None = None  #: a mosquitto_passwd file with every account
    readers: tuple[str, ...] = ("hq",)  #: accounts that read every site (the chain view)
    persistence_dir: Path = Path("/var/lib/mosquitto")
    session_expiry: str = "30d"


@dataclass(frozen=True, slots=True)
class CentralConfig:
    conf: str  #: mosquitto.conf
    acl: str  #: the ACL file it names


def central_config(settings: CentralSettings, *, acl_path: Path) -> CentralConfig:
    """The central broker's ``mosquitto.conf`` (naming ``acl_path``) and its ACL."""
    try:
        prefix = _topic_levels(settings.prefix)
    except ValueError as exc:
        raise InvalidInputError(str(exc), where="--prefix") from None
    bind = _word(settings.bind_address, "--bind")
    cert, key = settings.cert_file, settings.key_file
    tls = cert is not None or key is not None
    if tls and (cert is None or key is None):
        raise InvalidInputError("TLS needs both --tls-cert and --tls-key", where="--tls-key")
    if settings.ca_file is not None and not tls:
        raise InvalidInputError("client certificates need TLS: give --tls-cert", where="--tls-ca")
    if not _is_loopback(bind):
        if not tls:
            raise InvalidInputError(
                f"the central broker would listen on {bind} without TLS: the bridges' "
                "passwords and the sites' events would cross the network in clear",
                where="--tls-cert",
            )
        if settings.password_file is None:
            raise InvalidInputError(
                f"the central broker would listen on {bind} without accounts: give the "
                "mosquitto_passwd file holding one account per site and the readers",
                where="--password-file",
            )
    if not settings.readers:
        raise InvalidInputError("at least one reader account (the chain view)", where="--reader")
    for reader in settings.readers:
        _word(reader, "--reader")
        if "/" in reader or "+" in reader or "#" in reader:
            raise InvalidInputError(f"not an account name: {reader!r}", where="--reader")
    port = settings.port if settings.port is not None else (8883 if tls else 1883)
    if not 1 <= port <= 65535:
        raise InvalidInputError(f"a port is 1..65535, not {port}", where="--port")
    lines = [
        "# The central Mosquitto of a gymctl chain, written by 'gymctl chain central-config':",
        "# regenerate it rather than editing it. Every site's bridge publishes under",
        f"# {prefix}/<site>/ with an account named <site>; the readers see everything.",
        "",
        "per_listener_settings false",
        f"listener {port} {bind}",
    ]
    if cert is not None and key is not None:
        lines += [
            f"certfile {_word(str(cert), '--tls-cert')}",
            f"keyfile {_word(str(key), '--tls-key')}",
        ]
        if settings.ca_file is not None:
            lines += [
                f"cafile {_word(str(settings.ca_file), '--tls-ca')}",
                "require_certificate true",
            ]
    if settings.password_file is not None:
        lines += [
            "allow_anonymous false",
            f"password_file {_word(str(settings.password_file), '--password-file')}",
        ]
    else:
        lines.append("allow_anonymous true  # loopback only")
    lines += [
        f"acl_file {_word(str(acl_path), '--output-dir')}",
        "persistence true",
        f"persistence_location {_word(str(settings.persistence_dir), '--persistence-dir')}/",
        "autosave_interval 30",
        f"persistent_client_expiration {_word(settings.session_expiry, '--session-expiry')}",
        "",
    ]
    acl = [
        "# Who may do what at the central broker (written by 'gymctl chain central-config').",
        "# Readers: the chain view and other consumers of every site's events.",
    ]
    for reader in settings.readers:
        acl += [f"user {reader}", f"topic read {prefix}/#", ""]
    if settings.password_file is None:
        acl[2:2] = [
            "# Without accounts (loopback only) every client is anonymous: all of the chain.",
            f"topic readwrite {prefix}/#",
            "",
        ]
    acl += [
        "# Every other account is a site's bridge: its own tree only, named after it.",
        f"pattern readwrite {prefix}/%u/#",
        "",
    ]
    return CentralConfig(conf="\n".join(lines), acl="\n".join(acl))
