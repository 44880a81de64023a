"""Register <-> value conversion: known vectors, every swap, scalar and vectorised agree."""

from __future__ import annotations

import math
import struct
from typing import Literal

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment_adapters.errors import DecodeError
from equipment_adapters.modbus.codec import (
    RecordDecoder,
    bytes_to_registers,
    decode_columns,
    decode_point,
    decode_raw,
    decode_records,
    encode_columns,
    encode_point,
    encode_raw,
    encode_records,
    registers_to_bytes,
)
from equipment_adapters.modbus.regmap import (
    Access,
    DataType,
    Encoding,
    FifoField,
    Point,
    Swap,
    Table,
)
from kernels.errors import InvalidInputError

NUMERIC = [t for t in DataType if t not in (DataType.STRING, DataType.BOOL)]


def enc(data_type: DataType, swap: Swap = Swap.NONE, **kw: float) -> Encoding:
    return Encoding(data_type=data_type, count=data_type.registers, swap=swap, **kw)


def test_float32_word_order_matches_the_reference_figures() -> None:
    # shared/reference/modbus-mqtt.md: 72.5 is [17041, 0] big, [0, 17041] little word order.
    assert encode_raw(72.5, enc(DataType.FLOAT32)) == [17041, 0]
    assert encode_raw(72.5, enc(DataType.FLOAT32, Swap.WORD)) == [0, 17041]
    assert decode_raw([0, 17041], enc(DataType.FLOAT32, Swap.WORD)) == 72.5
    # Read with the wrong word order it is the tiny number users report.
    wrong = decode_raw([0, 17041], enc(DataType.FLOAT32))
    assert isinstance(wrong, float)
    assert math.isclose(wrong, 2.39e-41, rel_tol=0.01)


@pytest.mark.parametrize(
    ("swap", "registers"),
    [
        (Swap.NONE, [0x0102, 0x0304]),  # ABCD
        (Swap.WORD, [0x0304, 0x0102]),  # CDAB
        (Swap.BYTE, [0x0201, 0x0403]),  # BADC
        (Swap.WORD_BYTE, [0x0403, 0x0201]),  # DCBA
    ],
)
def test_the_four_orders_of_a_32_bit_value(swap: Swap, registers: list[int]) -> None:
    assert encode_raw(0x01020304, enc(DataType.UINT32, swap)) == registers
    assert decode_raw(registers, enc(DataType.UINT32, swap)) == 0x01020304


def test_byte_swap_of_a_single_register() -> None:
    assert encode_raw(0x1234, enc(DataType.UINT16, Swap.BYTE)) == [0x3412]
    assert decode_raw([0xFFFE], enc(DataType.INT16, Swap.BYTE)) == -257


def test_64_bit_word_swap_reverses_all_four_registers() -> None:
    regs = encode_raw(0x0001000200030004, enc(DataType.UINT64, Swap.WORD))
    assert regs == [4, 3, 2, 1]


def test_strings_pad_with_nul_and_strip_on_decode() -> None:
    encoding = Encoding(DataType.STRING, count=4)
    regs = encode_raw("GO!", encoding)
    assert regs == [0x474F, 0x2100, 0, 0]
    assert decode_raw(regs, encoding) == "GO!"
    assert decode_raw(bytes_to_registers(b"AB  CD  "), encoding) == "AB  CD"
    with pytest.raises(InvalidInputError, match="does not fit"):
        encode_raw("x" * 9, encoding)


def test_decode_errors_are_decode_errors_not_index_errors() -> None:
    with pytest.raises(DecodeError, match="expected 2 registers"):
        decode_raw([1], enc(DataType.FLOAT32))
    with pytest.raises(DecodeError, match="16-bit"):
        registers_to_bytes([70000])
    with pytest.raises(DecodeError, match="UTF-8"):
        decode_raw([0xFFFE], Encoding(DataType.STRING, count=1))


def test_integer_out_of_range_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="does not fit in uint16"):
        encode_raw(70000, enc(DataType.UINT16))
    with pytest.raises(InvalidInputError, match="not an integer"):
        encode_raw(1.5, enc(DataType.INT32))


