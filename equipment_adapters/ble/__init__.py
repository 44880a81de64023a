"""BLE equipment: codecs, a bleak backend on bumble, and adapters for bikes (FTMS),
heart-rate straps, power meters, speed/cadence sensors and gymctl bands.

Adapters use bleak and take a :class:`BleBackend`: ``PLATFORM_BACKEND`` for real radios,
``VirtualAir(...).backend`` for emulated peripherals.
"""

from equipment_adapters.ble._session import Backoff, DeviceMatch, LinkOptions, find_device
from equipment_adapters.ble.band import BandAdapter
from equipment_adapters.ble.bumble_backend import PLATFORM_BACKEND, BleBackend, VirtualAir
from equipment_adapters.ble.cycling import PowerMeterAdapter, SpeedCadenceAdapter
from equipment_adapters.ble.ftms_bike import FtmsBikeAdapter
from equipment_adapters.ble.hr_strap import HrStrapAdapter

__all__ = [
    "PLATFORM_BACKEND",
    "Backoff",
    "BandAdapter",
    "BleBackend",
    "DeviceMatch",
    "FtmsBikeAdapter",
    "HrStrapAdapter",
    "LinkOptions",
    "PowerMeterAdapter",
    "SpeedCadenceAdapter",
    "VirtualAir",
    "find_device",
]
