"""The FIFO reader's bookkeeping: every sample once, and every loss reported.

The device here is an in-memory ring laid out by the codec exactly as the map says; the
same reader is exercised against the real emulator over TCP and RTU elsewhere.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from equipment_adapters.modbus.codec import encode_raw, encode_records
from equipment_adapters.modbus.fifo import FifoReader
from equipment_adapters.modbus.mapfile import load_map
from equipment_adapters.modbus.regmap import DataType, Encoding, Fifo, Table


class Ring:
    """A device's FIFO memory: sample s holds force s % 3000 and position a ten-thousandth."""

    def __init__(self, fifo: Fifo, *, start: int = 0) -> None:
        self.fifo = fifo
        self.produced = start
        self.registers = [0] * fifo.end
        self.reads = 0

    def produce(self, n: int) -> None:
        seqs = np.arange(self.produced, self.produced + n, dtype=np.float64)
        marks = seqs % 3000
        values = {
            f.name: marks / 1e4 if f.name.startswith("position") else marks
            for f in self.fifo.fields
        }
        values["seq"] = seqs % (1 << (16 * self.fifo.field("seq").encoding.count))
        records = encode_records(values, self.fifo.fields)
        width = self.fifo.record_registers
        for index in range(n):
            slot = (self.produced + index) % self.fifo.capacity
            start = self.fifo.address + slot * width
            self.registers[start : start + width] = records[index].tolist()
        self.produced += n
        counter = self.fifo.sequence
        modulus = 1 << (16 * counter.count)
        self.registers[counter.address : counter.end] = encode_raw(
            self.produced % modulus, counter.encoding
        )

    def restart(self) -> None:
        self.produced = 0
        self.produce(0)

    async def read(self, table: Table, address: int, count: int) -> list[int]:
        assert table is self.fifo.table
        assert count <= 125
        self.reads += 1
        return self.registers[address : address + count]


def reference_fifo() -> Fifo:
    fifo = load_map("reference-rack").fifo
    assert fifo is not None
    return fifo


def with_short_counter(fifo: Fifo) -> Fifo:
    counter = dataclasses.replace(fifo.sequence, encoding=Encoding(DataType.UINT16, 1))
    return dataclasses.replace(fifo, sequence=counter)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 880), min_size=1, max_size=30), st.integers(0, 2**32 - 3000))
async def test_every_sample_once_whatever_the_poll_timing(bursts: list[int], start: int) -> None:
    ring = Ring(reference_fifo(), start=start)
    ring.produce(0)
    reader = FifoReader(ring.fifo)
    first = await reader.poll(ring.read)
    assert first.chunk is None
    delivered: list[np.ndarray] = []
    seqs: list[int] = []
    for burst in bursts:
        ring.produce(burst)
        poll = await reader.poll(ring.read)
        assert poll.jumps == []
        if poll.chunk is not None:
            seqs.append(poll.chunk.first_seq)
            delivered.append(poll.chunk.values["force_left"])
    forces = np.concatenate(delivered) if delivered else np.array([])
    expected = np.arange(start, start + sum(bursts), dtype=np.float64)
    np.testing.assert_allclose(forces, expected % 3000, atol=0.051)
    assert reader.next_seq == start + sum(bursts)


async def test_reads_are_blocks_of_at_most_125_registers() -> None:
    ring = Ring(reference_fifo(), start=990)
    ring.produce(0)
    reader = FifoReader(ring.fifo)
    await reader.poll(ring.read)
    ring.produce(60)
    poll = await reader.poll(ring.read)
    assert poll.chunk is not None
    assert len(poll.chunk) == 60
    # the counter, then 10 records to the ring's end, then 25 + 25
    assert poll.reads == 4


async def test_falling_more_than_a_ring_behind_is_an_overrun() -> None:
    ring = Ring(reference_fifo())
    reader = FifoReader(ring.fifo)
    await reader.poll(ring.read)
    ring.produce(2500)
    poll = await reader.poll(ring.read)
    assert [(j.reason, j.expected, j.received) for j in poll.jumps] == [("overrun", 0, 1600)]
    assert poll.jumps[0].lost == 1600
    assert poll.chunk is not None
    assert (poll.chunk.first_seq, len(poll.chunk)) == (1600, 900)
    ring.produce(10)
    poll = await reader.poll(ring.read)
    assert poll.jumps == []
    assert poll.chunk is not None
    assert poll.chunk.first_seq == 2500


async def test_a_restarted_device_is_a_rewind() -> None:
    ring = Ring(reference_fifo(), start=5000)
    ring.produce(0)
    reader = FifoReader(ring.fifo)
    await reader.poll(ring.read)
    ring.produce(20)
    await reader.poll(ring.read)
    ring.restart()
    ring.produce(30)
    poll = await reader.poll(ring.read)
    assert [(j.reason, j.expected, j.received) for j in poll.jumps] == [("rewind", 5020, 30)]
    assert poll.chunk is None  # the reader restarts at the device's newest sample
    ring.produce(5)
    poll = await reader.poll(ring.read)
    assert poll.chunk is not None
    assert (poll.chunk.first_seq, len(poll.chunk)) == (30, 5)


async def test_a_16_bit_counter_wraps_without_a_jump() -> None:
    ring = Ring(with_short_counter(reference_fifo()), start=65536 - 40)
    ring.produce(0)
    reader = FifoReader(ring.fifo)
    await reader.poll(ring.read)
    total = 0
    for _ in range(4):
        ring.produce(25)
        poll = await reader.poll(ring.read)
        assert poll.jumps == []
        assert poll.chunk is not None
        total += len(poll.chunk)
    assert total == 100
    assert reader.next_seq == 65536 + 60


async def test_a_record_with_the_wrong_seq_stops_the_batch() -> None:
    ring = Ring(reference_fifo())
    reader = FifoReader(ring.fifo)
    await reader.poll(ring.read)
    ring.produce(20)
    # the device wrote record 12 twice (a firmware bug): the 13th record repeats seq 12
    width = ring.fifo.record_registers
    ring.registers[ring.fifo.address + 13 * width] = 12
    poll = await reader.poll(ring.read)
    assert poll.chunk is not None
    assert len(poll.chunk) == 13
    assert [(j.reason, j.expected, j.received) for j in poll.jumps] == [("mismatch", 13, 20)]


async def test_a_device_restarted_during_an_outage_is_a_rewind_even_ahead() -> None:
    ring = Ring(reference_fifo(), start=400)
    ring.produce(0)
    reader = FifoReader(ring.fifo)
    await reader.poll(ring.read, now=100.0)
    # Down for 2 s; the device restarted and has counted 1500 samples since: further
    # than where the reader was, but 2 s at 1 kHz would have taken it to about 2400.
    ring.restart()
    ring.produce(1500)
    poll = await reader.poll(ring.read, now=102.0)
    assert [(j.reason, j.expected, j.received) for j in poll.jumps] == [("rewind", 400, 1500)]
    assert poll.chunk is None


async def test_a_device_that_kept_counting_through_an_outage_is_no_rewind() -> None:
    ring = Ring(reference_fifo(), start=400)
    ring.produce(0)
    reader = FifoReader(ring.fifo)
    await reader.poll(ring.read, now=100.0)
    ring.produce(780)  # 0.8 s at 1 kHz, less a little for the device's slower clock
    poll = await reader.poll(ring.read, now=100.8)
    assert poll.jumps == []
    assert poll.chunk is not None
    assert (poll.chunk.first_seq, len(poll.chunk)) == (400, 780)
