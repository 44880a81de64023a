"""The register map of a Modbus device, as values.

A map says where each value of a device lives (table, address, data type, word and byte
order, scale), what may be written and within which limits, what the device's safe value
is, how often each value is polled, how the device identifies itself, and where its
high-rate sample FIFO is. Everything gymctl does with a Modbus device (polling, writing,
emulating it, checking it, exporting a C header for its firmware) is driven by this one
description; :mod:`equipment_adapters.modbus.mapfile` reads it from TOML or YAML.

The vocabulary is Home Assistant's modbus schema (``input_type``, ``data_type``, ``swap``,
``scale``, ``offset``, ``scan_interval``, ``min_value``, ``max_value``) so that people who
have written a Modbus integration before can read a map at once.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

#: The Modbus limit on registers in one read request (function codes 3 and 4).
MAX_READ_REGISTERS = 125
#: The Modbus limit on bits in one read request (function codes 1 and 2).
MAX_READ_BITS = 2000
#: The Modbus limit on registers in one write request (function code 16).
MAX_WRITE_REGISTERS = 123

Value = float | int | str | bool


class Table(enum.StrEnum):
    """The four Modbus data tables (Home Assistant's ``input_type``)."""

    HOLDING = "holding"
    INPUT = "input"
    COIL = "coil"
    DISCRETE_INPUT = "discrete_input"

    @property
    def is_bits(self) -> bool:
        return self in (Table.COIL, Table.DISCRETE_INPUT)

    @property
    def writable(self) -> bool:
        return self in (Table.HOLDING, Table.COIL)


class DataType(enum.StrEnum):
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"
    INT64 = "int64"
    UINT64 = "uint64"
    FLOAT32 = "float32"
    FLOAT64 = "float64"
    STRING = "string"
    BOOL = "bool"  #: one coil or discrete input

    @property
    def registers(self) -> int:
        """Registers one value occupies (0 for strings, whose ``count`` says, and bits)."""
        return _REGISTERS[self]

    @property
    def is_integer(self) -> bool:
        return self in _INTEGER_RANGES

    @property
    def is_float(self) -> bool:
        return self in (DataType.FLOAT32, DataType.FLOAT64)

    @property
    def raw_range(self) -> tuple[int, int]:
        """The smallest and largest raw integer of an integer type."""
        return _INTEGER_RANGES[self]


_REGISTERS = {
    DataType.INT16: 1,
    DataType.UINT16: 1,
    DataType.INT32: 2,
    DataType.UINT32: 2,
    DataType.INT64: 4,
    DataType.UINT64: 4,
    DataType.FLOAT32: 2,
    DataType.FLOAT64: 4,
    DataType.STRING: 0,
    DataType.BOOL: 0,
}
_INTEGER_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
    DataType.UINT64: (0, 2**64 - 1),
}


class Swap(enum.StrEnum):
    """Byte and word order of a value, relative to Modbus's big-endian registers.

    ``word`` reverses the order of the registers of a multi-register value ("little word
    order", CDAB for a float32); ``byte`` swaps the two bytes inside every register (BADC);
    ``word_byte`` does both (DCBA).
    """

    NONE = "none"
    BYTE = "byte"
    WORD = "word"
    WORD_BYTE = "word_byte"

    @property
    def swaps_words(self) -> bool:
        return self in (Swap.WORD, Swap.WORD_BYTE)

    @property
    def swaps_bytes(self) -> bool:
        return self in (Swap.BYTE, Swap.WORD_BYTE)


class Access(enum.StrEnum):
    READ = "read"
    READ_WRITE = "read_write"


def _frozen(mapping: Mapping[str, int] | None = None) -> Mapping[str, int]:
    return MappingProxyType(dict(mapping or {}))


@dataclass(frozen=True, slots=True)
class Encoding:
    """How one value is laid out in registers and scaled: ``value = raw * scale + offset``."""

    data_type: DataType
    count: int  #: registers (bits tables: 1 bit)
    swap: Swap = Swap.NONE
    scale: float = 1.0
    offset: float = 0.0


