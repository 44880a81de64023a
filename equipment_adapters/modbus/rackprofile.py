"""What makes a register map a rack: the point names the rack adapter and emulator use.

A maker's map may put every value anywhere, in any type, order and scale; what it must keep
are the names below, so that one adapter drives every rack. The names and their meaning
are documented for makers in ``docs/register-maps.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from equipment_adapters.base import (
    Capabilities,
    CueColour,
    EquipmentKind,
    LoadRange,
    LoadUnit,
    ModeKind,
)
from equipment_adapters.batch import Channel
from equipment_adapters.errors import RegisterMapError
from equipment_adapters.modbus.regmap import Point, RegisterMap, Table

# Point names of the rack profile.
STATUS = "status"
FAULT_CODE = "fault_code"
ACTUAL_LOAD = "actual_load"
TARGET_LOAD = "target_load"
MODE = "mode"
ECCENTRIC_PCT = "eccentric_pct"
CHAINS = "chains_kg_per_m"
SPOTTER = "spotter"
SPOTTER_THRESHOLD = "spotter_threshold"
RAMP_RATE = "ramp_rate"
WATCHDOG_TIMEOUT = "watchdog_timeout"
HEARTBEAT = "heartbeat"
FAULT_RESET = "fault_reset"
ESTOP = "estop"
CUE_COLOUR = "cue_colour"
CUE_NUMBER = "cue_number"
CUE_TEXT = "cue_text"

#: Status bits: the first two are required.
BIT_FAULT = "fault"
BIT_ESTOP = "estop"
BIT_MOTOR_ENABLED = "motor_enabled"
BIT_CABLE_UNLOADED = "cable_unloaded"
BIT_WATCHDOG_ARMED = "watchdog_armed"

#: Identity values every rack map declares.
IDENTITY_MODEL = "model_id"
IDENTITY_VERSION = "map_version"

#: The points a device refuses to change while a fault is latched.
ACTUATOR_POINTS = (TARGET_LOAD, MODE, ECCENTRIC_PCT, CHAINS, SPOTTER, SPOTTER_THRESHOLD, RAMP_RATE)

#: FIFO field names and the channel each becomes.
FIFO_CHANNELS: dict[str, Channel] = {
    "position": Channel.POSITION,
    "position_left": Channel.POSITION_LEFT,
    "position_right": Channel.POSITION_RIGHT,
    "force": Channel.FORCE,
    "force_left": Channel.FORCE_LEFT,
    "force_right": Channel.FORCE_RIGHT,
}

_UNITS = {
    TARGET_LOAD: "kg",
    ACTUAL_LOAD: "kg",
    ECCENTRIC_PCT: "%",
    CHAINS: "kg/m",
    SPOTTER_THRESHOLD: "m/s",
    RAMP_RATE: "kg/s",
    WATCHDOG_TIMEOUT: "s",
}
_MODE_OPTIONS = {ModeKind.STANDARD.value, ModeKind.ECCENTRIC.value, ModeKind.CHAINS.value}
_FIFO_UNITS = {"position": "m", "force": "N"}


@dataclass(frozen=True, slots=True)
class RackProfile:
    """A register map checked against the rack profile, with its roles looked up once."""

    regmap: RegisterMap
    sides: int
    channels: dict[str, Channel]  #: FIFO field name -> channel

    @classmethod
    def from_map(cls, regmap: RegisterMap) -> RackProfile:
        """Check ``regmap`` has what a rack needs; errors name the point and the field."""

        def error(
            problem: str, point: str | None = None, field: str | None = None
        ) -> RegisterMapError:
            return RegisterMapError(problem, source=regmap.source, point=point, field=field)

        if regmap.kind != "rack":
            raise error(f'kind is {regmap.kind!r}; a rack map says kind = "rack"', field="map.kind")
        names = {check.name for check in regmap.identity}
        for required in (IDENTITY_MODEL, IDENTITY_VERSION):
            if required not in names:
                raise error(
                    "a rack map identifies its model and map version", field=f"identity.{required}"
                )
        fifo = regmap.fifo
        if fifo is None:
            raise error("a rack streams positions through a [fifo]", field="fifo")
        channels: dict[str, Channel] = {}
        for fifo_field in fifo.value_fields:
            channel = FIFO_CHANNELS.get(fifo_field.name)
            if channel is None:
                known = ", ".join(FIFO_CHANNELS)
                raise error(
                    f"unknown FIFO field {fifo_field.name!r} (rack fields: {known}, seq)",
                    field="fifo.fields",
                )
            unit = _FIFO_UNITS[fifo_field.name.split("_")[0]]
            if fifo_field.unit != unit:
                raise error(
                    f"FIFO field {fifo_field.name!r} must be in {unit} "
                    "(scale converts the raw value)",
                    field="fifo.fields.unit",
                )
            channels[fifo_field.name] = channel
        if "position" in channels:
            if any(name.endswith(("_left", "_right")) for name in channels):
                raise error(
                    "a rack is one-sided (position) or two-sided (position_left/right), not both",
                    field="fifo.fields",
                )
            sides = 1
        elif "position_left" in channels and "position_right" in channels:
            sides = 2
            if ("force_left" in channels) != ("force_right" in channels):
                raise error("a two-sided rack has both forces or neither", field="fifo.fields")
        else:
            raise error(
                "the FIFO needs position, or position_left and position_right", field="fifo.fields"
            )
        if sides == 1 and "force_left" in channels:
            raise error("a one-sided rack's force field is named force", field="fifo.fields")
        if STATUS not in regmap.points:
            raise error("a rack reports its state in a status word", point=STATUS)
        status = regmap.points[STATUS]
        for bit in (BIT_FAULT, BIT_ESTOP):
            if bit not in status.bits:
                raise error(f"the status word needs a {bit!r} bit", point=STATUS, field="bits")
        if status.poll is None:
            raise error("the status word must be polled", point=STATUS, field="poll")
        for name, unit in _UNITS.items():
            point = regmap.points.get(name)
            if point is not None and point.unit != unit:
                raise error(f"must be in {unit} (use scale to convert)", point=name, field="unit")
        if TARGET_LOAD in regmap.points:
            target = regmap.points[TARGET_LOAD]
            if not target.writable or target.min_value is None or target.max_value is None:
                raise error(
                    "the target load is read_write with min_value and max_value",
                    point=TARGET_LOAD,
                    field="access",
                )
            if target.safe_value is None:
                raise error(
                    "the target load needs a safe_value (normally 0)",
                    point=TARGET_LOAD,
                    field="safe_value",
                )
            for required in (HEARTBEAT, WATCHDOG_TIMEOUT, FAULT_RESET):
                if required not in regmap.points:
                    raise error(
                        "a rack with an actuator needs a heartbeat, a watchdog timeout "
                        "and a fault reset",
                        point=required,
                    )
                if not regmap.points[required].writable:
                    raise error("must be read_write", point=required, field="access")
        for name in (
            *ACTUATOR_POINTS,
            HEARTBEAT,
            FAULT_RESET,
            ESTOP,
            CUE_COLOUR,
            CUE_NUMBER,
            CUE_TEXT,
            WATCHDOG_TIMEOUT,
        ):
            point = regmap.points.get(name)
            if point is not None and not point.writable:
                raise error("must be read_write", point=name, field="access")
        if MODE in regmap.points:
            mode = regmap.points[MODE]
            unknown = set(mode.options) - _MODE_OPTIONS
            if not mode.options or ModeKind.STANDARD.value not in mode.options or unknown:
                raise error(
                    "options are named standard, eccentric, chains (standard required)",
                    point=MODE,
                    field="options",
                )
            if ModeKind.ECCENTRIC.value in mode.options and ECCENTRIC_PCT not in regmap.points:
                raise error("an eccentric mode needs its percentage", point=ECCENTRIC_PCT)
            if ModeKind.CHAINS.value in mode.options and CHAINS not in regmap.points:
                raise error("a chains mode needs its kg per m", point=CHAINS)
        if CUE_COLOUR in regmap.points:
            colours = {c.value for c in CueColour}
            unknown = set(regmap.points[CUE_COLOUR].options) - colours
            if unknown or not regmap.points[CUE_COLOUR].options:
                raise error(
                    f"options are colour names ({', '.join(sorted(colours))})",
                    point=CUE_COLOUR,
                    field="options",
                )
        if SPOTTER in regmap.points and SPOTTER_THRESHOLD not in regmap.points:
            raise error("a spotter needs its velocity threshold", point=SPOTTER_THRESHOLD)
        for name in (FAULT_RESET, ESTOP, SPOTTER, HEARTBEAT):
            point = regmap.points.get(name)
            if point is not None and point.table is Table.INPUT:
                raise error("must be a holding register or a coil", point=name, field="input_type")
        return cls(regmap=regmap, sides=sides, channels=channels)

    def get(self, name: str) -> Point | None:
        return self.regmap.points.get(name)

    @property
    def actuated(self) -> bool:
        return TARGET_LOAD in self.regmap.points

    def capabilities(self) -> Capabilities:
        regmap = self.regmap
        load: LoadRange | None = None
        target = self.get(TARGET_LOAD)
        if target is not None and target.min_value is not None and target.max_value is not None:
            ramp = self.get(RAMP_RATE)
            if ramp is not None and isinstance(ramp.initial_value, int | float):
                max_increase = float(ramp.initial_value)
            elif ramp is not None and ramp.max_value is not None:
                max_increase = ramp.max_value
            else:
                max_increase = target.max_value
            load = LoadRange(
                unit=LoadUnit.KG,
                minimum=target.min_value,
                maximum=target.max_value,
                increment=abs(target.encoding.scale) if target.data_type.is_integer else 0.0,
                max_increase_per_s=max_increase,
            )
        modes: set[ModeKind] = set()
        mode = self.get(MODE)
        if mode is not None:
            modes.update(ModeKind(name) for name in mode.options)
        elif target is not None:
            modes.add(ModeKind.STANDARD)
        if self.get(SPOTTER) is not None:
            modes.add(ModeKind.SPOTTER)
        return Capabilities(
            kind=EquipmentKind.RACK,
            model=regmap.model,
            channels=frozenset(self.channels.values()),
            load=load,
            modes=frozenset(modes),
            cue_display=any(self.get(n) is not None for n in (CUE_COLOUR, CUE_NUMBER, CUE_TEXT)),
            sides=self.sides,
            details={"map": regmap.name, "map_version": str(regmap.version)},
        )
