"""Reading and validating register-map files (TOML or YAML).

Every problem is reported as one :class:`~equipment_adapters.errors.RegisterMapError`
naming the file, the point and the field, e.g. ``rack.toml, point 'target_load', field
'max_value': 2500 kg does not fit in uint16 at scale 0.1``. The format is documented for
equipment makers in ``docs/register-maps.md``.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.resources
import itertools
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from equipment_adapters.errors import RegisterMapError
from equipment_adapters.modbus.regmap import (
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    Access,
    DataType,
    Encoding,
    Fifo,
    FifoField,
    IdentityCheck,
    Point,
    PollGroup,
    RegisterMap,
    Swap,
    Table,
    Value,
)

#: The package holding the maps shipped with gymctl (``<name>.toml``).
SHIPPED_PACKAGE = "equipment_adapters.modbus.maps"

_MAP_KEYS = {
    "name",
    "version",
    "kind",
    "model",
    "description",
    "unit_id",
    "max_block_registers",
}
_POINT_KEYS = {
    "address",
    "input_type",
    "data_type",
    "count",
    "swap",
    "scale",
    "offset",
    "precision",
    "unit",
    "access",
    "min_value",
    "max_value",
    "safe_value",
    "initial_value",
    "poll",
    "options",
    "bits",
    "description",
}
_IDENTITY_KEYS = {"address", "input_type", "data_type", "count", "swap", "value", "description"}
_FIFO_KEYS = {"input_type", "address", "capacity", "rate_hz", "poll", "sequence", "fields"}
_FIFO_FIELD_KEYS = {"name", "data_type", "swap", "scale", "offset", "unit"}
_TOP_KEYS = {"map", "identity", "poll", "points", "fifo"}


class _Reader:
    """Typed access to one table of the file, raising errors that name where they are."""

    def __init__(
        self, data: Any, *, source: str, point: str | None, section: str | None = None
    ) -> None:
        self.source = source
        self.point = point
        self.section = section
        if not isinstance(data, Mapping):
            raise self.error(f"must be a table of fields, not {type(data).__name__}")
        self.data: Mapping[str, Any] = data

    def error(self, problem: str, field: str | None = None) -> RegisterMapError:
        if self.section and field:
            field = f"{self.section}.{field}"
        elif self.section and field is None:
            field = self.section
        return RegisterMapError(problem, source=self.source, point=self.point, field=field)

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                allowed_list = ", ".join(sorted(allowed))
                raise self.error(f"unknown field{hint}; allowed: {allowed_list}", str(key))

    def has(self, key: str) -> bool:
        return key in self.data

    def text(self, key: str, default: str | None = None) -> str:
        if key not in self.data:
            if default is None:
                raise self.error("is required", key)
            return default
        value = self.data[key]
        if not isinstance(value, str):
            raise self.error(f"must be text, not {value!r}", key)
        return value

    def integer(
        self, key: str, default: int | None = None, *, low: int = 0, high: int | None = None
    ) -> int:
        if key not in self.data:
            if default is None:
                raise self.error("is required", key)
            return default
        value = self.data[key]
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"must be an integer, not {value!r}", key)
        if value < low or (high is not None and value > high):
            upper = f"..{high}" if high is not None else " or more"
            raise self.error(f"{value} is out of range ({low}{upper})", key)
        return value

    def number(self, key: str, default: float | None = None) -> float:
        if key not in self.data:
            if default is None:
                raise self.error("is required", key)
            return default
        value = self.data[key]
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            raise self.error(f"must be a finite number, not {value!r}", key)
        return float(value)

    def optional_number(self, key: str) -> float | None:
        return self.number(key) if key in self.data else None

    def enum(self, key: str, kind: type[Any], default: Any) -> Any:
        if key not in self.data:
            return default
        value = self.data[key]
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            raise self.error(f"{value!r} is not one of: {allowed}", key) from None

    def names(self, key: str, *, high: int) -> Mapping[str, int]:
        """A table of names to small non-negative integers (options or bits)."""
        if key not in self.data:
            return MappingProxyType({})
        table = self.data[key]
        if not isinstance(table, Mapping) or not table:
            raise self.error("must be a non-empty table of name = integer", key)
        seen: dict[int, str] = {}
        result: dict[str, int] = {}
        for name, value in table.items():
            if not isinstance(name, str) or not name.isidentifier():
                raise self.error(f"{name!r} is not a valid name (letters, digits, _)", key)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= high:
                raise self.error(f"{name} = {value!r} must be an integer in 0..{high}", key)
            if value in seen:
                raise self.error(f"{name} and {seen[value]} both have the value {value}", key)
            seen[value] = name
            result[name] = value
        return MappingProxyType(result)


def _encoding(r: _Reader, table: Table, *, allow_scale: bool = True) -> Encoding:
    default_type = DataType.BOOL if table.is_bits else DataType.INT16
    data_type: DataType = r.enum("data_type", DataType, default_type)
    if table.is_bits and data_type is not DataType.BOOL:
        raise r.error(f"a {table} holds bits: data_type must be bool", "data_type")
    if not table.is_bits and data_type is DataType.BOOL:
        raise r.error(f"bool is for coils and discrete inputs, not {table} registers", "data_type")
    if data_type is DataType.STRING:
        count = r.integer("count", low=1, high=MAX_READ_REGISTERS)
    elif table.is_bits:
        count = r.integer("count", 1, low=1, high=1)
    else:
        count = r.integer("count", data_type.registers, low=1)
        if count != data_type.registers:
            raise r.error(
                f"a {data_type} occupies {data_type.registers} register(s), not {count}", "count"
            )
    swap: Swap = r.enum("swap", Swap, Swap.NONE)
    if swap is not Swap.NONE and table.is_bits:
        raise r.error("bits have no byte order", "swap")
    if swap.swaps_words and count < 2:
        raise r.error(f"a {count}-register value has no word order to swap", "swap")
    if allow_scale:
        scale = r.number("scale", 1.0)
        offset = r.number("offset", 0.0)
        if scale == 0.0:
            raise r.error("must not be 0", "scale")
        if (scale != 1.0 or offset != 0.0) and (table.is_bits or data_type is DataType.STRING):
            raise r.error(f"a {data_type} value cannot be scaled", "scale")
    else:
        scale, offset = 1.0, 0.0
    return Encoding(data_type=data_type, count=count, swap=swap, scale=scale, offset=offset)


def _representable(encoding: Encoding, value: float) -> bool:
    raw = (value - encoding.offset) / encoding.scale
    if encoding.data_type.is_integer:
        low, high = encoding.data_type.raw_range
        return low <= round(raw) <= high
    if encoding.data_type is DataType.FLOAT32:
        return abs(raw) <= 3.4028234663852886e38
    return True


def _value(r: _Reader, key: str, point: Point) -> Value | None:
    """A safe or initial value: a number, an option name, text or a bit, as the point takes."""
    if not r.has(key):
        return None
    value = r.data[key]
    if point.table.is_bits:
        if not isinstance(value, bool):
            raise r.error(f"must be true or false, not {value!r}", key)
        return value
    if point.data_type is DataType.STRING:
        if not isinstance(value, str):
            raise r.error(f"must be text, not {value!r}", key)
        if len(value.encode("utf-8")) > 2 * point.count:
            raise r.error(f"{value!r} is longer than {2 * point.count} bytes", key)
        return value
    if isinstance(value, str):
        if value not in point.options:
            known = ", ".join(point.options) or "none"
            raise r.error(f"{value!r} is not an option of this point (options: {known})", key)
        return value
    number = r.number(key)
    if point.min_value is not None and number < point.min_value:
        raise r.error(f"{number} is below min_value {point.min_value}", key)
    if point.max_value is not None and number > point.max_value:
        raise r.error(f"{number} is above max_value {point.max_value}", key)
    if not _representable(point.encoding, number):
        raise r.error(f"{number} does not fit in {point.data_type}", key)
    if point.options and round((number - point.encoding.offset) / point.encoding.scale) not in (
        point.options.values()
    ):
        raise r.error(f"{number} is not one of the options", key)
    return number


def _point(name: str, data: Any, *, source: str, polls: Mapping[str, PollGroup]) -> Point:
    r = _Reader(data, source=source, point=name)
    r.check_keys(_POINT_KEYS)
    if not name.isidentifier():
        raise r.error("a point name must be letters, digits and _ (an identifier)")
    table: Table = r.enum("input_type", Table, Table.HOLDING)
    address = r.integer("address", high=65535)
    encoding = _encoding(r, table)
    if address + encoding.count > 65536:
        raise r.error(
            f"{encoding.count} registers from {address} pass the end of the table", "count"
        )
    access: Access = r.enum("access", Access, Access.READ)
    if access is Access.READ_WRITE and not table.writable:
        raise r.error(f"a {table} cannot be written: use holding or coil", "access")
    poll = r.text("poll", "") or None
    if poll is not None and poll not in polls:
        known = ", ".join(polls) or "none defined"
        raise r.error(f"no poll group {poll!r} (groups: {known})", "poll")
    options = r.names(
        "options", high=encoding.data_type.raw_range[1] if encoding.data_type.is_integer else 0
    )
    if options and not encoding.data_type.is_integer:
        raise r.error("options need an integer data_type", "options")
    bits = r.names("bits", high=16 * encoding.count - 1)
    if bits and not encoding.data_type.is_integer:
        raise r.error("bits need an integer data_type", "bits")
    min_value = r.optional_number("min_value")
    max_value = r.optional_number("max_value")
    if min_value is not None and max_value is not None and min_value > max_value:
        raise r.error(f"min_value {min_value} is above max_value {max_value}", "min_value")
    for key, limit in (("min_value", min_value), ("max_value", max_value)):
        if limit is not None and not _representable(encoding, limit):
            raise r.error(
                f"{limit} does not fit in {encoding.data_type} at scale {encoding.scale:g}", key
            )
    precision = r.integer("precision", 0, high=15) if r.has("precision") else None
    point = Point(
        name=name,
        table=table,
        address=address,
        encoding=encoding,
        unit=r.text("unit", ""),
        access=access,
        min_value=min_value,
        max_value=max_value,
        poll=poll,
        precision=precision,
        options=options,
        bits=bits,
        description=r.text("description", ""),
    )
    safe = _value(r, "safe_value", point)
    initial = _value(r, "initial_value", point)
    if (safe is not None or initial is not None) and not point.writable:
        key = "safe_value" if safe is not None else "initial_value"
        raise r.error("only a read_write point can have one", key)
    return dataclasses.replace(point, safe_value=safe, initial_value=initial)


def _identity(name: str, data: Any, *, source: str) -> IdentityCheck:
    r = _Reader(data, source=source, point=name, section=None)
    r.check_keys(_IDENTITY_KEYS)
    table: Table = r.enum("input_type", Table, Table.INPUT)
    if table.is_bits:
        raise r.error("identity values live in registers", "input_type")
    address = r.integer("address", high=65535)
    encoding = _encoding(r, table, allow_scale=False)
    if not r.has("value"):
        raise r.error("is required: the value the device must report", "value")
    expected = r.data["value"]
    if encoding.data_type is DataType.STRING:
        if not isinstance(expected, str):
            raise r.error(f"must be text for a string, not {expected!r}", "value")
    elif encoding.data_type.is_integer:
        low, high = encoding.data_type.raw_range
        if (
            not isinstance(expected, int)
            or isinstance(expected, bool)
            or not low <= expected <= high
        ):
            raise r.error(f"must be an integer that fits in {encoding.data_type}", "value")
    else:
        raise r.error("identity values are integers or strings", "data_type")
    point = Point(
        name=name,
        table=table,
        address=address,
        encoding=encoding,
        description=r.text("description", ""),
    )
    return IdentityCheck(name=name, point=point, expected=expected)


def _fifo(data: Any, *, source: str, polls: Mapping[str, PollGroup]) -> Fifo:
    r = _Reader(data, source=source, point=None, section="fifo")
    r.check_keys(_FIFO_KEYS)
    table: Table = r.enum("input_type", Table, Table.INPUT)
    if table.is_bits:
        raise r.error("a FIFO lives in registers", "input_type")
    poll = r.text("poll")
    if poll not in polls:
        known = ", ".join(polls) or "none defined"
        raise r.error(f"no poll group {poll!r} (groups: {known})", "poll")
    seq_reader = _Reader(r.data.get("sequence"), source=source, point=None, section="fifo.sequence")
    seq_reader.check_keys({"address", "data_type", "swap"})
    seq_address = seq_reader.integer("address", high=65535)
    seq_encoding = _encoding(seq_reader, table, allow_scale=False)
    if seq_encoding.data_type not in (DataType.UINT16, DataType.UINT32):
        raise seq_reader.error("the sequence counter must be uint16 or uint32", "data_type")
    sequence = Point(
        name="fifo.sequence", table=table, address=seq_address, encoding=seq_encoding, poll=poll
    )
    raw_fields = r.data.get("fields")
    if not isinstance(raw_fields, list) or not raw_fields:
        raise r.error("must be a non-empty list of record fields ([[fifo.fields]])", "fields")
    fields: list[FifoField] = []
    offset = 0
    for index, raw_field in enumerate(raw_fields):
        fr = _Reader(raw_field, source=source, point=None, section=f"fifo.fields[{index}]")
        fr.check_keys(_FIFO_FIELD_KEYS)
        name = fr.text("name")
        if not name.isidentifier():
            raise fr.error(f"{name!r} is not a valid name", "name")
        if any(f.name == name for f in fields):
            raise fr.error(f"field {name!r} appears twice", "name")
        encoding = _encoding(fr, table)
        if encoding.data_type is DataType.STRING:
            raise fr.error("FIFO fields are numbers", "data_type")
        if name == "seq" and encoding.data_type not in (DataType.UINT16, DataType.UINT32):
            raise fr.error("the record's seq field must be uint16 or uint32", "data_type")
        fields.append(
            FifoField(name=name, offset=offset, encoding=encoding, unit=fr.text("unit", ""))
        )
        offset += encoding.count
    if offset > MAX_READ_REGISTERS:
        raise r.error(f"a record of {offset} registers does not fit in one read", "fields")
    address = r.integer("address", high=65535)
    capacity = r.integer("capacity", low=2)
    rate_hz = r.number("rate_hz")
    if rate_hz <= 0:
        raise r.error("must be positive", "rate_hz")
    fifo = Fifo(
        table=table,
        sequence=sequence,
        address=address,
        capacity=capacity,
        rate_hz=rate_hz,
        poll=poll,
        fields=tuple(fields),
    )
    if fifo.end > 65536:
        raise r.error(
            f"{capacity} records of {fifo.record_registers} registers from {address} pass the "
            "end of the table",
            "capacity",
        )
    if seq_address < fifo.end and sequence.end > address:
        raise seq_reader.error("overlaps the FIFO's records", "address")
    min_capacity = math.ceil(2 * polls[poll].scan_interval * rate_hz)
    if capacity < min_capacity:
        raise r.error(
            f"{capacity} records last less than two ticks of poll group {poll!r} "
            f"({min_capacity} needed at {rate_hz:g} Hz)",
            "capacity",
        )
    return fifo


def _check_overlaps(regmap: RegisterMap) -> None:
    spans: list[tuple[Table, int, int, str]] = [
        (p.table, p.address, p.end, f"point {p.name!r}") for p in regmap.points.values()
    ]
    spans += [
        (c.point.table, c.point.address, c.point.end, f"identity {c.name!r}")
        for c in regmap.identity
    ]
    if regmap.fifo is not None:
        fifo = regmap.fifo
        spans.append((fifo.table, fifo.address, fifo.end, "the FIFO records"))
        spans.append((fifo.table, fifo.sequence.address, fifo.sequence.end, "the FIFO sequence"))
    spans.sort(key=lambda s: (s[0], s[1]))
    for (table_a, start_a, end_a, name_a), (table_b, start_b, _end_b, name_b) in itertools.pairwise(
        spans
    ):
        if table_a is table_b and start_b < end_a:
            culprit = name_b.split("'")[1] if name_b.startswith("point") else None
            raise RegisterMapError(
                f"{table_b} {start_b} overlaps {name_a} ({table_a} {start_a}..{end_a - 1})",
                source=regmap.source,
                point=culprit,
                field="address" if culprit else None,
            )
    for point in regmap.points.values():
        limit = MAX_READ_BITS if point.table.is_bits else regmap.max_block_registers
        if point.count > limit:
            raise RegisterMapError(
                f"{point.count} registers do not fit in one read of {limit}",
                source=regmap.source,
                point=point.name,
                field="count",
            )


def parse_map(data: Any, *, source: str) -> RegisterMap:
    """Validate the parsed contents of a map file and build the :class:`RegisterMap`."""
    top = _Reader(data, source=source, point=None)
    top.check_keys(_TOP_KEYS)
    header = _Reader(top.data.get("map"), source=source, point=None, section="map")
    header.check_keys(_MAP_KEYS)
    name = header.text("name")
    version = header.integer("version", high=65535)
    polls: dict[str, PollGroup] = {}
    raw_polls = top.data.get("poll", {})
    if not isinstance(raw_polls, Mapping):
        raise top.error("must be a table of poll groups", "poll")
    for group, group_data in raw_polls.items():
        gr = _Reader(group_data, source=source, point=None, section=f"poll.{group}")
        gr.check_keys({"scan_interval"})
        interval = gr.number("scan_interval")
        if not 0.001 <= interval <= 3600:
            raise gr.error(f"{interval} s is outside 0.001..3600 s", "scan_interval")
        polls[str(group)] = PollGroup(name=str(group), scan_interval=interval)
    raw_identity = top.data.get("identity", {})
    if not isinstance(raw_identity, Mapping):
        raise top.error("must be a table of identity values", "identity")
    identity = tuple(_identity(str(k), v, source=source) for k, v in raw_identity.items())
    raw_points = top.data.get("points", {})
    if not isinstance(raw_points, Mapping):
        raise top.error("must be a table of points", "points")
    points = {str(k): _point(str(k), v, source=source, polls=polls) for k, v in raw_points.items()}
    fifo = _fifo(top.data["fifo"], source=source, polls=polls) if "fifo" in top.data else None
    regmap = RegisterMap(
        name=name,
        version=version,
        kind=header.text("kind", "generic"),
        model=header.text("model", name),
        source=source,
        unit_id=header.integer("unit_id", 1, high=247),
        description=header.text("description", ""),
        max_block_registers=header.integer(
            "max_block_registers", MAX_READ_REGISTERS, low=1, high=MAX_READ_REGISTERS
        ),
        identity=identity,
        poll_groups=MappingProxyType(polls),
        points=MappingProxyType(points),
        fifo=fifo,
    )
    if regmap.fifo is not None and regmap.fifo.record_registers > regmap.max_block_registers:
        raise RegisterMapError(
            f"a record of {regmap.fifo.record_registers} registers is longer than "
            f"max_block_registers {regmap.max_block_registers}",
            source=source,
            field="fifo.fields",
        )
    _check_overlaps(regmap)
    return regmap


def parse_text(text: str, *, source: str, syntax: str = "toml") -> RegisterMap:
    """Parse map text in ``toml`` or ``yaml`` syntax."""
    data: Any
    if syntax == "toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise RegisterMapError(f"not valid TOML: {exc}", source=source) from None
        except RecursionError:  # the parsers recurse per level of nesting
            raise _nested_too_deeply(source, syntax) from None
    elif syntax == "yaml":
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise RegisterMapError(f"not valid YAML: {exc}", source=source) from None
        except RecursionError:
            raise _nested_too_deeply(source, syntax) from None
    else:
        raise ValueError(f"unknown map syntax {syntax!r}")
    return parse_map(data, source=source)


def _nested_too_deeply(source: str, syntax: str) -> RegisterMapError:
    return RegisterMapError(f"not valid {syntax.upper()}: nested too deeply", source=source)


def shipped_maps() -> list[str]:
    """Names of the maps shipped with gymctl (usable wherever a map file is)."""
    folder = importlib.resources.files(SHIPPED_PACKAGE)
    return sorted(
        p.name.removesuffix(".toml") for p in folder.iterdir() if p.name.endswith(".toml")
    )


def load_map(spec: str | Path) -> RegisterMap:
    """A map from a file (``.toml``, ``.yaml`` or ``.yml``) or the name of a shipped map."""
    path = Path(spec)
    if path.is_file():
        syntax = "yaml" if path.suffix.lower() in (".yaml", ".yml") else "toml"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise RegisterMapError(f"cannot be read: {exc}", source=str(path)) from None
        return parse_text(text, source=str(path), syntax=syntax)
    name = str(spec)
    if name in shipped_maps():
        resource = importlib.resources.files(SHIPPED_PACKAGE) / f"{name}.toml"
        return parse_text(resource.read_text(encoding="utf-8"), source=name)
    shipped = ", ".join(shipped_maps())
    raise RegisterMapError(f"no such file, nor a shipped map (shipped: {shipped})", source=name)
