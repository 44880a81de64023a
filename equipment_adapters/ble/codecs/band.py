"""The gymctl band profile: packed sample batches and the cue command.

The profile is documented for makers in ``docs/band-profile.md``. A sample batch is a
10-byte header followed by ``count`` samples of seven s16 fields; decoding turns the
samples into numpy arrays with one ``np.frombuffer`` call and vectorised scaling (no
per-sample Python work: bands stream at 100-200 Hz per athlete).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from equipment_adapters.ble.codecs._bytes import Reader, Writer
from equipment_adapters.errors import DecodeError

PROFILE_VERSION: Final = 1
HEADER: Final = struct.Struct("<BBHIH")  #: version, count, sequence, t0 (us), period (us)
SAMPLE_DTYPE: Final = np.dtype([("tension", "<i2"), ("accel", "<i2", (3,)), ("gyro", "<i2", (3,))])
TENSION_N_PER_LSB: Final = 0.1
ACCEL_MS2_PER_LSB: Final = 0.01
GYRO_RADS_PER_LSB: Final = 0.001
MAX_SAMPLES: Final = 255


def samples_per_notification(att_mtu: int) -> int:
    """How many samples fit one notification at this ATT MTU (3 bytes of ATT header)."""
    return max(0, min(MAX_SAMPLES, (att_mtu - 3 - HEADER.size) // SAMPLE_DTYPE.itemsize))


@dataclass(frozen=True, slots=True, eq=False)
class BandBatch:
    """Consecutive samples of one band; arrays are float64 in SI units.

    ``sequence`` numbers the first sample (u16, wraps); the next batch starts at
    ``sequence + count`` modulo 2^16, so a gap shows lost samples. ``t0_s`` is the device
    time of the first sample (from a u32 microsecond counter), ``period_s`` the time
    between samples.
    """

    sequence: int
    t0_s: float
    period_s: float
    tension_n: npt.NDArray[np.float64]  #: shape (n,)
    accel_ms2: npt.NDArray[np.float64]  #: shape (n, 3), gravity included
    gyro_rads: npt.NDArray[np.float64]  #: shape (n, 3)
    #: (n, 7) tension, accel, gyro: the arrays above are views of it when decoded
    block: npt.NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.tension_n.shape[0])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BandBatch):
            return NotImplemented
        return (
            (self.sequence, self.t0_s, self.period_s)
            == (other.sequence, other.t0_s, other.period_s)
            and np.array_equal(self.tension_n, other.tension_n)
            and np.array_equal(self.accel_ms2, other.accel_ms2)
            and np.array_equal(self.gyro_rads, other.gyro_rads)
        )

    __hash__ = None  # type: ignore[assignment]

    @property
    def imu(self) -> npt.NDArray[np.float64]:
        """Shape (n, 6): ax, ay, az, gx, gy, gz, the layout of ``Channel.IMU`` (a view
        when decoded, no copy)."""
        if self.block is not None:
            return self.block[:, 1:7]
        return np.concatenate((self.accel_ms2, self.gyro_rads), axis=1)


_PDU = "band samples"


#: LSB of each of a sample's seven s16 fields: tension, accel x3, gyro x3
_SCALE = np.array([TENSION_N_PER_LSB] + [ACCEL_MS2_PER_LSB] * 3 + [GYRO_RADS_PER_LSB] * 3)


def decode_band_samples(payload: bytes | bytearray) -> BandBatch:
    """The hot path: one header unpack, one ``frombuffer``, one vectorised scaling; the
    arrays of the batch are views of one (n, 7) float64 block."""
    size = len(payload)
    if size >= HEADER.size:
        version, count, sequence, t0_us, period_us = HEADER.unpack_from(payload)
        if (
            version == PROFILE_VERSION
            and count
            and period_us
            and size == HEADER.size + count * SAMPLE_DTYPE.itemsize
        ):
            raw = np.frombuffer(payload, dtype="<i2", count=7 * count, offset=HEADER.size)
            block = raw.reshape(count, 7) * _SCALE
            return BandBatch(
                sequence=sequence,
                t0_s=t0_us * 1e-6,
                period_s=period_us * 1e-6,
                tension_n=block[:, 0],
                accel_ms2=block[:, 1:4],
                gyro_rads=block[:, 4:7],
                block=block,
            )
    raise _band_error(payload)


def _at(field: str, offset: int) -> dict[str, Any]:
    return {"field": field, "offset": offset, "pdu": _PDU}


def _band_error(payload: bytes | bytearray) -> DecodeError:
    """Why a payload is not a sample batch, naming the field and byte offset."""
    r = Reader(payload, _PDU)
    try:
        version = r.read("B", "version")
        if version != PROFILE_VERSION:
            return DecodeError(
                f"unsupported profile version {version} (this decoder reads {PROFILE_VERSION})",
                field="version",
                offset=0,
                pdu=_PDU,
            )
        count = r.read("B", "count")
        if count == 0:
            return DecodeError("count is 0: a batch carries 1-255 samples", **_at("count", 1))
        r.read("H", "sequence")
        r.read("I", "t0")
        if r.read("H", "period") == 0:
            return DecodeError("period is 0: samples need a time between them", **_at("period", 8))
    except DecodeError as exc:
        return exc
    body = len(payload) - HEADER.size
    expected = count * SAMPLE_DTYPE.itemsize
    short = body < expected
    whole = body // SAMPLE_DTYPE.itemsize
    return DecodeError(
        f"count says {count} samples ({expected} bytes) but {body} bytes follow"
        + ("" if short else ": trailing bytes"),
        field=f"sample[{whole}]" if short else "end of payload",
        offset=HEADER.size + whole * SAMPLE_DTYPE.itemsize if short else HEADER.size + expected,
        pdu=_PDU,
    )


def _quantise(values: npt.ArrayLike, lsb: float, name: str) -> npt.NDArray[np.int16]:
    scaled = np.rint(np.asarray(values, dtype=np.float64) / lsb)
    if scaled.size and (scaled.min() < -32768 or scaled.max() > 32767):
        raise ValueError(f"band samples: {name} out of range for s16 at {lsb} per LSB")
    return scaled.astype("<i2")


def encode_band_samples(
    sequence: int,
    t0_s: float,
    period_s: float,
    *,
    tension_n: npt.ArrayLike,
    accel_ms2: npt.ArrayLike,
    gyro_rads: npt.ArrayLike,
) -> bytes:
    tension = _quantise(tension_n, TENSION_N_PER_LSB, "tension")
    accel = _quantise(accel_ms2, ACCEL_MS2_PER_LSB, "acceleration").reshape(-1, 3)
    gyro = _quantise(gyro_rads, GYRO_RADS_PER_LSB, "rotation").reshape(-1, 3)
    n = tension.shape[0]
    if accel.shape[0] != n or gyro.shape[0] != n or not 1 <= n <= MAX_SAMPLES:
        raise ValueError("band samples: tension, accel and gyro need the same length 1..255")
    if not 1 <= round(period_s * 1e6) <= 0xFFFF:
        raise ValueError(f"band samples: period {period_s} s is not 1..65535 us")
    out = np.empty(n, dtype=SAMPLE_DTYPE)
    out["tension"], out["accel"], out["gyro"] = tension, accel, gyro
    header = HEADER.pack(
        PROFILE_VERSION,
        n,
        sequence & 0xFFFF,
        round(t0_s * 1e6) & 0xFFFFFFFF,
        round(period_s * 1e6),
    )
    return header + out.tobytes()


# --- Cue -----------------------------------------------------------------------------------

#: LED colours of the cue characteristic, in wire order (the index is the byte).
CUE_COLOURS: Final = ("off", "green", "yellow", "orange", "red", "blue", "white")


@dataclass(frozen=True, slots=True)
class BandCue:
    colour: str = "off"
    haptic_pulses: int = 0
    led_ms: int = 0  #: how long the LED stays lit; 0 = until the next cue


def decode_band_cue(payload: bytes | bytearray) -> BandCue:
    r = Reader(payload, "band cue")
    colour = r.read("B", "colour")
    if colour >= len(CUE_COLOURS):
        raise r.error(f"unknown colour {colour}", "colour", 0)
    pulses = r.read("B", "haptic_pulses")
    led_ms = r.read("H", "led_ms")
    r.end()
    return BandCue(CUE_COLOURS[colour], pulses, led_ms)


def encode_band_cue(cue: BandCue) -> bytes:
    if cue.colour not in CUE_COLOURS:
        raise ValueError(f"band cue: unknown colour {cue.colour!r}")
    w = Writer("band cue")
    w.write("B", CUE_COLOURS.index(cue.colour), "colour")
    w.write("B", cue.haptic_pulses, "haptic_pulses")
    w.write("H", cue.led_ms, "led_ms")
    return w.bytes()


@dataclass(frozen=True, slots=True)
class BandInfo:
    sample_rate_hz: int
    max_tension_n: int
    version: int = PROFILE_VERSION


def decode_band_info(payload: bytes | bytearray) -> BandInfo:
    r = Reader(payload, "band info")
    version = r.read("B", "version")
    rate = r.read("H", "sample_rate")
    tension = r.read("H", "max_tension")
    r.end()
    return BandInfo(rate, tension, version)


def encode_band_info(info: BandInfo) -> bytes:
    w = Writer("band info")
    w.write("B", info.version, "version")
    w.write("H", info.sample_rate_hz, "sample_rate")
    w.write("H", info.max_tension_n, "max_tension")
    return w.bytes()
