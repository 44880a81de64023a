"""Errors of device I/O.

Errors of pymodbus, bleak and bumble are mapped to these once, at each transport's boundary;
nothing above ``equipment_adapters`` sees a library's own exception. Cancellation is never
mapped: a cancelled request stays cancelled.
"""

from __future__ import annotations

from kernels.errors import GymctlError, InvalidInputError


class DecodeError(InvalidInputError):
    """A payload that does not decode: names the field and the byte offset."""

    def __init__(self, problem: str, *, field: str, offset: int, pdu: str = "") -> None:
        self.field = field
        self.offset = offset
        self.pdu = pdu
        where = f"{pdu + ' ' if pdu else ''}field {field!r} at byte {offset}"
        super().__init__(problem, where=where)


class DeviceError(GymctlError):
    """Talking to a device failed; ``device_id`` says which one."""

    def __init__(self, message: str, *, device_id: str = "") -> None:
        self.device_id = device_id
        super().__init__(f"{device_id}: {message}" if device_id else message)


class DeviceUnavailableError(DeviceError):
    """The device is not connected (yet, or any more)."""


class DeviceTimeoutError(DeviceError):
    """The device did not answer in time."""


class ProtocolError(DeviceError):
    """The device answered with a protocol-level error (Modbus exception, ATT error, ...)."""

    def __init__(self, message: str, *, code: int, device_id: str = "") -> None:
        self.code = code
        super().__init__(f"{message} (code 0x{code:02X})", device_id=device_id)


class UnsupportedCommandError(DeviceError):
    """The device's capabilities do not include this command."""


class AttError(ProtocolError):
    """A BLE peripheral answered an ATT request with an error response.

    ``code`` is the ATT error code (Core spec Vol 3 Part F 3.4.1.1, and the profile codes
    0xFC-0xFF such as 0xFD "CCCD improperly configured", 0xFE "procedure already in
    progress"); ``name`` its name.
    """

    def __init__(self, message: str, *, code: int, name: str = "", device_id: str = "") -> None:
        self.name = name
        super().__init__(
            f"{message}: ATT error {name}" if name else message, code=code, device_id=device_id
        )


class ControlPointError(ProtocolError):
    """An FTMS control point procedure answered with a result other than success
    (``code`` is the result code: 0x02 not supported, 0x03 invalid parameter, 0x04
    operation failed, 0x05 control not permitted)."""
