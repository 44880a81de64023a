"""Register <-> value conversion: pure functions, no I/O.

Modbus registers are 16-bit and big-endian inside; devices disagree on everything above
that (the order of the registers of a 32- or 64-bit value, and sometimes the order of the
bytes inside each register). pymodbus converts word order but has no byte swap, so the
project does the whole conversion here, once, for every swap of
:class:`~equipment_adapters.modbus.regmap.Swap`.

Scalar functions serve points (exact integers, 64-bit included); the ``*_records``
functions convert whole FIFO blocks with numpy, so that no Python code runs per sample.
"""

from __future__ import annotations

import functools
import math
import struct
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from equipment_adapters.errors import DecodeError
from equipment_adapters.modbus._records import decode_words
from equipment_adapters.modbus.regmap import (
    DataType,
    Encoding,
    FifoField,
    Point,
    Swap,
    Value,
)
from kernels.errors import InvalidInputError

_STRUCT = {
    DataType.INT16: "h",
    DataType.UINT16: "H",
    DataType.INT32: "i",
    DataType.UINT32: "I",
    DataType.INT64: "q",
    DataType.UINT64: "Q",
    DataType.FLOAT32: "f",
    DataType.FLOAT64: "d",
}
_WORD_TYPES = frozenset({DataType.INT16, DataType.UINT16})
_NUMPY = {
    DataType.INT16: ">i2",
    DataType.UINT16: ">u2",
    DataType.INT32: ">i4",
    DataType.UINT32: ">u4",
    DataType.INT64: ">i8",
    DataType.UINT64: ">u8",
    DataType.FLOAT32: ">f4",
    DataType.FLOAT64: ">f8",
}


# Registers <-> bytes ---------------------------------------------------------------------


def registers_to_bytes(registers: Sequence[int], swap: Swap = Swap.NONE) -> bytes:
    """The bytes of a value in big-endian order (ABCD), undoing the device's swap."""
    regs = list(registers)
    for index, reg in enumerate(regs):
        if not 0 <= reg <= 0xFFFF:
            raise DecodeError(
                f"register value {reg} is not a 16-bit word", field="register", offset=2 * index
            )
    if swap.swaps_words:
        regs.reverse()
    if swap.swaps_bytes:
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    return b"".join(r.to_bytes(2, "big") for r in regs)


def bytes_to_registers(data: bytes, swap: Swap = Swap.NONE) -> list[int]:
    """Registers holding ``data`` (big-endian, ABCD) as a device with ``swap`` stores it."""
    if len(data) % 2:
        data += b"\x00"
    regs = [int.from_bytes(data[i : i + 2], "big") for i in range(0, len(data), 2)]
    if swap.swaps_bytes:
        regs = [((r & 0xFF) << 8) | (r >> 8) for r in regs]
    if swap.swaps_words:
        regs.reverse()
    return regs


# Raw values ------------------------------------------------------------------------------


def decode_raw(registers: Sequence[int], encoding: Encoding) -> int | float | str:
    """The raw (unscaled) value in ``registers``; strings lose trailing NULs and spaces."""
    if len(registers) != encoding.count:
        raise DecodeError(
            f"expected {encoding.count} registers, got {len(registers)}",
            field=encoding.data_type.value,
            offset=0,
        )
    data = registers_to_bytes(registers, encoding.swap)
    if encoding.data_type is DataType.STRING:
        text = data.split(b"\x00", 1)[0]
        try:
            return text.decode("utf-8").rstrip(" ")
        except UnicodeDecodeError as exc:
            raise DecodeError("string is not UTF-8", field="string", offset=exc.start) from None
    if encoding.data_type is DataType.BOOL:
        raise DecodeError("a bool is a bit, not a register", field="bool", offset=0)
    value: int | float = struct.unpack(">" + _STRUCT[encoding.data_type], data)[0]
    return value


