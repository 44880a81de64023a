"""Heart Rate Service (HRS 1.0): the Heart Rate Measurement characteristic 0x2A37."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from equipment_adapters.ble.codecs._bytes import Reader, Writer


class SensorContact(enum.StrEnum):
    NOT_SUPPORTED = "not_supported"
    NO_CONTACT = "no_contact"
    CONTACT = "contact"


_CONTACT_BITS = {
    SensorContact.NOT_SUPPORTED: 0b00,
    SensorContact.NO_CONTACT: 0b10,
    SensorContact.CONTACT: 0b11,
}


@dataclass(frozen=True, slots=True)
class HeartRateMeasurement:
    """``rr_intervals`` are raw, in 1/1024 s, oldest first (``rr_ms`` converts them)."""

    heart_rate_bpm: int
    sensor_contact: SensorContact = SensorContact.NOT_SUPPORTED
    energy_expended_kj: int | None = None
    rr_intervals: tuple[int, ...] | None = None

    @property
    def rr_ms(self) -> npt.NDArray[np.float64]:
        """RR intervals in milliseconds (raw x 1000 / 1024)."""
        raw = np.asarray(self.rr_intervals or (), dtype=np.float64)
        return raw * (1000.0 / 1024.0)


_PDU = "heart rate measurement"


def decode_heart_rate(payload: bytes | bytearray) -> HeartRateMeasurement:
    r = Reader(payload, _PDU)
    flags = r.read("B", "flags")
    hr = r.read("H", "heart_rate") if flags & 0x01 else r.read("B", "heart_rate")
    contact_bits = (flags >> 1) & 0b11
    contact = (
        SensorContact.CONTACT
        if contact_bits == 0b11
        else SensorContact.NO_CONTACT
        if contact_bits == 0b10
        else SensorContact.NOT_SUPPORTED
    )
    energy = r.read("H", "energy_expended") if flags & 0x08 else None
    rr: tuple[int, ...] | None = None
    if flags & 0x10:
        if r.remaining % 2:
            raise r.error(
                "RR intervals need 2 bytes each, one byte left over", "rr_interval", len(r.data) - 1
            )
        raw = r.rest()
        rr = tuple(int(v) for v in np.frombuffer(raw, dtype="<u2"))
    r.end()
    return HeartRateMeasurement(hr, contact, energy, rr)


def encode_heart_rate(value: HeartRateMeasurement) -> bytes:
    w = Writer(_PDU)
    wide = value.heart_rate_bpm > 0xFF
    flags = (0x01 if wide else 0) | (_CONTACT_BITS[value.sensor_contact] << 1)
    flags |= 0x08 if value.energy_expended_kj is not None else 0
    flags |= 0x10 if value.rr_intervals is not None else 0
    w.write("B", flags, "flags")
    w.write("H" if wide else "B", value.heart_rate_bpm, "heart_rate")
    if value.energy_expended_kj is not None:
        w.write("H", value.energy_expended_kj, "energy_expended")
    for rr in value.rr_intervals or ():
        w.write("H", rr, "rr_interval")
    return w.bytes()
