"""The site Mosquitto's configuration for a chain: its listener and its bridge (pure).

The site broker serves the site's controller on ``mqtt.port`` and bridges to the central
broker: everything the controller publishes under ``<mqtt.topic_prefix>/<site.id>/`` that
the centre needs (controller status and alerts, every station leaf but commands, and
telemetry only when ``chain.telemetry`` asks for it) goes out at QoS 1, remapped to
``<chain.prefix>/<chain.name>/``. Nothing comes in: the centre cannot command a station.

Why each setting:

* ``cleansession false`` with ``local_cleansession false`` and ``persistence``: while the
  centre is away the site broker queues the bridge's QoS 1 messages (up to
  ``max_queued_messages``, also across a restart of the site broker) and sends them once
  the centre is back.
* ``notification_topic <prefix>/<name>/bridge/state``: ``1`` when the bridge connects, and
  ``0`` as its will at the centre, so the centre knows at once when a site's broker or
  link is gone (retained: a late viewer sees it too).
* ``try_private true``: Mosquitto marks the connection as a bridge (loop detection).
* ``restart_timeout``: the reconnection backoff (Mosquitto 2's base and cap).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from controller.chain.topics import EVENT_LEAVES, ChainTopics
from controller.config import ChainConfig, SiteConfig
from kernels.errors import InvalidInputError

_WORD = re.compile(r"^[^\s\x00-\x1f\x7f]+$")
_HOST = re.compile(r"^[A-Za-z0-9._:-]{1,253}$")


@dataclass(frozen=True, slots=True)
class Central:
    """Where the central broker listens."""

    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_central(text: str, *, default_port: int = 1883, where: str = "--central") -> Central:
    """``HOST``, ``HOST:PORT`` or ``[V6]:PORT``; one clear message when it is neither."""
    host, port_text = text, ""
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise InvalidInputError(f"unclosed '[' in {text!r}", where=where)
        host, rest = text[1:end], text[end + 1 :]
        if rest and not rest.startswith(":"):
            raise InvalidInputError(f"expected [HOST]:PORT, not {text!r}", where=where)
        port_text = rest[1:]
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    if not host or not _HOST.match(host):
        raise InvalidInputError(f"not a host name or address: {host!r}", where=where)
    port = default_port
    if port_text:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise InvalidInputError(f"a port is 1..65535, not {port_text!r}", where=where)
        port = int(port_text)
    return Central(host, port)


def _word(value: str, where: str) -> str:
    """A value Mosquitto's one-line syntax can carry (no spaces, no line breaks)."""
    if not _WORD.match(value):
        raise InvalidInputError(
            "must not contain spaces or control characters (Mosquitto's config syntax)",
            where=where,
        )
    return value


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def chain_settings(config: SiteConfig) -> ChainConfig:
    """The site's ``[chain]`` section, or the defaults when it has none."""
    return config.chain if config.chain is not None else ChainConfig()


def site_name(config: SiteConfig) -> str:
    """The site's name at the centre."""
    return chain_settings(config).name or config.site.id


