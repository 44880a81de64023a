"""UUIDs of the services and characteristics gymctl uses, in bleak's 128-bit string form."""

from __future__ import annotations

from typing import Final


def sig(short: int) -> str:
    """The 128-bit form of a Bluetooth SIG 16-bit UUID."""
    return f"0000{short:04x}-0000-1000-8000-00805f9b34fb"


FTMS_SERVICE: Final = sig(0x1826)
FITNESS_MACHINE_FEATURE: Final = sig(0x2ACC)
INDOOR_BIKE_DATA: Final = sig(0x2AD2)
TRAINING_STATUS: Final = sig(0x2AD3)
SUPPORTED_RESISTANCE_LEVEL_RANGE: Final = sig(0x2AD6)
SUPPORTED_POWER_RANGE: Final = sig(0x2AD8)
FTMS_CONTROL_POINT: Final = sig(0x2AD9)
FITNESS_MACHINE_STATUS: Final = sig(0x2ADA)

HEART_RATE_SERVICE: Final = sig(0x180D)
HEART_RATE_MEASUREMENT: Final = sig(0x2A37)

CYCLING_POWER_SERVICE: Final = sig(0x1818)
CYCLING_POWER_MEASUREMENT: Final = sig(0x2A63)
CYCLING_POWER_FEATURE: Final = sig(0x2A65)

CSC_SERVICE: Final = sig(0x1816)
CSC_MEASUREMENT: Final = sig(0x2A5B)

#: The gymctl band profile (docs/band-profile.md): a 128-bit base ending in "gymctl".
BAND_BASE: Final = "6a0e{:04x}-7c4b-4f3a-9d61-67796d63746c"
BAND_SERVICE: Final = BAND_BASE.format(0x0001)
BAND_SAMPLES: Final = BAND_BASE.format(0x0002)
BAND_CUE: Final = BAND_BASE.format(0x0003)
BAND_INFO: Final = BAND_BASE.format(0x0004)
