"""Errors of device I/O.

Errors of pymodbus, bleak and bumble are mapped to these once, at each transport's boundary;
nothing above ``equipment_adapters`` sees a library's own exception. Cancellation is never
mapped: a cancelled request stays cancelled.
"""

from __future__ import annotations

from typing import ClassVar

from kernels.errors import GymctlError, InvalidInputError


class DecodeError(InvalidInputError):
    """A payload that does not decode: names the field and the byte offset."""

    def __init__(self, problem: str, *, field: str, offset: int, pdu: str = "") -> None:
        self.field = field
        self.offset = offset
        self.pdu = pdu
        where = f"{pdu + ' ' if pdu else ''}field {field!r} at byte {offset}"
        super().__init__(problem, where=where)


class RegisterMapError(InvalidInputError):
    """A register map that cannot be used: names the map, the point and the field."""

    def __init__(
        self, problem: str, *, source: str, point: str | None = None, field: str | None = None
    ) -> None:
        self.source = source
        self.point = point
        self.field = field
        parts = [source]
        if point is not None:
            parts.append(f"point {point!r}")
        if field is not None:
            parts.append(f"field {field!r}")
        super().__init__(problem, where=", ".join(parts))


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


class ModbusExceptionError(ProtocolError):
    """A Modbus exception response: the device understood the request and refused it.

    ``code`` is the Modbus exception code (2 illegal address, 3 illegal value, 4 device
    failure, 6 busy, ...), ``function`` the request's function code and ``address`` the first
    register or bit of the request.
    """

    NAMES: ClassVar[dict[int, str]] = {
        1: "illegal function",
        2: "illegal data address",
        3: "illegal data value",
        4: "server device failure",
        5: "acknowledge",
        6: "server device busy",
        8: "memory parity error",
        10: "gateway path unavailable",
        11: "gateway target failed to respond",
    }

    def __init__(self, *, code: int, function: int, address: int, device_id: str = "") -> None:
        self.function = function
        self.address = address
        name = self.NAMES.get(code, "unknown exception")
        super().__init__(
            f"Modbus exception {name} to function {function} at address {address}",
            code=code,
            device_id=device_id,
        )


class IdentityMismatchError(DeviceError):
    """The device does not identify as the model and map version its register map names.

    Raised before any write: a controller never writes actuator registers of a device it
    has not recognised.
    """


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