def bridge_config(
    config: SiteConfig, *, central: Central | None = None, source: str = "<config>"
) -> str:
    """The text of the site broker's ``mosquitto.conf``.

    ``central`` overrides ``chain.central_host``/``central_port``; ``source`` names the
    site config in messages (``gym.toml: chain.central_host: ...``).
    """
    chain = chain_settings(config)
    mqtt = config.mqtt

    def where(key: str) -> str:
        return f"{source}: {key}"

    if not mqtt.enabled:
        raise InvalidInputError(
            "MQTT is disabled: a chain site needs it", where=where("mqtt.enabled")
        )
    if mqtt.embedded:
        raise InvalidInputError(
            "the site uses the embedded broker: a chain site runs Mosquitto, set mqtt.host "
            '(e.g. "127.0.0.1") to the address this config makes it listen on',
            where=where("mqtt.host"),
        )
    if central is None:
        if chain.central_host is None:
            raise InvalidInputError(
                "no central broker: set chain.central_host or give --central HOST:PORT",
                where=where("chain.central_host"),
            )
        central = parse_central(
            chain.central_host, default_port=chain.central_port, where=where("chain.central_host")
        )
    bind = _word(chain.bind_address, where("chain.bind_address"))
    if mqtt.host is not None and _is_loopback(bind) and not _is_loopback(mqtt.host):
        raise InvalidInputError(
            f"the controller connects to {mqtt.host} but the site broker would listen on "
            f"{bind} only: set chain.bind_address to an address of that host",
            where=where("chain.bind_address"),
        )
    if chain.password_file is None:
        if mqtt.username is not None:
            raise InvalidInputError(
                "the controller logs in with mqtt.username: give the site broker's accounts "
                "(a mosquitto_passwd file)",
                where=where("chain.password_file"),
            )
        if not _is_loopback(bind):
            raise InvalidInputError(
                f"the site broker would listen on {bind} without accounts: give a "
                "mosquitto_passwd file, or keep bind_address on 127.0.0.1",
                where=where("chain.password_file"),
            )
    name = site_name(config)
    topics = ChainTopics(chain.prefix)
    local = f"{mqtt.topic_prefix}/{config.site.id}/"
    remote = topics.site_base(name) + "/"
    persistence = config.resolve(chain.persistence_dir).resolve()
    lines = [
        f"# The Mosquitto of site {config.site.id!r} ({name!r} in the chain), written by",
        "# 'gymctl chain bridge-config': regenerate it rather than editing it.",
        "",
        "# -- the site broker: the controller connects here",
        "per_listener_settings false",
        f"listener {mqtt.port} {bind}",
    ]
    if chain.password_file is not None:
        path = _word(
            str(config.resolve(chain.password_file).resolve()), where("chain.password_file")
        )
        lines += ["allow_anonymous false", f"password_file {path}"]
    else:
        lines.append("allow_anonymous true  # loopback only")
    if chain.acl_file is not None:
        path = _word(str(config.resolve(chain.acl_file).resolve()), where("chain.acl_file"))
        lines.append(f"acl_file {path}")
    lines += [
        "persistence true",
        f"persistence_location {_word(str(persistence), where('chain.persistence_dir'))}/",
        "autosave_interval 30",
        f"max_queued_messages {chain.queue_limit}",
        "max_queued_bytes 0",
        "",
        f"# -- the bridge to the centre: {local}... here is {remote}... there",
        f"connection gymctl-{name}",
        f"address {_word(str(central), where('chain.central_host'))}",
        "bridge_protocol_version mqttv311",
        "try_private true",
        "start_type automatic",
        f"restart_timeout {chain.restart_min_s} {chain.restart_max_s}",
        f"keepalive_interval {chain.keepalive_s}",
        "cleansession false",
        "local_cleansession false",
        f"remote_clientid gymctl-bridge-{name}",
        f"local_clientid gymctl-bridge-{name}-local",
        "notifications true",
        "notifications_local_only false",
        f"notification_topic {topics.bridge_state(name)}",
    ]
    if chain.username is not None:
        lines.append(f"remote_username {_word(chain.username, where('chain.username'))}")
    if chain.password is not None:
        lines.append(f"remote_password {_word(chain.password, where('chain.password'))}")
    if chain.tls is not None:
        tls = chain.tls
        for key, value in (
            ("bridge_cafile", tls.ca_file),
            ("bridge_certfile", tls.cert_file),
            ("bridge_keyfile", tls.key_file),
        ):
            if value is not None:
                path = str(config.resolve(value).resolve())
                lines.append(
                    f"{key} {_word(path, where('chain.tls.' + key.removeprefix('bridge_')))}"
                )
        if tls.ca_file is None:  # the system's CAs
            lines.append("bridge_capath /etc/ssl/certs")
        if tls.insecure:
            lines.append("bridge_insecure true")
    elif chain.password is not None and not _is_loopback(central.host):
        lines.append(
            "# WARNING: the bridge's password crosses the network in clear: set [chain.tls]"
        )
    lines += [
        f"topic controller/status out 1 {local} {remote}",
        f"topic controller/alert out 1 {local} {remote}",
    ]
    lines += [f"topic station/+/{leaf} out 1 {local} {remote}" for leaf in EVENT_LEAVES]
    if chain.telemetry:
        lines.append(f"topic station/+/telemetry out 0 {local} {remote}")
    return "\n".join(lines) + "\n"


def holds_secret(config: SiteConfig) -> bool:
    """Whether the generated text carries a password (write it with mode 0600)."""
    return chain_settings(config).password is not None
