"""Device I/O of gymctl: codecs, Modbus and BLE transports, adapters and emulators.

This package never imports ``controller``: adapters hand samples and events to callbacks.
"""

from equipment_adapters.base import Adapter, Capabilities, EquipmentKind
from equipment_adapters.batch import Channel, SampleBatch

__all__ = ["Adapter", "Capabilities", "Channel", "EquipmentKind", "SampleBatch"]