def encode_raw(raw: int | float | str, encoding: Encoding) -> list[int]:
    """Registers holding the raw value ``raw`` (an int for integer types, a str for strings)."""
    data_type = encoding.data_type
    if data_type is DataType.STRING:
        data = str(raw).encode("utf-8")
        size = 2 * encoding.count
        if len(data) > size:
            raise InvalidInputError(
                f"text of {len(data)} bytes does not fit in {encoding.count} registers"
            )
        return bytes_to_registers(data.ljust(size, b"\x00"), encoding.swap)
    if data_type is DataType.BOOL:
        raise InvalidInputError("a bool is written as a coil, not as registers")
    if data_type.is_integer:
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise InvalidInputError(f"raw value {raw!r} of a {data_type} is not an integer")
        low, high = data_type.raw_range
        if not low <= raw <= high:
            raise InvalidInputError(f"raw value {raw} does not fit in {data_type}")
    elif not isinstance(raw, int | float) or isinstance(raw, bool):
        raise InvalidInputError(f"raw value {raw!r} of a {data_type} is not a number")
    try:
        data = struct.pack(">" + _STRUCT[data_type], raw)
    except (struct.error, OverflowError) as exc:
        raise InvalidInputError(f"raw value {raw!r} does not fit in {data_type}: {exc}") from None
    return bytes_to_registers(data, encoding.swap)


# Engineering values of points ------------------------------------------------------------


def scale_raw(raw: int | float, encoding: Encoding) -> float | int:
    """``raw * scale + offset``; an integer stays an integer when the scaling is identity."""
    if encoding.scale == 1.0 and encoding.offset == 0.0 and isinstance(raw, int):
        return raw
    return raw * encoding.scale + encoding.offset


def raw_from_value(value: float, encoding: Encoding) -> int | float:
    """The raw value that stands for ``value`` (rounded to the nearest step for integers)."""
    raw = (value - encoding.offset) / encoding.scale
    if encoding.data_type.is_integer:
        if not math.isfinite(raw):
            raise InvalidInputError(f"{value!r} is not a finite number")
        return round(raw)
    return raw


def decode_point(point: Point, values: Sequence[int] | Sequence[bool]) -> Value:
    """The engineering value of ``point`` from its registers (or its one bit)."""
    if point.table.is_bits:
        if len(values) != 1:
            raise DecodeError(f"expected 1 bit, got {len(values)}", field=point.name, offset=0)
        return bool(values[0])
    encoding = point.encoding
    if encoding.count == 1 and len(values) == 1 and encoding.data_type in _WORD_TYPES:
        # The common status word or 16-bit setting, without going through bytes.
        word = int(values[0])
        if not 0 <= word <= 0xFFFF:
            raise DecodeError(
                f"register value {word} is not a 16-bit word", field=point.name, offset=0
            )
        if encoding.swap.swaps_bytes:
            word = ((word & 0xFF) << 8) | (word >> 8)
        if encoding.data_type is DataType.INT16 and word >= 0x8000:
            word -= 0x10000
        return scale_raw(word, encoding)
    raw = decode_raw([int(v) for v in values], encoding)
    if isinstance(raw, str):
        return raw
    return scale_raw(raw, encoding)


def encode_point(
    point: Point, value: Value, *, check_limits: bool = True
) -> list[int] | list[bool]:
    """Registers (or the bit) to write ``value`` to ``point``.

    ``value`` is in engineering units; for a point with options it may also be an option
    name. With ``check_limits`` a value outside ``min_value``/``max_value`` or not among the
    options is refused with a message naming the point; the conformance check turns it
    off to send out-of-range values on purpose.
    """
    where = f"point {point.name!r}"
    if point.table.is_bits:
        if not isinstance(value, bool | int) or value not in (0, 1):
            raise InvalidInputError(f"{value!r} is not a bit (true or false)", where=where)
        return [bool(value)]
    if point.data_type is DataType.STRING:
        if not isinstance(value, str):
            raise InvalidInputError(f"{value!r} is not text", where=where)
        try:
            return encode_raw(value, point.encoding)
        except InvalidInputError as exc:
            raise InvalidInputError(exc.problem, where=where) from None
    if isinstance(value, str):
        try:
            value = point.option_value(value)
        except KeyError as exc:
            raise InvalidInputError(str(exc.args[0]), where=where) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInputError(f"{value!r} is not a number", where=where)
    if check_limits:
        check_limits_of(point, float(value))
    try:
        return encode_raw(raw_from_value(float(value), point.encoding), point.encoding)
    except InvalidInputError as exc:
        raise InvalidInputError(exc.problem, where=where) from None


