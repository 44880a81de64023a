"""Planning reads: contiguous points become block reads, FIFO spans become record reads.

One Modbus transaction per value is the classic way to overload a bus (and a slow RS-485
gateway); a poll group is therefore compiled once into the fewest reads that cover its
points without touching an address the map does not define (a device may answer an
undefined address with exception 2).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from equipment_adapters.modbus.codec import decode_point
from equipment_adapters.modbus.regmap import (
    MAX_READ_BITS,
    MAX_READ_REGISTERS,
    Fifo,
    Point,
    Table,
    Value,
)


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``address``."""

    table: Table
    address: int
    count: int
    points: tuple[Point, ...]

    def decode(self, values: Sequence[int] | Sequence[bool]) -> dict[str, Value]:
        """The engineering value of every point of the block from the block's registers."""
        return {
            p.name: decode_point(p, values[p.address - self.address : p.end - self.address])
            for p in self.points
        }


def compile_blocks(
    points: Iterable[Point], *, max_registers: int = MAX_READ_REGISTERS
) -> tuple[ReadBlock, ...]:
    """The fewest reads covering ``points``: adjacent points of a table share a read.

    Points are merged only when they touch (no gap), and a read never exceeds
    ``max_registers`` registers (2000 bits for coils and discrete inputs).
    """
    blocks: list[ReadBlock] = []
    ordered = sorted(points, key=lambda p: (p.table, p.address))
    current: list[Point] = []
    for point in ordered:
        if current:
            first, last = current[0], current[-1]
            limit = MAX_READ_BITS if point.table.is_bits else max_registers
            if (
                point.table is first.table
                and point.address == last.end
                and point.end - first.address <= limit
            ):
                current.append(point)
                continue
            blocks.append(_block(current))
        current = [point]
    if current:
        blocks.append(_block(current))
    return tuple(blocks)


def _block(points: list[Point]) -> ReadBlock:
    return ReadBlock(
        table=points[0].table,
        address=points[0].address,
        count=points[-1].end - points[0].address,
        points=tuple(points),
    )


@dataclass(frozen=True, slots=True)
class RecordRead:
    """One read of consecutive FIFO records: samples ``first_seq`` .. ``first_seq + n - 1``."""

    first_seq: int
    records: int
    address: int
    count: int  #: registers


def plan_record_reads(
    fifo: Fifo, first_seq: int, records: int, *, max_registers: int = MAX_READ_REGISTERS
) -> list[RecordRead]:
    """Reads that fetch ``records`` samples from ``first_seq`` on, split at the ring's end."""
    if records < 0 or records > fifo.capacity:
        raise ValueError(f"cannot read {records} records from a ring of {fifo.capacity}")
    per_read = max(1, max_registers // fifo.record_registers)
    reads: list[RecordRead] = []
    seq = first_seq
    remaining = records
    while remaining:
        slot = seq % fifo.capacity
        n = min(remaining, per_read, fifo.capacity - slot)
        reads.append(
            RecordRead(
                first_seq=seq,
                records=n,
                address=fifo.address + slot * fifo.record_registers,
                count=n * fifo.record_registers,
            )
        )
        seq += n
        remaining -= n
    return reads
