"""Reading a device's sample FIFO so that every sample arrives exactly once.

The reader remembers the sequence number of the next sample it wants. Each poll reads the
device's sequence counter (the number of samples written so far), then exactly the records
in between, in reads of at most ``max_registers`` registers. Reads never change the
device's state, so a lost answer costs a retry, not a sample. What cannot be delivered is
reported as a :class:`SequenceJump`: samples overwritten because the reader fell more than
a ring behind (``overrun``), a counter that went backwards or moved on less than the time
allows because the device restarted (``rewind``), or a record whose own ``seq`` field is
not the expected one (``mismatch``).
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from equipment_adapters.modbus.codec import RecordDecoder
from equipment_adapters.modbus.regmap import MAX_READ_REGISTERS, Fifo, Table

#: A device's counter may fall behind the controller's clock by this share of the time...
RATE_TOLERANCE = 0.1
#: ...plus this much (the request's own latency, scheduling on a busy machine).
LATENCY_ALLOWANCE_S = 0.2

ReadRegisters = Callable[[Table, int, int], Awaitable[list[int] | list[bool]]]


@dataclass(frozen=True, slots=True)
class SequenceJump:
    """Samples ``expected`` .. ``received - 1`` were lost (or the counter moved backwards)."""

    expected: int
    received: int
    reason: str  #: "overrun", "rewind" or "mismatch"

    @property
    def lost(self) -> int:
        """Samples known to be lost (0 for a restart: the new numbering is not comparable)."""
        return 0 if self.reason == "rewind" else max(self.received - self.expected, 0)


@dataclass(frozen=True, slots=True)
class FifoChunk:
    """Consecutive samples ``first_seq`` .. ``first_seq + len - 1``, one array per field."""

    first_seq: int
    values: dict[str, npt.NDArray[np.float64]]

    def __len__(self) -> int:
        return len(next(iter(self.values.values()))) if self.values else 0


@dataclass(slots=True)
class FifoPoll:
    """What one poll brought: the samples (possibly none), jumps, and the reads it took."""

    chunk: FifoChunk | None = None
    jumps: list[SequenceJump] = field(default_factory=list)
    reads: int = 0


class FifoReader:
    """The reading side of a :class:`~equipment_adapters.modbus.regmap.Fifo`.

    Keep one reader per device for the life of the adapter, across reconnections: after a
    short outage the samples still in the ring are read, not lost.
    """

    def __init__(self, fifo: Fifo, *, max_registers: int = MAX_READ_REGISTERS) -> None:
        self.fifo = fifo
        self.max_registers = max_registers
        self.next_seq: int | None = None
        self._counter_bits = 16 * fifo.sequence.count
        self._last_raw: int | None = None
        self._last_time = 0.0
        self._head = 0
        # A reader further behind than this reads slots the device may be overwriting.
        self._usable = fifo.capacity - max(1, fifo.capacity // 10)
        seq_field = fifo.seq_field
        self._seq_mask = (1 << (16 * seq_field.encoding.count)) - 1 if seq_field else 0
        self._decoder = RecordDecoder(fifo.fields)
        self._steps = np.arange(fifo.capacity, dtype=np.int64)
        plain = seq_field is not None and seq_field.encoding.count == 1
        plain = plain and seq_field is not None and not seq_field.encoding.swap.swaps_bytes
        self._seq_word = seq_field.offset if plain and seq_field is not None else None
        self._capacity = fifo.capacity
        self._width = fifo.record_registers
        self._address = fifo.address
        self._per_read = max(1, max_registers // fifo.record_registers)
        counter = fifo.sequence.encoding
        self._counter_order = (counter.swap.swaps_words, counter.swap.swaps_bytes)
        self._counter_table = fifo.table
        self._counter_address = fifo.sequence.address
        self._counter_count = fifo.sequence.count
        #: a counter in big-endian words, as most devices have it: decoded without a loop
        self._counter_plain = not (counter.swap.swaps_words or counter.swap.swaps_bytes)

    def reset(self) -> None:
        """Forget the position: the next poll starts at the device's newest sample."""
        self.next_seq = None
        self._last_raw = None

    def _unwrap(self, raw: int, asked: float, answered: float) -> tuple[int, bool]:
        """The counter as an ever-growing number; True when the device started counting again.

        A counter that went backwards is a restart; so is one that moved on less than the
        time since the last poll allows (a device that restarted during an outage and has
        already counted past where the reader was): a device's samples come at its rate.
        The time between the counter's two readings is at least the time from the last
        answer to this request (requests queued on the link only make it longer).
        """
        if self._last_raw is None:
            self._last_raw, self._last_time, self._head = raw, answered, raw
            return raw, False
        modulus = 1 << self._counter_bits
        forward = (raw - self._last_raw) % modulus
        elapsed = max(asked - self._last_time, 0.0)
        rate = self.fifo.rate_hz
        least = rate * elapsed * (1.0 - RATE_TOLERANCE) - rate * LATENCY_ALLOWANCE_S
        self._last_raw, self._last_time = raw, answered
        if forward < modulus // 2 and forward >= least:
            self._head += forward
            return self._head, False
        self._head = raw
        return raw, True

    async def poll(self, read: ReadRegisters, *, now: float | None = None) -> FifoPoll:
        """Read the counter and every new record; decode them into one chunk.

        ``now`` is the monotonic time of the counter's reading (default: the clock before
        the request and after the answer).
        """
        result = FifoPoll()
        asked = time.monotonic() if now is None else now
        counter = await read(self._counter_table, self._counter_address, self._counter_count)
        answered = time.monotonic() if now is None else now
        result.reads += 1
        raw = self._counter_value(counter)
        head, rewound = self._unwrap(raw, asked, answered)
        if self.next_seq is None:
            self.next_seq = head
        if rewound:
            result.jumps.append(SequenceJump(self.next_seq, head, "rewind"))
            self.next_seq = head
        start = self.next_seq
        if head - start > self._usable:
            skip_to = head - self._usable
            result.jumps.append(SequenceJump(start, skip_to, "overrun"))
            start = skip_to
        records = head - start
        if records <= 0:
            self.next_seq = start
            return result
        # The record reads: at most max_registers each, split where the ring wraps.
        parts: list[list[int] | list[bool]] = []
        seq, remaining = start, records
        while remaining:
            slot = seq % self._capacity
            n = min(remaining, self._per_read, self._capacity - slot)
            parts.append(
                await read(self.fifo.table, self._address + slot * self._width, n * self._width)
            )
            result.reads += 1
            seq += n
            remaining -= n
        flat = parts[0] if len(parts) == 1 else list(itertools.chain.from_iterable(parts))
        delivered = records
        if self._seq_mask:
            delivered = self._check_numbers(flat, start, records)
            if delivered < records:
                result.jumps.append(SequenceJump(start + delivered, head, "mismatch"))
                flat = flat[: delivered * self._width]
        self.next_seq = head
        if delivered:
            result.chunk = FifoChunk(
                first_seq=start, values=self._decoder.decode_registers(flat, skip="seq")
            )
        return result

    def _check_numbers(self, flat: list[int] | list[bool], start: int, records: int) -> int:
        """How many records, from the first, carry the numbers they should."""
        if self._seq_word is not None:
            # One plain register: compare the register values with the numbers they should
            # hold as lists (C-level slicing, ranges and comparison; no array needed).
            numbers = flat[self._seq_word :: self._width]
            modulus = self._seq_mask + 1
            first = start & self._seq_mask
            if first + records <= modulus:
                expected = list(range(first, first + records))
            else:
                expected = list(range(first, modulus)) + list(range(first + records - modulus))
            if numbers == expected:
                return records
            return next(
                i
                for i, (got, want) in enumerate(zip(numbers, expected, strict=True))
                if got != want
            )
        table = self._decoder.table(flat)
        seqs = self._decoder.raw(table, "seq")
        wanted = (self._steps[:records] + start) & self._seq_mask
        if np.array_equal(seqs, wanted):
            return records
        return int(np.flatnonzero(seqs != wanted)[0])

    def _counter_value(self, registers: list[int] | list[bool]) -> int:
        """The unsigned counter from its registers (validated uint16 or uint32)."""
        if self._counter_plain and len(registers) == 2:
            return (int(registers[0]) << 16) | int(registers[1])
        words, swap_bytes = self._counter_order
        regs = [int(r) for r in registers]
        if words:
            regs.reverse()
        value = 0
        for reg in regs:
            word = ((reg & 0xFF) << 8) | (reg >> 8) if swap_bytes else reg
            value = (value << 16) | word
        return value

    def records_per_poll(self, interval: float) -> int:
        """Samples expected in one poll at ``interval`` seconds (for sizing and checks)."""
        return math.ceil(interval * self.fifo.rate_hz)
