"""One connection to one Modbus device, with pymodbus's errors mapped to gymctl's, once.

pymodbus is used only here. A pymodbus client serialises its requests behind a lock, so
concurrency comes from one link per device, never from gather() on one link. The link does
not reconnect by itself (pymodbus's own reconnect task is off): the adapter's supervisor
decides when to reconnect and how long to back off, and opens a new link.

Errors leave as :class:`~equipment_adapters.errors.DeviceUnavailableError` (not connected),
:class:`~equipment_adapters.errors.DeviceTimeoutError` (no answer in time) and
:class:`~equipment_adapters.errors.ModbusExceptionError` (the device refused). A request
whose task is cancelled raises ``CancelledError``, whatever pymodbus turned it into.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from pymodbus.client import AsyncModbusSerialClient, AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.framer import FramerType

from equipment_adapters.errors import (
    DeviceTimeoutError,
    DeviceUnavailableError,
    ModbusExceptionError,
    ProtocolError,
)
from equipment_adapters.modbus.regmap import Table

_READ_FUNCTION = {Table.COIL: 1, Table.DISCRETE_INPUT: 2, Table.HOLDING: 3, Table.INPUT: 4}


@dataclass(frozen=True, slots=True)
class TcpEndpoint:
    """Modbus TCP: a device or a gateway at ``host``:``port``."""

    host: str
    port: int = 502

    def __str__(self) -> str:
        return f"tcp://{self.host}:{self.port}"


@dataclass(frozen=True, slots=True)
class RtuEndpoint:
    """Modbus RTU on a serial line (RS-485 adapter, or a pseudo-terminal in tests)."""

    port: str
    baudrate: int = 115200
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1

    def __str__(self) -> str:
        return f"rtu://{self.port}@{self.baudrate}"


Endpoint = TcpEndpoint | RtuEndpoint


@dataclass(slots=True)
class LinkStats:
    """Counters of one link, for health pages."""

    requests: int = 0
    failures: int = 0


class ModbusLink:
    """An async context manager holding one connected pymodbus client.

    ``unit_id`` is the Modbus device address (the "slave id"); ``timeout`` the time one
    request may take before it counts as unanswered. Not re-entrant: one ``async with`` at
    a time.
    """

    def __init__(
        self, endpoint: Endpoint, *, unit_id: int = 1, timeout: float = 0.5, name: str = ""
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.endpoint = endpoint
        self.unit_id = unit_id
        self.timeout = timeout
        self.name = name or str(endpoint)
        self.stats = LinkStats()
        self._client: AsyncModbusTcpClient | AsyncModbusSerialClient | None = None

    @property
    def connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    def _make_client(self) -> AsyncModbusTcpClient | AsyncModbusSerialClient:
        common: dict[str, Any] = {
            "timeout": self.timeout,
            "retries": 0,
            "reconnect_delay": 0,
            "name": self.name,
        }
        if isinstance(self.endpoint, TcpEndpoint):
            return AsyncModbusTcpClient(self.endpoint.host, port=self.endpoint.port, **common)
        return AsyncModbusSerialClient(
            self.endpoint.port,
            framer=FramerType.RTU,
            baudrate=self.endpoint.baudrate,
            bytesize=self.endpoint.bytesize,
            parity=self.endpoint.parity,
            stopbits=self.endpoint.stopbits,
            **common,
        )

    async def __aenter__(self) -> Self:
        if self._client is not None:
            raise RuntimeError("ModbusLink is not re-entrant")
        client = self._make_client()
        try:
            connected = await client.connect()
        except BaseException:
            client.close()
            raise
        if not connected:
            client.close()
            raise DeviceUnavailableError(f"cannot connect to {self.endpoint}", device_id=self.name)
        self._client = client
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _call(
        self, function: int, address: int, request: Callable[[], Awaitable[Any]]
    ) -> Any:
        """One request: pymodbus's exceptions translated, a cancelled task kept cancelled."""
        self.stats.requests += 1
        task = asyncio.current_task()
        # Compare with the count at the start: a task may carry a stale count (Python 3.11's
        # TaskGroup can leave one on its parent), and only a new request matters here.
        cancelling = task.cancelling() if task is not None else 0
        try:
            response = await request()
        except ModbusIOException as exc:
            self.stats.failures += 1
            if task is not None and task.cancelling() > cancelling:
                raise asyncio.CancelledError() from exc
            raise DeviceTimeoutError(
                f"no answer to function {function} at address {address} within {self.timeout:g} s",
                device_id=self.name,
            ) from exc
        except ConnectionException as exc:
            self.stats.failures += 1
            if task is not None and task.cancelling() > cancelling:
                raise asyncio.CancelledError() from exc  # pymodbus's lost connection on cancel
            raise DeviceUnavailableError(
                f"connection to {self.endpoint} lost", device_id=self.name
            ) from exc
        except ModbusException as exc:
            self.stats.failures += 1
            raise ProtocolError(f"Modbus error: {exc}", code=0, device_id=self.name) from exc
        if response.isError():
            self.stats.failures += 1
            raise ModbusExceptionError(
                code=int(getattr(response, "exception_code", 0)),
                function=function,
                address=address,
                device_id=self.name,
            )
        return response

    async def read(self, table: Table, address: int, count: int) -> list[int] | list[bool]:
        """``count`` registers (or bits) of ``table`` from ``address``, in one request."""
        client = self._client
        if client is None:
            raise DeviceUnavailableError(f"not connected to {self.endpoint}", device_id=self.name)
        unit = self.unit_id
        if table is Table.HOLDING:
            reader = client.read_holding_registers
        elif table is Table.INPUT:
            reader = client.read_input_registers
        elif table is Table.COIL:
            reader = client.read_coils
        else:
            reader = client.read_discrete_inputs
        response = await self._call(
            _READ_FUNCTION[table], address, lambda: reader(address, count=count, device_id=unit)
        )
        if table.is_bits:
            return [bool(b) for b in response.bits[:count]]
        registers: list[int] = response.registers
        if len(registers) != count:
            raise ProtocolError(
                f"asked for {count} registers at {address}, got {len(registers)}",
                code=0,
                device_id=self.name,
            )
        return registers

    async def write(
        self, table: Table, address: int, values: Sequence[int] | Sequence[bool]
    ) -> None:
        """Write registers (function 6 for one, 16 for more) or coils (5 or 15)."""
        client = self._client
        if client is None:
            raise DeviceUnavailableError(f"not connected to {self.endpoint}", device_id=self.name)
        unit = self.unit_id
        single = len(values) == 1
        if table is Table.HOLDING:
            words = [int(v) for v in values]
            if single:
                await self._call(
                    6, address, lambda: client.write_register(address, words[0], device_id=unit)
                )
            else:
                await self._call(
                    16, address, lambda: client.write_registers(address, words, device_id=unit)
                )
        elif table is Table.COIL:
            bits = [bool(v) for v in values]
            if single:
                await self._call(
                    5, address, lambda: client.write_coil(address, bits[0], device_id=unit)
                )
            else:
                await self._call(
                    15, address, lambda: client.write_coils(address, bits, device_id=unit)
                )
        else:
            raise ValueError(f"a {table} cannot be written")
