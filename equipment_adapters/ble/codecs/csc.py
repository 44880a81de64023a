"""Cycling Speed and Cadence Service (CSCS 1.0): CSC Measurement 0x2A5B, and cadence from
crank revolution counters that wrap."""

from __future__ import annotations

from dataclasses import dataclass

from equipment_adapters.ble.codecs._bytes import Reader, Writer


@dataclass(frozen=True, slots=True)
class CscMeasurement:
    cumulative_wheel_revolutions: int | None = None
    last_wheel_event_time_s: float | None = None  #: 1/1024 s, wraps at 64 s
    cumulative_crank_revolutions: int | None = None
    last_crank_event_time_s: float | None = None  #: 1/1024 s, wraps at 64 s


_PDU = "csc measurement"


def decode_csc(payload: bytes | bytearray) -> CscMeasurement:
    r = Reader(payload, _PDU)
    flags = r.read("B", "flags")
    v: dict[str, object] = {}
    if flags & 0x01:
        v["cumulative_wheel_revolutions"] = r.read("I", "cumulative_wheel_revolutions")
        v["last_wheel_event_time_s"] = r.read("H", "last_wheel_event_time") / 1024
    if flags & 0x02:
        v["cumulative_crank_revolutions"] = r.read("H", "cumulative_crank_revolutions")
        v["last_crank_event_time_s"] = r.read("H", "last_crank_event_time") / 1024
    r.end()
    return CscMeasurement(**v)  # type: ignore[arg-type]


def encode_csc(m: CscMeasurement) -> bytes:
    w = Writer(_PDU)
    wheel = m.cumulative_wheel_revolutions is not None
    crank = m.cumulative_crank_revolutions is not None
    w.write("B", (0x01 if wheel else 0) | (0x02 if crank else 0), "flags")
    if m.cumulative_wheel_revolutions is not None:
        w.write("I", m.cumulative_wheel_revolutions, "cumulative_wheel_revolutions")
        w.write("H", round((m.last_wheel_event_time_s or 0.0) * 1024), "last_wheel_event_time")
    if m.cumulative_crank_revolutions is not None:
        w.write("H", m.cumulative_crank_revolutions, "cumulative_crank_revolutions")
        w.write("H", round((m.last_crank_event_time_s or 0.0) * 1024), "last_crank_event_time")
    return w.bytes()


class CrankCadence:
    """Cadence from successive (revolutions, event time) pairs of a CPS or CSC sensor.

    Both counters are u16 and wrap: deltas are taken modulo 2^16 (time in 1/1024 s).
    A repeated pair means no new crank event; after ``zero_after`` repeats the cadence
    is reported as 0 (the rider stopped), as the CSC specification advises.
    """

    __slots__ = ("_last", "_repeats", "zero_after")

    def __init__(self, zero_after: int = 2) -> None:
        self._last: tuple[int, int] | None = None
        self._repeats = 0
        self.zero_after = zero_after

    def feed(self, revolutions: int, event_time_s: float) -> float | None:
        """The cadence in rpm since the previous event, or None when not yet known."""
        ticks = round(event_time_s * 1024) & 0xFFFF
        revolutions &= 0xFFFF
        last, self._last = self._last, (revolutions, ticks)
        if last is None:
            return None
        d_revs = (revolutions - last[0]) & 0xFFFF
        d_ticks = (ticks - last[1]) & 0xFFFF
        if d_revs == 0 or d_ticks == 0:
            self._repeats += 1
            return 0.0 if self._repeats >= self.zero_after else None
        self._repeats = 0
        return d_revs * 60.0 * 1024.0 / d_ticks