def check_limits_of(point: Point, value: float) -> None:
    """Refuse a value outside the point's write limits or options, naming the point."""
    where = f"point {point.name!r}"
    unit = f" {point.unit}" if point.unit else ""
    if not math.isfinite(value):
        raise InvalidInputError(f"{value!r} is not a finite number", where=where)
    if point.min_value is not None and value < point.min_value:
        raise InvalidInputError(
            f"{value}{unit} is below the minimum {point.min_value}{unit}", where=where
        )
    if point.max_value is not None and value > point.max_value:
        raise InvalidInputError(
            f"{value}{unit} is above the maximum {point.max_value}{unit}", where=where
        )
    if point.options and raw_from_value(value, point.encoding) not in point.options.values():
        known = ", ".join(f"{k}={v}" for k, v in point.options.items())
        raise InvalidInputError(f"{value} is not one of the options ({known})", where=where)


def bit_of(point: Point, value: Value, name: str) -> bool:
    """Whether the named bit of a status word is set."""
    return bool(int(value) >> point.bits[name] & 1)


# FIFO records, vectorised ---------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _layout(encoding: Encoding) -> tuple[bool, np.dtype[Any], np.dtype[Any]]:
    """How a value's registers map to memory: (reverse the registers, register dtype, dtype).

    A value's big-endian bytes ABCD sit in registers as the swap says. Reversing the
    registers undoes a word swap; writing each register little-endian undoes a byte swap;
    the memory then holds ABCD, which the big-endian dtype reads in one view.
    """
    register = np.dtype("<u2") if encoding.swap.swaps_bytes else np.dtype(">u2")
    return encoding.swap.swaps_words, register, np.dtype(_NUMPY[encoding.data_type])


def decode_columns(
    registers: npt.NDArray[np.uint16], encoding: Encoding
) -> npt.NDArray[np.float64]:
    """Scaled values from an ``(n, count)`` array of the registers of ``n`` values; a
    float's infinities come out as NaN (sample streams take them as dropouts)."""
    reverse, register, dtype = _layout(encoding)
    block = registers[:, ::-1] if reverse else registers
    raw = np.ascontiguousarray(block, dtype=register).view(dtype).reshape(block.shape[0])
    # float64 before scaling: a float32 times a Python float stays float32 in numpy 2
    if encoding.scale != 1.0:
        values: npt.NDArray[np.float64] = np.multiply(raw, encoding.scale, dtype=np.float64)
    else:
        values = raw.astype(np.float64)
    if encoding.offset != 0.0:
        values += encoding.offset
    if encoding.data_type.is_float:
        np.copyto(values, np.nan, where=np.isinf(values))  # no measurement: a dropout
    return values


def encode_columns(values: npt.NDArray[np.float64], encoding: Encoding) -> npt.NDArray[np.uint16]:
    """The inverse of :func:`decode_columns`: integers are rounded and clipped to the type."""
    reverse, register, dtype = _layout(encoding)
    raw = np.asarray(values, dtype=np.float64)
    if encoding.offset != 0.0:
        raw = raw - encoding.offset
    if encoding.scale != 1.0:
        raw = raw / encoding.scale
    if encoding.data_type.is_integer:
        low, high = encoding.data_type.raw_range
        raw = np.clip(np.rint(raw), low, high)
    regs = raw.astype(dtype).view(register).reshape(raw.shape[0], encoding.count)
    if reverse:
        regs = regs[:, ::-1]
    return regs.astype(np.uint16)


#: (first column, scales, offsets or (), bytes swapped, signed, field names)
_FastPlan = tuple[int, tuple[float, ...], tuple[float, ...], bool, bool, tuple[str, ...]]
_UNPLANNED: Any = object()


