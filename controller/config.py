"""The site configuration: one TOML file describing a gym's stations, MQTT, store and panel.

Loaded with :func:`load_config` (or :func:`parse_config` for text), validated with
pydantic v2 in strict mode (a port written as ``"502"`` is refused, not guessed), and every
problem is reported as one :class:`~controller.errors.ConfigError` naming the file and the
key path, e.g. ``gym.toml: stations[1].devices.rack.port: must be 1..65535``.

A station combines devices by role: a rack (Modbus TCP or RTU, with a register map given by
name or file), or a bike (BLE FTMS), plus optionally a heart-rate strap, a power meter and a
band (BLE, by address or by advertised name). A station holds at most one resistance
actuator (rack or bike). ``examples/site.toml`` shows every key.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from controller.errors import ConfigError

SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
BLE_ADDRESS = re.compile(
    r"^([0-9A-Fa-f]{2}:){5}[0-9A-Fa-f]{2}$"  # a MAC address (Linux, Windows)
    r"|^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"  # macOS
)
MAP_FILE_SUFFIXES = (".toml", ".yaml", ".yml", ".json")

PersonalData = Literal["pseudonymous_id", "heart_rate", "readiness"]
DeviceRole = Literal["rack", "bike", "hr_strap", "power_meter", "band"]
ACTUATOR_ROLES: tuple[DeviceRole, ...] = ("rack", "bike")


def _in_range(lo: float, hi: float) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError(f"must be a finite number in {lo:g}..{hi:g}")
        if not lo <= value <= hi:
            raise ValueError(f"must be {lo:g}..{hi:g}")
        return value

    return check


def _slug(value: str) -> str:
    if not SLUG.match(value):
        raise ValueError(
            "must be 1-32 characters of a-z, 0-9, '-' or '_', starting with a letter or digit"
        )
    return value


Port = Annotated[int, AfterValidator(_in_range(1, 65535))]
Slug = Annotated[str, AfterValidator(_slug)]


def _between(lo: float, hi: float) -> AfterValidator:
    return AfterValidator(_in_range(lo, hi))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# -- devices --------------------------------------------------------------------------


class RackConfig(_Model):
    """A rack or cable machine over Modbus: TCP (``host``, ``port``) or RTU (``serial``)."""

    id: Slug | None = None  #: device id; defaults to "<station>-rack"
    transport: Literal["tcp", "rtu"] = "tcp"
    host: str | None = Field(default=None, validate_default=True)
    port: Port = 502
    serial: str | None = Field(default=None, validate_default=True)
    baudrate: Annotated[int, _between(1200, 921600)] = 19200
    unit: Annotated[int, _between(1, 247)] = 1
    map: str  #: a register map shipped with gymctl (by name) or a file (path)
    timeout_s: Annotated[float, _between(0.01, 10.0)] = 0.5

    @field_validator("host")
    @classmethod
    def _host_for_tcp(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("transport") == "tcp" and not value:
            raise ValueError("is required for transport 'tcp'")
        return value

    @field_validator("serial")
    @classmethod
    def _serial_for_rtu(cls, value: str | None, info: ValidationInfo) -> str | None:
        if info.data.get("transport") == "rtu" and not value:
            raise ValueError("is required for transport 'rtu' (e.g. /dev/ttyUSB0)")
        return value

    @field_validator("map")
    @classmethod
    def _map(cls, value: str, info: ValidationInfo) -> str:
        if is_map_file(value):
            base = (info.context or {}).get("base_dir")
            path = Path(value) if base is None else Path(base) / value
            if not _is_file(path):
                raise ValueError(f"no such register map file: {path}")
        elif not MAP_NAME.match(value):
            raise ValueError(
                "must be a register map name (letters, digits, '.', '-', '_') or a file "
                f"ending in {', '.join(MAP_FILE_SUFFIXES)}"
            )
        return value


def _is_file(path: Path) -> bool:
    """Whether ``path`` is a file; a name the OS cannot even look up is none."""
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long, a NUL byte in it
        return False


def is_map_file(value: str) -> bool:
    """A rack's ``map`` names a file when it has a path separator or a map file suffix."""
    return "/" in value or value.endswith(MAP_FILE_SUFFIXES)