def _point(**kw: object) -> Point:
    defaults: dict[str, object] = {
        "name": "target_load",
        "table": Table.HOLDING,
        "address": 0,
        "encoding": enc(DataType.UINT16, scale=0.1),
        "unit": "kg",
        "access": Access.READ_WRITE,
        "min_value": 0.0,
        "max_value": 200.0,
    }
    defaults.update(kw)
    return Point(**defaults)  # type: ignore[arg-type]


def test_points_scale_round_and_check_limits() -> None:
    point = _point()
    assert encode_point(point, 72.5) == [725]
    assert decode_point(point, [725]) == pytest.approx(72.5)
    with pytest.raises(
        InvalidInputError, match=r"point 'target_load': 200.1 kg is above the maximum 200.0 kg"
    ):
        encode_point(point, 200.1)
    assert encode_point(point, 200.1, check_limits=False) == [2001]
    with pytest.raises(InvalidInputError, match="not a number"):
        encode_point(point, True)


def test_options_accept_names_and_refuse_unknown_values() -> None:
    point = _point(
        name="mode",
        encoding=enc(DataType.UINT16),
        unit="",
        min_value=None,
        max_value=None,
        options={"standard": 0, "eccentric": 1},
    )
    assert encode_point(point, "eccentric") == [1]
    with pytest.raises(InvalidInputError, match="no option 'chains'"):
        encode_point(point, "chains")
    with pytest.raises(InvalidInputError, match="not one of the options"):
        encode_point(point, 5)


@given(st.sampled_from(NUMERIC), st.sampled_from(list(Swap)), st.data())
def test_raw_round_trip_for_every_type_and_swap(
    data_type: DataType, swap: Swap, data: st.DataObject
) -> None:
    if swap.swaps_words and data_type.registers < 2:
        swap = Swap.BYTE if swap is Swap.WORD_BYTE else Swap.NONE
    encoding = enc(data_type, swap)
    if data_type.is_integer:
        low, high = data_type.raw_range
        value: float = data.draw(st.integers(low, high))
    else:
        width: Literal[32, 64] = 32 if data_type is DataType.FLOAT32 else 64
        value = data.draw(st.floats(allow_nan=False, allow_infinity=False, width=width))
    regs = encode_raw(value, encoding)
    assert len(regs) == data_type.registers
    assert all(0 <= r <= 0xFFFF for r in regs)
    assert decode_raw(regs, encoding) == value


@given(st.sampled_from(NUMERIC), st.sampled_from(list(Swap)), st.data())
def test_vectorised_columns_agree_with_the_scalar_codec(
    data_type: DataType, swap: Swap, data: st.DataObject
) -> None:
    if swap.swaps_words and data_type.registers < 2:
        swap = Swap.NONE
    raws: list[int] | list[float]
    if data_type.is_integer:
        offset = -3.0
        low, high = data_type.raw_range
        # float64 holds these integers exactly
        raws = data.draw(
            st.lists(st.integers(max(low, -(2**52)), min(high, 2**52)), min_size=1, max_size=20)
        )
    else:
        offset = 0.0  # an offset would round away the low bits of tiny floats
        floats = st.floats(allow_nan=False, allow_infinity=False, width=32)
        raws = data.draw(st.lists(floats, min_size=1, max_size=20))
    encoding = enc(data_type, swap, scale=0.5, offset=offset)
    regs = np.array([encode_raw(r, encoding) for r in raws], dtype=np.uint16)
    values = decode_columns(regs, encoding)
    expected = np.array([float(r) * 0.5 + offset for r in raws])
    np.testing.assert_allclose(values, expected, rtol=1e-12)
    np.testing.assert_array_equal(encode_columns(values, encoding), regs)


