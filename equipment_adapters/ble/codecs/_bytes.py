"""Bounds-checked little-endian reading and writing shared by the BLE codecs.

Every read names the field it is reading, so a short payload becomes one
:class:`~equipment_adapters.errors.DecodeError` that says which field and which byte
offset, never an ``IndexError`` or a ``struct.error``.
"""

from __future__ import annotations

import struct
from typing import Final

from equipment_adapters.errors import DecodeError

_FORMATS: Final[dict[str, struct.Struct]] = {
    code: struct.Struct("<" + code) for code in ("B", "b", "H", "h", "I", "i")
}
#: field size in bytes of each format code ("T" is an unsigned 24-bit integer)
SIZES: Final[dict[str, int]] = {"B": 1, "b": 1, "H": 2, "h": 2, "T": 3, "I": 4, "i": 4}
_RANGES: Final[dict[str, tuple[int, int]]] = {
    "B": (0, 0xFF),
    "b": (-0x80, 0x7F),
    "H": (0, 0xFFFF),
    "h": (-0x8000, 0x7FFF),
    "T": (0, 0xFFFFFF),
    "I": (0, 0xFFFFFFFF),
    "i": (-0x80000000, 0x7FFFFFFF),
}


class Reader:
    """A cursor over one payload; each read checks that the bytes are there."""

    __slots__ = ("data", "pdu", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, pdu: str) -> None:
        self.data = bytes(data)
        self.pdu = pdu
        self.pos = 0

    @property
    def remaining(self) -> int:
        return len(self.data) - self.pos

    def error(self, problem: str, field: str, offset: int | None = None) -> DecodeError:
        return DecodeError(
            problem, field=field, offset=self.pos if offset is None else offset, pdu=self.pdu
        )

    def need(self, size: int, field: str) -> None:
        if self.remaining < size:
            have = self.remaining
            raise self.error(
                f"needs {size} byte{'s' if size != 1 else ''}, only {have} left", field
            )

    def read(self, code: str, field: str) -> int:
        size = SIZES[code]
        self.need(size, field)
        if code == "T":
            value = int.from_bytes(self.data[self.pos : self.pos + 3], "little")
        else:
            value = int(_FORMATS[code].unpack_from(self.data, self.pos)[0])
        self.pos += size
        return value

    def rest(self) -> bytes:
        value = self.data[self.pos :]
        self.pos = len(self.data)
        return value

    def end(self) -> None:
        """Reject trailing bytes: a payload longer than its flags say is malformed."""
        if self.remaining:
            raise self.error(
                f"{self.remaining} unexpected trailing byte{'s' if self.remaining != 1 else ''}",
                "end of payload",
            )


class Writer:
    """Builds a payload; each write checks that the value fits its field."""

    __slots__ = ("buf", "pdu")

    def __init__(self, pdu: str) -> None:
        self.buf = bytearray()
        self.pdu = pdu

    def write(self, code: str, value: int, field: str) -> None:
        low, high = _RANGES[code]
        if not low <= value <= high:
            raise ValueError(f"{self.pdu}: {field} = {value} does not fit ({low}..{high})")
        if code == "T":
            self.buf += value.to_bytes(3, "little")
        else:
            self.buf += _FORMATS[code].pack(value)

    def raw(self, data: bytes) -> None:
        self.buf += data

    def bytes(self) -> bytes:
        return bytes(self.buf)


def to_raw(value: float, mul: int, div: int) -> int:
    """The integer a scaled field carries: ``value = raw * mul / div``."""
    return round(value * div / mul)


def from_raw(raw: int, mul: int, div: int) -> float:
    return raw * mul / div if div != 1 else float(raw * mul)
