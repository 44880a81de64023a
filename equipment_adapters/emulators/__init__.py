"""Emulated equipment for tests, the demo and equipment makers.

Emulators speak the real protocols (a pymodbus server, bumble peripherals) and are driven
by :mod:`equipment_adapters.emulators.athlete`, so the whole loop can be run and judged.
"""