class RecordDecoder:
    """Decodes FIFO records field by field, with each field's layout worked out once.

    The adapter decodes a block on every poll, so the per-call work is kept to a few numpy
    operations. When the fields decoded are adjacent one-register values of one type (the
    reference rack's int16 positions and forces), the whole block is scaled in one
    operation into one row per field. Otherwise, when no field reverses its registers, the
    records are viewed once as a structured array whose fields carry the device's byte
    order; else each field is decoded on its own.
    """

    def __init__(self, fields: Sequence[FifoField]) -> None:
        self.fields = tuple(fields)
        self.width = sum(f.encoding.count for f in fields)
        self._uniform: dict[
            str | None, tuple[int, int, np.dtype[Any], Any, Any, tuple[str, ...]] | None
        ] = {}
        self._scales = [(f.name, f.encoding.scale, f.encoding.offset) for f in fields]
        self._fast: dict[str | None, _FastPlan | None] = {}
        #: fields whose raw values can be NaN or infinite (a float's reserved patterns)
        self._floats = frozenset(f.name for f in fields if f.encoding.data_type.is_float)
        self._plans = [
            (f.name, f.offset, f.offset + f.encoding.count, *_layout(f.encoding)) for f in fields
        ]
        self._record: np.dtype[Any] | None = None
        if not any(
            f.encoding.swap.swaps_words and f.encoding.count > 1 for f in fields
        ) and not any(
            f.encoding.swap.swaps_bytes and f.encoding.count > 1 and not f.encoding.swap.swaps_words
            for f in fields
        ):
            # Each field's bytes are in one plain order: big-endian, or little-endian when
            # the bytes of its single register (or of all its registers) are swapped.
            self._record = np.dtype(
                {
                    "names": [f.name for f in fields],
                    "formats": [
                        np.dtype(_NUMPY[f.encoding.data_type]).newbyteorder(
                            "<" if f.encoding.swap.swaps_bytes else ">"
                        )
                        for f in fields
                    ],
                    "offsets": [2 * f.offset for f in fields],
                    "itemsize": 2 * self.width,
                }
            )

    def table(self, registers: npt.NDArray[np.uint16] | Sequence[int]) -> npt.NDArray[np.uint16]:
        """The registers as an ``(n, width)`` array of records.

        The array holds big-endian 16-bit words, the bytes as the device sent them, so the
        structured view needs no copy.
        """
        flat = np.asarray(registers, dtype=">u2")
        if flat.size % self.width:
            raise DecodeError(
                f"{flat.size} registers are not a whole number of {self.width}-register records",
                field="fifo",
                offset=2 * (flat.size - flat.size % self.width),
            )
        return flat.reshape(flat.size // self.width, self.width)

    def raw(self, table: npt.NDArray[np.uint16], name: str) -> npt.NDArray[Any]:
        """The raw (unscaled, typed) values of one field."""
        if self._record is not None:
            records = np.ascontiguousarray(table, dtype=">u2").view(self._record)
            return records.reshape(table.shape[0])[name]
        for field_name, start, stop, reverse, register, dtype in self._plans:
            if field_name == name:
                block = table[:, start:stop]
                if reverse:
                    block = block[:, ::-1]
                return (
                    np.ascontiguousarray(block, dtype=register).view(dtype).reshape(table.shape[0])
                )
        raise KeyError(name)

    def _uniform_plan(
        self, skip: str | None
    ) -> tuple[int, int, np.dtype[Any], Any, Any, tuple[str, ...]] | None:
        """(first column, last + 1, dtype, scales, offsets) when one operation decodes all."""
        if skip not in self._uniform:
            chosen = [f for f in self.fields if f.name != skip]
            dtypes = {_layout(f.encoding)[1:] for f in chosen}
            columns = [f.offset for f in chosen]
            plan = None
            if (
                chosen
                and all(f.encoding.count == 1 for f in chosen)
                and len(dtypes) == 1
                and columns == list(range(columns[0], columns[0] + len(columns)))
            ):
                register, dtype = dtypes.pop()
                offsets = np.array([[f.encoding.offset] for f in chosen])
                plan = (
                    columns[0],
                    columns[-1] + 1,
                    dtype.newbyteorder(register.byteorder),
                    np.array([[f.encoding.scale] for f in chosen]),
                    offsets if offsets.any() else None,
                    tuple(f.name for f in chosen),
                )
            self._uniform[skip] = plan
        return self._uniform[skip]

    def decode_registers(
        self, registers: list[int] | list[bool], *, skip: str | None = None
    ) -> dict[str, npt.NDArray[np.float64]]:
        """:meth:`decode` of :meth:`table`, from the register list a read returned.

        The reference rack's layout (adjacent one-register fields of one 16-bit type) is
        decoded by the compiled ``_records.decode_words`` in one pass, without the
        intermediate arrays: the rack adapter does this on every poll of every rack.
        Anything else, and anything that is not a list of 16-bit words, takes the numpy
        path (which reports what is wrong)."""
        fast = self._fast.get(skip, _UNPLANNED)
        if fast is _UNPLANNED:
            fast = self._fast_plan(skip)
        if fast is not None and type(registers) is list and len(registers) % self.width == 0:
            first, scales, offsets, swap, signed, names = fast
            rows = decode_words(registers, self.width, first, scales, offsets, swap, signed)  # type: ignore[arg-type]  # bools are refused inside
            if rows is not None:
                if len(names) == 1:
                    return {names[0]: rows[0]}
                return dict(zip(names, rows, strict=True))
        return self.decode(self.table(registers), skip=skip)

    def _fast_plan(self, skip: str | None) -> _FastPlan | None:
        uniform = self._uniform_plan(skip)
        plan = None
        if uniform is not None:
            first, _, dtype, scales, offsets, names = uniform
            if dtype.itemsize == 2 and dtype.kind in "iu":
                plan = (
                    first,
                    tuple(float(v) for v in scales.reshape(-1)),
                    () if offsets is None else tuple(float(v) for v in offsets.reshape(-1)),
                    dtype.byteorder != ">",  # stored little-endian: the bytes swapped
                    dtype.kind == "i",
                    names,
                )
        self._fast[skip] = plan
        return plan

    def decode(
        self, table: npt.NDArray[np.uint16], *, skip: str | None = None
    ) -> dict[str, npt.NDArray[np.float64]]:
        """One float64 array per field (but ``skip``) from an ``(n, width)`` array of records.

        A float field's infinities come out as NaN (a dropout, as the rep detector reads
        it), so nothing infinite leaves the adapter in a batch."""
        n = table.shape[0]
        uniform = self._uniform_plan(skip)
        if uniform is not None:
            first, last, dtype, scales, offsets, names = uniform
            # The registers hold big-endian words; each column seen in the field's type.
            typed = np.ascontiguousarray(table[:, first:last], dtype=">u2").view(dtype)
            rows = np.empty((last - first, n))
            np.multiply(typed.T, scales, out=rows)
            if offsets is not None:
                rows += offsets
            return dict(zip(names, rows, strict=True))
        raws: dict[str, npt.NDArray[Any]] = {}
        if self._record is not None:
            # The registers as the device sent them (big-endian words), seen as records.
            records = np.ascontiguousarray(table, dtype=">u2").view(self._record).reshape(n)
            for name, *_ in self._plans:
                if name != skip:
                    raws[name] = records[name]
        else:
            for name, start, stop, reverse, register, dtype in self._plans:
                if name == skip:
                    continue
                block = table[:, start:stop]
                if reverse:
                    block = block[:, ::-1]
                raws[name] = np.ascontiguousarray(block, dtype=register).view(dtype).reshape(n)
        out: dict[str, npt.NDArray[np.float64]] = {}
        for name, scale, offset in self._scales:
            if name == skip:
                continue
            raw = raws[name]
            values: npt.NDArray[np.float64] = (
                np.multiply(raw, scale, dtype=np.float64)
                if scale != 1.0
                else raw.astype(np.float64)
            )
            if offset != 0.0:
                values += offset
            if name in self._floats:
                # An infinity is no measurement: a dropout (NaN), like a NaN the device
                # sent, so a batch never carries infinities downstream.
                np.copyto(values, np.nan, where=np.isinf(values))
            out[name] = values
        return out


def decode_records(
    registers: npt.NDArray[np.uint16] | Sequence[int], fields: Sequence[FifoField]
) -> dict[str, npt.NDArray[np.float64]]:
    """Every field of ``n`` consecutive FIFO records, as one float64 array per field."""
    decoder = RecordDecoder(fields)
    return decoder.decode(decoder.table(registers))


def encode_records(
    values: Mapping[str, npt.NDArray[np.float64]], fields: Sequence[FifoField]
) -> npt.NDArray[np.uint16]:
    """An ``(n, record_registers)`` array of records holding ``values`` (one array per field)."""
    lengths = {len(values[f.name]) for f in fields}
    if len(lengths) != 1:
        raise InvalidInputError("FIFO fields have different numbers of samples")
    n = lengths.pop()
    width = sum(f.encoding.count for f in fields)
    out = np.empty((n, width), dtype=np.uint16)
    for f in fields:
        out[:, f.offset : f.offset + f.encoding.count] = encode_columns(values[f.name], f.encoding)
    return out
