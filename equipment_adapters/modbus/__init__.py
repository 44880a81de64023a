"""Modbus equipment: register maps, their codec, the link, and the rack adapter.

A device is described by a register map (TOML or YAML, see ``docs/register-maps.md``);
everything here is driven by it. pymodbus is used only in :mod:`.link`.
"""

from equipment_adapters.modbus.link import Endpoint, ModbusLink, RtuEndpoint, TcpEndpoint
from equipment_adapters.modbus.mapfile import load_map, parse_map, parse_text, shipped_maps
from equipment_adapters.modbus.rack import RackAdapter, RackOptions, RackStats
from equipment_adapters.modbus.rackprofile import RackProfile
from equipment_adapters.modbus.regmap import RegisterMap

__all__ = [
    "Endpoint",
    "ModbusLink",
    "RackAdapter",
    "RackOptions",
    "RackProfile",
    "RackStats",
    "RegisterMap",
    "RtuEndpoint",
    "TcpEndpoint",
    "load_map",
    "parse_map",
    "parse_text",
    "shipped_maps",
]
