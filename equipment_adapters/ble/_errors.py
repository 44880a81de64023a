"""The one boundary where bleak's and bumble's exceptions become gymctl's.

Cancellation passes through untouched; a bleak ATT error keeps its code in
:class:`~equipment_adapters.errors.AttError`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from bleak.exc import BleakDeviceNotFoundError, BleakError, BleakGATTProtocolError

from equipment_adapters.errors import (
    AttError,
    DeviceError,
    DeviceTimeoutError,
    DeviceUnavailableError,
)


@contextlib.contextmanager
def ble_errors(device_id: str, doing: str) -> Iterator[None]:
    """Map bleak/bumble failures while ``doing`` something to the project's errors."""
    try:
        yield
    except BleakGATTProtocolError as exc:
        code = int(exc.code)
        name = getattr(exc.code, "name", f"0x{code:02X}")
        raise AttError(doing, code=code, name=name, device_id=device_id) from exc
    except BleakDeviceNotFoundError as exc:
        raise DeviceUnavailableError(f"{doing}: device not found", device_id=device_id) from exc
    except TimeoutError as exc:
        raise DeviceTimeoutError(f"{doing}: timed out", device_id=device_id) from exc
    except BleakError as exc:
        raise DeviceUnavailableError(f"{doing}: {exc}", device_id=device_id) from exc
    except (OSError, EOFError) as exc:
        raise DeviceError(f"{doing}: {exc}", device_id=device_id) from exc