class BleDeviceConfig(_Model):
    """A BLE device, found by ``address`` or by advertised ``name`` (exactly one of them)."""

    id: Slug | None = None
    address: str | None = None
    name: str | None = Field(default=None, validate_default=True)
    connect_timeout_s: Annotated[float, _between(1.0, 60.0)] = 10.0

    @field_validator("address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not BLE_ADDRESS.match(value):
            raise ValueError("must be a Bluetooth address like 'C0:FF:EE:00:00:01' or a UUID")
        return value

    @field_validator("name")
    @classmethod
    def _address_or_name(cls, value: str | None, info: ValidationInfo) -> str | None:
        has_address = info.data.get("address") is not None
        if has_address and value is not None:
            raise ValueError("give either 'address' or 'name', not both")
        if not has_address and not value:
            raise ValueError("give the device's 'address' or its advertised 'name'")
        return value


class DevicesConfig(_Model):
    rack: RackConfig | None = None
    bike: BleDeviceConfig | None = None
    hr_strap: BleDeviceConfig | None = None
    power_meter: BleDeviceConfig | None = None
    band: BleDeviceConfig | None = None

    @model_validator(mode="after")
    def _combination(self) -> Self:
        roles = list(self.roles())
        if not roles:
            raise ValueError("a station needs at least one device (rack, bike, hr_strap, ...)")
        if self.rack is not None and self.bike is not None:
            raise ValueError("a station drives one actuator: give either 'rack' or 'bike'")
        return self

    def roles(self) -> Iterator[tuple[DeviceRole, RackConfig | BleDeviceConfig]]:
        for role in ("rack", "bike", "hr_strap", "power_meter", "band"):
            device = getattr(self, role)
            if device is not None:
                yield role, device


# -- stations and safety ------------------------------------------------------------------


class SafetyConfig(_Model):
    """The station's safety envelope settings (see ``controller.safety``)."""

    #: during a set, the actuator's data older than this puts the station in its safe state
    #: (None: by device type, 250 ms for a rack, 2500 ms for a bike's ~1 Hz FTMS data)
    stale_after_ms: Annotated[int, _between(50, 5000)] | None = None
    #: athlete cap: e1RM x (1 + margin); unknown e1RM means no athlete cap
    athlete_margin_pct: Annotated[float, _between(0.0, 50.0)] = 10.0
    #: increases between sets larger than this (device unit) are announced first
    announce_threshold: Annotated[float, _between(0.0, 1000.0)] = 5.0
    #: "confirm": wait for the athlete's confirmation; "timeout": apply after the time
    announce_mode: Literal["confirm", "timeout"] = "confirm"
    announce_s: Annotated[float, _between(1.0, 120.0)] = 8.0
    #: a lower rate limit on increases than the device's own (device unit per second)
    max_increase_per_s: Annotated[float, _between(0.1, 1000.0)] | None = None
    #: per exercise, the most this station may apply (device unit)
    exercise_caps: dict[str, Annotated[float, _between(0.0, 10000.0)]] = {}


class StationConfig(_Model):
    id: Slug
    name: str = ""
    devices: DevicesConfig
    safety: SafetyConfig = SafetyConfig()

    def device_id(self, role: DeviceRole) -> str:
        device = getattr(self.devices, role)
        if device is None:
            raise KeyError(f"station {self.id} has no {role}")
        return device.id or f"{self.id}-{role.replace('_', '-')}"

    @property
    def display_name(self) -> str:
        return self.name or self.id


# -- MQTT, store, panel -------------------------------------------------------------------


class TlsConfig(_Model):
    ca_file: str | None = None  #: CA bundle that signed the broker's certificate
    cert_file: str | None = None  #: client certificate (mutual TLS)
    key_file: str | None = Field(default=None, validate_default=True)
    insecure: bool = False  #: skip the hostname check (self-signed test brokers only)

    @field_validator("ca_file", "cert_file", "key_file")
    @classmethod
    def _exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            base = (info.context or {}).get("base_dir")
            path = Path(value) if base is None else Path(base) / value
            if not _is_file(path):
                raise ValueError(f"no such file: {path}")
        return value

    @field_validator("key_file")
    @classmethod
    def _pair(cls, value: str | None, info: ValidationInfo) -> str | None:
        if (value is None) != (info.data.get("cert_file") is None):
            raise ValueError("'cert_file' and 'key_file' go together")
        return value


class MqttConfig(_Model):
    enabled: bool = True
    #: None: the controller runs the embedded broker on 127.0.0.1:``port``
    host: str | None = None
    port: Port = 1883
    username: str | None = None
    password: str | None = Field(default=None, validate_default=True, repr=False)
    tls: TlsConfig | None = None
    topic_prefix: str = "gymctl"
    client_id: str | None = None
    keepalive_s: Annotated[int, _between(5, 3600)] = 30
    #: live values per station and channel per second (0: no telemetry over MQTT)
    telemetry_hz: Annotated[float, _between(0.0, 50.0)] = 2.0
    #: events kept while the broker is away (oldest dropped, counted and alerted, past it)
    buffer_limit: Annotated[int, _between(100, 10_000_000)] = 100_000
    #: commands must expire within this horizon (seconds from now) when they carry expiry
    command_max_age_s: Annotated[float, _between(1.0, 3600.0)] = 60.0
    #: whether ``cmd/release`` over MQTT may release an e-stop (default: panel only)
    remote_release: bool = False
    #: what personal data may leave the site in payloads (default none: station ids only)
    personal_data: list[PersonalData] = []

    @field_validator("password")
    @classmethod
    def _password_needs_user(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("username") is None:
            raise ValueError("a password needs a 'username'")
        return value

    @field_validator("topic_prefix")
    @classmethod
    def _prefix(cls, value: str) -> str:
        levels = value.split("/")
        if not value or any(not level for level in levels) or any(c in value for c in "+#\0"):
            raise ValueError("must be topic levels without '+', '#' or empty levels")
        return value

    @property
    def embedded(self) -> bool:
        return self.enabled and self.host is None


class StoreConfig(_Model):
    path: str = "gymctl.db"  #: relative to the config file's directory
    trace_retention_days: Annotated[int, _between(1, 3650)] = 90
    readiness_retention_days: Annotated[int, _between(1, 3650)] = 365
    commit_interval_ms: Annotated[int, _between(1, 5000)] = 100
    #: a size quota; past it writes fail like a full disk (alarm, stations safe)
    max_size_mb: Annotated[int, _between(1, 1_000_000)] | None = None


class PanelConfig(_Model):
    enabled: bool = True
    host: str = "127.0.0.1"
    port: Port = 8000
    #: serve the panel from a process of its own (``controller.panel_process``): its
    #: browsers and API clients then never hold the stations' loop or GIL
    own_process: bool = False


def _topic_levels(value: str) -> str:
    levels = value.split("/")
    if not value or any(not level for level in levels) or any(c in value for c in "+#\0 "):
        raise ValueError("must be topic levels without '+', '#', spaces or empty levels")
    return value


class ChainConfig(_Model):
    """The site's place in a chain: its Mosquitto bridges to a central broker.

    ``gymctl chain bridge-config`` writes the site broker's configuration from it; the
    controller itself is unchanged (it talks to the site broker named in ``[mqtt]``).
    """

    central_host: str | None = None  #: the central broker (or ``--central HOST:PORT``)
    central_port: Port = 1883
    #: the site's topic tree at the centre: ``<prefix>/<name>/...``
    prefix: Annotated[str, AfterValidator(_topic_levels)] = "chain"
    name: Slug | None = None  #: the site's name at the centre (default: ``site.id``)
    username: str | None = None  #: the bridge's account on the central broker
    password: str | None = Field(default=None, validate_default=True, repr=False)
    tls: TlsConfig | None = None  #: TLS to the central broker
    telemetry: bool = False  #: forward the live telemetry (QoS 0) as well
    #: the site broker's listener address (the controller connects to ``mqtt.port``)
    bind_address: str = "127.0.0.1"
    password_file: str | None = None  #: the site broker's own accounts (mosquitto_passwd)
    acl_file: str | None = None  #: the site broker's ACL
    persistence_dir: str = "mosquitto"  #: the site broker's persistence, next to the config
    #: messages the site broker holds for the bridge while the centre is away
    queue_limit: Annotated[int, _between(1000, 10_000_000)] = 100_000
    keepalive_s: Annotated[int, _between(5, 3600)] = 30
    #: the bridge's reconnection backoff, from the first to the longest wait
    restart_min_s: Annotated[int, _between(1, 3600)] = 2
    restart_max_s: Annotated[int, _between(1, 3600)] = 30

    @field_validator("password")
    @classmethod
    def _password_needs_user(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("username") is None:
            raise ValueError("a password needs a 'username'")
        return value

    @field_validator("password_file", "acl_file")
    @classmethod
    def _exists(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            base = (info.context or {}).get("base_dir")
            path = Path(value) if base is None else Path(base) / value
            if not _is_file(path):
                raise ValueError(f"no such file: {path}")
        return value

    @field_validator("restart_max_s")
    @classmethod
    def _backoff(cls, value: int, info: ValidationInfo) -> int:
        low = info.data.get("restart_min_s")
        if low is not None and value < low:
            raise ValueError(f"must be at least restart_min_s ({low})")
        return value


class SiteInfo(_Model):
    name: str = Field(min_length=1, max_length=80)
    id: Slug
    #: run the stations' loop thread under ``SCHED_FIFO`` at this priority (Linux; needs
    #: ``CAP_SYS_NICE`` or an ``RLIMIT_RTPRIO`` this high); none: a short time slice only
    realtime_priority: Annotated[int, _between(1, 99)] | None = None


class SiteConfig(_Model):
    site: SiteInfo
    stations: list[StationConfig] = []
    mqtt: MqttConfig = MqttConfig()
    store: StoreConfig = StoreConfig()
    panel: PanelConfig = PanelConfig()
    chain: ChainConfig | None = None  #: the site's bridge to a chain's central broker
    #: the directory relative paths are resolved against (the config file's)
    base_dir: str = "."

    def station(self, station_id: str) -> StationConfig:
        for station in self.stations:
            if station.id == station_id:
                return station
        raise KeyError(f"no station {station_id!r}")

    def resolve(self, relative: str) -> Path:
        path = Path(relative)
        return path if path.is_absolute() else Path(self.base_dir) / path

    @property
    def store_path(self) -> Path:
        return self.resolve(self.store.path)


# -- loading --------------------------------------------------------------------------

_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown key",
    "int_type": "must be an integer",
    "float_type": "must be a number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
    "string_too_short": "must not be empty",
}


def _key_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _message(error: Any) -> str:
    kind = error["type"]
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind == "literal_error":
        return f"must be one of {error['ctx']['expected']}"
    if kind == "string_too_long":
        return f"must be at most {error['ctx']['max_length']} characters"
    return _MESSAGES.get(kind, str(error["msg"]).lower())


def parse_config(
    text: str, *, source: str = "<config>", base_dir: Path | None = None
) -> SiteConfig:
    """Parse and validate a site config; raises ``ConfigError`` naming the key path."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"not valid TOML: {exc}", where=source) from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise ConfigError("not valid TOML: nested too deeply", where=source) from None
    base = base_dir if base_dir is not None else Path(".")
    if "base_dir" in data:
        raise ConfigError("unknown key", where=f"{source}: base_dir")
    data["base_dir"] = str(base)
    try:
        config = SiteConfig.model_validate(data, context={"base_dir": str(base)})
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
        where = _key_path(tuple(first["loc"])) or "(top level)"
        raise ConfigError(
            _message(first) + (more if len(errors) > 1 else ""), where=f"{source}: {where}"
        ) from None
    _check_site(config, source)
    return config


def _check_site(config: SiteConfig, source: str) -> None:
    """Checks that span stations: unique station ids and device ids, free ports."""
    seen_stations: dict[str, int] = {}
    seen_devices: dict[str, str] = {}
    for i, station in enumerate(config.stations):
        if station.id in seen_stations:
            raise ConfigError(
                f"duplicate station id {station.id!r} (also stations[{seen_stations[station.id]}])",
                where=f"{source}: stations[{i}].id",
            )
        seen_stations[station.id] = i
        for role, _device in station.devices.roles():
            device_id = station.device_id(role)
            path = f"stations[{i}].devices.{role}"
            if device_id in seen_devices:
                raise ConfigError(
                    f"duplicate device id {device_id!r} (also {seen_devices[device_id]})",
                    where=f"{source}: {path}.id",
                )
            seen_devices[device_id] = path
    if config.mqtt.embedded and config.panel.enabled and config.mqtt.port == config.panel.port:
        raise ConfigError(
            f"the embedded broker and the panel cannot both use port {config.panel.port}",
            where=f"{source}: mqtt.port",
        )


def load_config(path: Path) -> SiteConfig:
    """Read and validate the site config at ``path`` (relative paths resolve next to it)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("no such file", where=str(path)) from None
    except IsADirectoryError:
        raise ConfigError("is a directory, not a file", where=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start})", where=str(path)) from None
    except OSError as exc:
        raise ConfigError(exc.strerror or "cannot be read", where=str(path)) from None
    return parse_config(text, source=str(path), base_dir=path.resolve().parent)
