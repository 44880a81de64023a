"""Byte-exact codecs of the BLE characteristics gymctl speaks (pure, no I/O).

Every ``decode_*`` takes any byte string and returns a frozen value or raises
:class:`~equipment_adapters.errors.DecodeError` naming the field and byte offset; every
``encode_*`` is its inverse.
"""