@dataclass(frozen=True, slots=True)
class Point:
    """One named value of a device.

    ``options`` names the raw values of an enumeration (a mode, a colour); ``bits`` names
    the bits of a status word (bit 0 is the least significant). ``min_value`` and
    ``max_value`` are write limits in engineering units: the adapter never writes outside
    them and a conforming device refuses values outside them. ``safe_value`` is written when
    the device is put in its safe state; ``initial_value`` once after every connection.
    """

    name: str
    table: Table
    address: int
    encoding: Encoding
    unit: str = ""
    access: Access = Access.READ
    min_value: float | None = None
    max_value: float | None = None
    safe_value: Value | None = None
    initial_value: Value | None = None
    poll: str | None = None
    precision: int | None = None
    options: Mapping[str, int] = field(default_factory=_frozen)
    bits: Mapping[str, int] = field(default_factory=_frozen)
    description: str = ""

    @property
    def data_type(self) -> DataType:
        return self.encoding.data_type

    @property
    def count(self) -> int:
        return self.encoding.count

    @property
    def end(self) -> int:
        """The first address after the point."""
        return self.address + self.encoding.count

    @property
    def writable(self) -> bool:
        return self.access is Access.READ_WRITE

    def option_value(self, name: str) -> int:
        """The raw value of option ``name``."""
        try:
            return self.options[name]
        except KeyError:
            known = ", ".join(self.options) or "none"
            raise KeyError(f"point {self.name!r} has no option {name!r} (known: {known})") from None

    def option_name(self, raw: int) -> str | None:
        for name, value in self.options.items():
            if value == raw:
                return name
        return None


@dataclass(frozen=True, slots=True)
class IdentityCheck:
    """A register with a fixed value that says which model and map version a device speaks."""

    name: str
    point: Point
    expected: Value


@dataclass(frozen=True, slots=True)
class PollGroup:
    """A polling cadence: the points (and FIFO) of a group are read together every tick."""

    name: str
    scan_interval: float  #: seconds between ticks


@dataclass(frozen=True, slots=True)
class FifoField:
    """One value of a FIFO record, at ``offset`` registers from the start of the record."""

    name: str
    offset: int
    encoding: Encoding
    unit: str = ""


@dataclass(frozen=True, slots=True)
class Fifo:
    """A high-rate sample ring in registers.

    The device writes sample number ``s`` (counting from 0 since it started) into record
    slot ``s % capacity`` starting at ``address``; ``sequence`` holds the number of samples
    written so far (the sequence number of the next sample). A reader that remembers the
    next sequence number it wants reads exactly the new records, so no sample is lost or
    read twice while the reader keeps up; a lag longer than the ring is detected as a gap.
    An optional record field named ``seq`` (the low bits of the sample's own sequence
    number) lets the reader check every record it decodes.
    """

    table: Table
    sequence: Point
    address: int
    capacity: int
    rate_hz: float
    poll: str
    fields: tuple[FifoField, ...]
    record_registers: int = field(init=False)  #: registers of one record

    def __post_init__(self) -> None:
        object.__setattr__(self, "record_registers", sum(f.encoding.count for f in self.fields))

    @property
    def end(self) -> int:
        return self.address + self.capacity * self.record_registers

    @property
    def period(self) -> float:
        return 1.0 / self.rate_hz

    @property
    def seq_field(self) -> FifoField | None:
        return next((f for f in self.fields if f.name == "seq"), None)

    @property
    def value_fields(self) -> tuple[FifoField, ...]:
        return tuple(f for f in self.fields if f.name != "seq")

    def field(self, name: str) -> FifoField:
        for candidate in self.fields:
            if candidate.name == name:
                return candidate
        raise KeyError(f"FIFO has no field {name!r}")


@dataclass(frozen=True, slots=True)
class RegisterMap:
    """A whole device: identity, poll groups, points and the optional sample FIFO."""

    name: str
    version: int
    kind: str
    model: str
    source: str  #: where the map was read from, for messages
    unit_id: int = 1
    description: str = ""
    max_block_registers: int = MAX_READ_REGISTERS
    identity: tuple[IdentityCheck, ...] = ()
    poll_groups: Mapping[str, PollGroup] = field(default_factory=lambda: MappingProxyType({}))
    points: Mapping[str, Point] = field(default_factory=lambda: MappingProxyType({}))
    fifo: Fifo | None = None

    def point(self, name: str) -> Point:
        try:
            return self.points[name]
        except KeyError:
            raise KeyError(f"register map {self.name!r} has no point {name!r}") from None

    def has(self, name: str) -> bool:
        return name in self.points

    def polled(self, group: str) -> tuple[Point, ...]:
        """The points of one poll group, in address order."""
        return tuple(
            sorted(
                (p for p in self.points.values() if p.poll == group),
                key=lambda p: (p.table, p.address),
            )
        )
