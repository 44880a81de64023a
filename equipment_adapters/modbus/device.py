"""Map-driven operations on one connected device: read points and blocks, write, identify.

The rack adapter and the conformance check both talk to devices through this, so that
"what a point means" (address, type, swap, scale, limits) is applied in one place.
"""

from __future__ import annotations

from collections.abc import Iterable

from equipment_adapters.errors import IdentityMismatchError
from equipment_adapters.modbus.blocks import ReadBlock, compile_blocks
from equipment_adapters.modbus.codec import decode_point, encode_point
from equipment_adapters.modbus.link import ModbusLink
from equipment_adapters.modbus.regmap import Point, RegisterMap, Table, Value


class MapDevice:
    """A :class:`ModbusLink` seen through a :class:`RegisterMap`."""

    def __init__(self, link: ModbusLink, regmap: RegisterMap) -> None:
        self.link = link
        self.regmap = regmap
        self._blocks: dict[str, tuple[ReadBlock, ...]] = {
            group: compile_blocks(regmap.polled(group), max_registers=regmap.max_block_registers)
            for group in regmap.poll_groups
        }

    def blocks(self, group: str) -> tuple[ReadBlock, ...]:
        """The compiled reads of one poll group."""
        return self._blocks[group]

    async def read_registers(
        self, table: Table, address: int, count: int
    ) -> list[int] | list[bool]:
        return await self.link.read(table, address, count)

    async def read_block(self, block: ReadBlock) -> dict[str, Value]:
        return block.decode(await self.link.read(block.table, block.address, block.count))

    async def read_point(self, point: Point | str) -> Value:
        if isinstance(point, str):
            point = self.regmap.point(point)
        return decode_point(point, await self.link.read(point.table, point.address, point.count))

    async def read_points(self, points: Iterable[Point]) -> dict[str, Value]:
        """Several points in as few reads as the map allows."""
        values: dict[str, Value] = {}
        for block in compile_blocks(points, max_registers=self.regmap.max_block_registers):
            values.update(await self.read_block(block))
        return values

    async def write_point(
        self, point: Point | str, value: Value, *, check_limits: bool = True
    ) -> None:
        """Encode ``value`` as the map says and write it; limits are checked before any I/O."""
        if isinstance(point, str):
            point = self.regmap.point(point)
        payload = encode_point(point, value, check_limits=check_limits)
        await self.link.write(point.table, point.address, payload)

    async def read_identity(self) -> dict[str, Value]:
        return await self.read_points(check.point for check in self.regmap.identity)

    async def check_identity(self) -> dict[str, Value]:
        """Refuse a device that is not the model and map version the map describes."""
        found = await self.read_identity()
        wrong = [
            f"{check.name} is {found[check.name]!r}, expected {check.expected!r}"
            for check in self.regmap.identity
            if found[check.name] != check.expected
        ]
        if wrong:
            raise IdentityMismatchError(
                f"not a {self.regmap.model} (map {self.regmap.name} v{self.regmap.version}): "
                + "; ".join(wrong),
                device_id=self.link.name,
            )
        return found
