"""The compiled FIFO decode (``_records.decode_words``) against the numpy path it shortcuts:
same values for every 16-bit layout it takes, the numpy path for everything else."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from equipment_adapters.errors import DecodeError
from equipment_adapters.modbus.codec import RecordDecoder
from equipment_adapters.modbus.regmap import DataType, Encoding, FifoField, Swap

WORDS = st.integers(0, 0xFFFF)


@st.composite
def layouts(draw: st.DrawFn) -> tuple[list[FifoField], int]:
    """A seq word and 1..4 adjacent fields of one 16-bit type (the compiled path's case)."""
    data_type = draw(st.sampled_from([DataType.INT16, DataType.UINT16]))
    swap = draw(st.sampled_from([Swap.NONE, Swap.BYTE]))
    count = draw(st.integers(1, 4))
    fields = [FifoField("seq", 0, Encoding(DataType.UINT16, 1))]
    for j in range(count):
        scale = draw(st.sampled_from([1.0, 0.1, 0.0001, -2.5]))
        offset = draw(st.sampled_from([0.0, 0.0, 3.25]))
        fields.append(
            FifoField(f"f{j}", 1 + j, Encoding(data_type, 1, swap, scale=scale, offset=offset))
        )
    return fields, 1 + count


@given(layouts(), st.data())
def test_the_compiled_decode_equals_the_numpy_path(
    layout: tuple[list[FifoField], int], data: st.DataObject
) -> None:
    fields, width = layout
    records = data.draw(st.integers(0, 30))
    registers = data.draw(st.lists(WORDS, min_size=records * width, max_size=records * width))
    decoder = RecordDecoder(fields)
    fast = decoder.decode_registers(registers, skip="seq")
    reference = RecordDecoder(fields).decode(decoder.table(registers), skip="seq")
    assert fast.keys() == reference.keys()
    for name, values in reference.items():
        assert fast[name].dtype == np.float64
        np.testing.assert_array_equal(fast[name], values)


def test_the_reference_rack_layout_takes_the_compiled_path() -> None:
    fields = [
        FifoField("seq", 0, Encoding(DataType.UINT16, 1)),
        FifoField("position", 1, Encoding(DataType.INT16, 1, scale=0.0001)),
    ]
    decoder = RecordDecoder(fields)
    out = decoder.decode_registers([7, 0xFFFF, 8, 0x7FFF, 9, 0x8000], skip="seq")
    np.testing.assert_array_equal(out["position"], [-0.0001, 3.2767, -3.2768])
    assert decoder._fast["seq"] is not None  # the compiled plan was made and kept


@pytest.mark.parametrize("bad", [[1, 70000], [1, -1], [1, True], [1, 2.5]])
def test_what_is_not_a_word_goes_the_numpy_way(bad: list[object]) -> None:
    """Whatever the numpy path does with it (a value or its error), the decoder does."""
    fields = [
        FifoField("seq", 0, Encoding(DataType.UINT16, 1)),
        FifoField("position", 1, Encoding(DataType.INT16, 1, scale=0.001)),
    ]
    decoder = RecordDecoder(fields)
    try:
        slow = decoder.decode(decoder.table(bad), skip="seq")  # type: ignore[arg-type]
    except Exception as error:
        with pytest.raises(type(error)):
            decoder.decode_registers(bad, skip="seq")  # type: ignore[arg-type]
    else:
        fast = decoder.decode_registers(bad, skip="seq")  # type: ignore[arg-type]
        np.testing.assert_array_equal(fast["position"], slow["position"])


def test_a_partial_record_is_a_decode_error() -> None:
    fields = [
        FifoField("seq", 0, Encoding(DataType.UINT16, 1)),
        FifoField("position", 1, Encoding(DataType.INT16, 1)),
    ]
    with pytest.raises(DecodeError):
        RecordDecoder(fields).decode_registers([1, 2, 3], skip="seq")


def test_other_layouts_keep_the_numpy_path() -> None:
    fields = [
        FifoField("seq", 0, Encoding(DataType.UINT16, 1)),
        FifoField("force", 1, Encoding(DataType.FLOAT32, 2)),
    ]
    decoder = RecordDecoder(fields)
    out = decoder.decode_registers([1, 0x3F80, 0, 2, 0x4000, 0], skip="seq")
    np.testing.assert_array_equal(out["force"], [1.0, 2.0])
