"""Block reads: contiguous points share a read, never across a gap or past 125 registers."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from equipment_adapters.modbus.blocks import compile_blocks, plan_record_reads
from equipment_adapters.modbus.mapfile import load_map
from equipment_adapters.modbus.regmap import DataType, Encoding, Point, Table


def point(name: str, table: Table, address: int, count: int = 1) -> Point:
    data_type = DataType.BOOL if table.is_bits else DataType.STRING
    return Point(name=name, table=table, address=address, encoding=Encoding(data_type, count))


def test_reference_status_group_is_two_reads() -> None:
    regmap = load_map("reference-rack")
    blocks = compile_blocks(regmap.polled("status"))
    assert [(b.table, b.address, b.count) for b in blocks] == [
        (Table.HOLDING, 0, 2),
        (Table.INPUT, 10, 3),
    ]
    values = blocks[1].decode([0b10101, 2, 625])
    assert values == {"status": 0b10101, "fault_code": 2, "actual_load": 62.5}


def test_gaps_tables_and_size_split_blocks() -> None:
    points = [
        point("a", Table.HOLDING, 0, 100),
        point("b", Table.HOLDING, 100, 25),
        point("c", Table.HOLDING, 125, 1),  # would make 126
        point("d", Table.HOLDING, 127, 1),  # gap at 126
        point("e", Table.INPUT, 126, 1),  # other table
    ]
    blocks = compile_blocks(points)
    assert [(b.table, b.address, b.count, [p.name for p in b.points]) for b in blocks] == [
        (Table.HOLDING, 0, 125, ["a", "b"]),
        (Table.HOLDING, 125, 1, ["c"]),
        (Table.HOLDING, 127, 1, ["d"]),
        (Table.INPUT, 126, 1, ["e"]),
    ]


@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(1, 30)), max_size=40), st.integers(1, 125)
)
def test_blocks_cover_every_point_once_within_limits(
    spans: list[tuple[int, int]], limit: int
) -> None:
    points: list[Point] = []
    taken: set[int] = set()
    for index, (address, wanted) in enumerate(spans):
        count = min(wanted, limit)
        cells = set(range(address, address + count))
        if cells & taken:
            continue
        taken |= cells
        points.append(point(f"p{index}", Table.HOLDING, address, count))
    blocks = compile_blocks(points, max_registers=limit)
    covered = [p.name for b in blocks for p in b.points]
    assert sorted(covered) == sorted(p.name for p in points)
    for block in blocks:
        assert block.count <= limit
        # contiguous: the block's registers are exactly its points'
        assert sum(p.count for p in block.points) == block.count


def test_record_reads_split_at_125_registers_and_at_the_ring_end() -> None:
    fifo = load_map("reference-rack").fifo
    assert fifo is not None
    reads = plan_record_reads(fifo, first_seq=990, records=40)
    assert [(r.first_seq, r.records, r.address, r.count) for r in reads] == [
        (990, 10, 102 + 990 * 5, 50),
        (1000, 25, 102, 125),
        (1025, 5, 102 + 25 * 5, 25),
    ]
    assert all(r.count <= 125 for r in reads)