def test_records_decode_field_by_field() -> None:
    fields = [
        FifoField("seq", 0, enc(DataType.UINT16)),
        FifoField("position", 1, enc(DataType.FLOAT32, Swap.WORD), unit="m"),
        FifoField("force", 3, enc(DataType.INT16, scale=0.1), unit="N"),
    ]
    values = {
        "seq": np.array([7.0, 8.0]),
        "position": np.array([0.5, 0.75]),
        "force": np.array([-12.3, 400.0]),
    }
    records = encode_records(values, fields)
    assert records.shape == (2, 4)
    assert list(records[0]) == [
        7,
        *encode_raw(0.5, fields[1].encoding),
        struct.unpack(">H", struct.pack(">h", -123))[0],
    ]
    decoded = decode_records(records.ravel(), fields)
    np.testing.assert_allclose(decoded["force"], [-12.3, 400.0])
    np.testing.assert_array_equal(decoded["position"], [0.5, 0.75])
    with pytest.raises(DecodeError, match="whole number of 4-register records"):
        decode_records(records.ravel()[:-1], fields)


@given(
    st.lists(
        st.tuples(st.sampled_from(NUMERIC), st.sampled_from(list(Swap))), min_size=1, max_size=5
    ),
    st.integers(1, 30),
    st.data(),
)
def test_record_decoder_agrees_with_the_columns(
    layout: list[tuple[DataType, Swap]], n: int, data: st.DataObject
) -> None:
    fields = []
    offset = 0
    for index, (data_type, drawn) in enumerate(layout):
        swap = Swap.NONE if drawn.swaps_words and data_type.registers < 2 else drawn
        encoding = enc(data_type, swap, scale=0.001)
        fields.append(FifoField(f"f{index}", offset, encoding))
        offset += encoding.count
    regs = np.array(
        data.draw(st.lists(st.integers(0, 0xFFFF), min_size=n * offset, max_size=n * offset)),
        dtype=np.uint16,
    )
    table = regs.reshape(n, offset)
    decoded = RecordDecoder(fields).decode(table)
    for f in fields:
        expected = decode_columns(table[:, f.offset : f.offset + f.encoding.count], f.encoding)
        assert decoded[f.name].dtype == np.float64
        np.testing.assert_array_equal(decoded[f.name], expected)


@pytest.mark.parametrize("swap", list(Swap))
@pytest.mark.parametrize("data_type", [DataType.FLOAT32, DataType.FLOAT64])
def test_float_samples_that_are_infinite_become_dropouts(data_type: DataType, swap: Swap) -> None:
    """A device's +-inf is no measurement: NaN, as a dropout, never an infinity in a batch
    (the rep detector refuses those); finite values pass unchanged."""
    encoding = enc(data_type, swap)
    sent = [math.inf, -math.inf, math.nan, 0.25, -3.0e38]
    regs = np.array([encode_raw(v, encoding) for v in sent], dtype=np.uint16)
    fields = [FifoField("x", 0, encoding), FifoField("seq", encoding.count, enc(DataType.UINT16))]
    table = np.concatenate([regs, np.arange(5, dtype=np.uint16)[:, None]], axis=1)
    for values in (decode_columns(regs, encoding), RecordDecoder(fields).decode(table)["x"]):
        assert not np.isinf(values).any()
        assert np.isnan(values[:3]).all()
        assert values[3] == 0.25
        assert values[4] == (
            float(np.float32(-3.0e38)) if data_type is DataType.FLOAT32 else -3.0e38
        )


def test_float32_fields_are_decoded_to_float64() -> None:
    encoding = enc(DataType.FLOAT32, Swap.WORD, scale=0.001)
    regs = np.array([encode_raw(1234.5678, encoding)], dtype=np.uint16)
    values = decode_columns(regs, encoding)
    assert values.dtype == np.float64
    assert values[0] == float(np.float32(1234.5678)) * 0.001


@given(
    st.sampled_from([DataType.INT16, DataType.UINT16]),
    st.sampled_from([Swap.NONE, Swap.BYTE]),
    st.integers(0, 0xFFFF),
)
def test_one_register_points_decode_like_the_general_path(
    data_type: DataType, swap: Swap, word: int
) -> None:
    point = _point(encoding=enc(data_type, swap, scale=0.1, offset=2.0))
    raw = decode_raw([word], point.encoding)
    assert isinstance(raw, int)
    assert decode_point(point, [word]) == raw * 0.1 + 2.0
    with pytest.raises(DecodeError, match="not a 16-bit word"):
        decode_point(point, [0x10000])
