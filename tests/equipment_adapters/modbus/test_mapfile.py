"""Map files: the shipped map loads, every mistake is named by point and field."""

from __future__ import annotations

import copy
import importlib.resources
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from equipment_adapters.errors import RegisterMapError
from equipment_adapters.modbus.mapfile import load_map, parse_map, shipped_maps
from equipment_adapters.modbus.rackprofile import RackProfile
from equipment_adapters.modbus.regmap import DataType, Swap, Table
from kernels.errors import InvalidInputError


def reference() -> dict[str, Any]:
    text = (
        importlib.resources.files("equipment_adapters.modbus.maps") / "reference-rack.toml"
    ).read_text()
    return tomllib.loads(text)


def test_the_reference_rack_map_is_shipped_and_complete() -> None:
    assert "reference-rack" in shipped_maps()
    regmap = load_map("reference-rack")
    assert regmap.kind == "rack"
    assert [c.name for c in regmap.identity] == ["model_id", "map_version"]
    target = regmap.point("target_load")
    assert (target.table, target.address, target.encoding.scale, target.unit) == (
        Table.HOLDING,
        0,
        0.1,
        "kg",
    )
    assert regmap.point("status").bits["estop"] == 2
    assert regmap.point("cue_text").data_type is DataType.STRING
    fifo = regmap.fifo
    assert fifo is not None
    assert (fifo.rate_hz, fifo.capacity, fifo.record_registers) == (1000, 1000, 5)
    assert fifo.seq_field is not None
    profile = RackProfile.from_map(regmap)
    assert profile.sides == 2
    capabilities = profile.capabilities()
    assert capabilities.load is not None
    assert capabilities.load.maximum == 220
    assert capabilities.cue_display


def test_yaml_and_toml_give_the_same_map(tmp_path: Path) -> None:
    path = tmp_path / "rack.yaml"
    path.write_text(yaml.safe_dump(reference(), sort_keys=False), encoding="utf-8")
    from_yaml = load_map(path)
    from_toml = load_map("reference-rack")
    assert from_yaml.points == from_toml.points
    assert from_yaml.fifo == from_toml.fifo
    assert from_yaml.identity == from_toml.identity


def bad(mutate: Any) -> str:
    data = copy.deepcopy(reference())
    mutate(data)
    with pytest.raises(RegisterMapError) as info:
        RackProfile.from_map(parse_map(data, source="rack.toml"))
    assert isinstance(info.value, InvalidInputError)
    return str(info.value)


def set_(path: str, value: Any) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value

    return mutate


def delete(path: str) -> Any:
    def mutate(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = data
        for key in parents:
            node = node[key]
        del node[last]

    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            set_("points.target_load.adress", 3),
            "point 'target_load', field 'adress': unknown field (did you mean 'address'?)",
        ),
        (
            set_("points.target_load.data_type", "uint17"),
            "point 'target_load', field 'data_type': 'uint17' is not one of",
        ),
        (
            set_("points.target_load.input_type", "register"),
            "field 'input_type': 'register' is not one of",
        ),
        (
            set_("points.target_load.max_value", 7000),
            "point 'target_load', field 'max_value': 7000.0 does not fit in uint16 at scale 0.1",
        ),
        (
            set_("points.target_load.min_value", 300),
            "field 'min_value': min_value 300.0 is above max_value 220.0",
        ),
        (
            set_("points.target_load.safe_value", 500),
            "point 'target_load', field 'safe_value': 500.0 is above max_value",
        ),
        (
            set_("points.target_load.swap", "word"),
            "point 'target_load', field 'swap': a 1-register value has no word order",
        ),
        (
            set_("points.target_load.count", 2),
            "point 'target_load', field 'count': a uint16 occupies 1 register(s), not 2",
        ),
        (set_("points.target_load.scale", 0), "point 'target_load', field 'scale': must not be 0"),
        (
            set_("points.target_load.poll", "fast"),
            "point 'target_load', field 'poll': no poll group 'fast'",
        ),
        (set_("points.target_load.address", 70000), "field 'address': 70000 is out of range"),
        (
            set_("points.actual_load.access", "read_write"),
            "point 'actual_load', field 'access': a input cannot be written",
        ),
        (
            set_("points.mode.safe_value", "turbo"),
            "point 'mode', field 'safe_value': 'turbo' is not an option",
        ),
        (
            set_("points.mode.options", {"standard": 0, "eccentric": 0}),
            "point 'mode', field 'options': eccentric and standard both have the value 0",
        ),
        (
            set_("points.status.bits", {"fault": 16}),
            "point 'status', field 'bits': fault = 16 must be an integer in 0..15",
        ),
        (
            set_("points.cue_text.count", 200),
            "point 'cue_text', field 'count': 200 is out of range",
        ),
        (
            set_("points.mode.address", 0),
            "point 'mode', field 'address': holding 0 overlaps point 'target_load'",
        ),
        (set_("points.actual_load.unit", "lb"), "point 'actual_load', field 'unit': must be in kg"),
        (set_("points.mode.options", {"standard": 0, "turbo": 1}), "point 'mode', field 'options'"),
        (delete("points.heartbeat"), "point 'heartbeat'"),
        (delete("points.target_load.safe_value"), "point 'target_load', field 'safe_value'"),
        (set_("fifo.capacity", 30), "field 'fifo.capacity': 30 records last less than two ticks"),
        (set_("fifo.capacity", 20000), "field 'fifo.capacity': 20000 records of 5 registers"),
        (
            set_("fifo.sequence", {"address": 100, "data_type": "int16"}),
            "field 'fifo.sequence.data_type': the sequence counter must be uint16 or uint32",
        ),
        (set_("fifo.poll", "nope"), "field 'fifo.poll': no poll group 'nope'"),
        (set_("fifo.fields", []), "field 'fifo.fields': must be a non-empty list"),
        (
            set_("identity.model_id.value", -1),
            "point 'model_id', field 'value': must be an integer that fits in uint16",
        ),
        (delete("identity.map_version"), "field 'identity.map_version': a rack map identifies"),
        (set_("map.version", "one"), "field 'map.version': must be an integer"),
        (
            set_("map.max_block_registers", 200),
            "field 'map.max_block_registers': 200 is out of range (1..125)",
        ),
        (set_("poll.fifo.scan_interval", 0), "field 'poll.fifo.scan_interval': 0.0 s is outside"),
        (set_("map.kind", "bike"), "field 'map.kind'"),
    ],
)
def test_errors_name_the_point_and_the_field(mutate: Any, message: str) -> None:
    assert message in bad(mutate)


def test_fifo_field_errors_name_the_field_index() -> None:
    def mutate(data: dict[str, Any]) -> None:
        data["fifo"]["fields"][2]["data_type"] = "bool"

    assert "field 'fifo.fields[2].data_type': bool is for coils" in bad(mutate)


def test_syntax_errors_and_missing_files(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[map\nname = 1\n", encoding="utf-8")
    with pytest.raises(RegisterMapError, match=r"broken.toml: not valid TOML"):
        load_map(broken)
    for name, text in (("deep.toml", "x = " + "[" * 5000), ("deep.yaml", "x: " + "[" * 5000)):
        deep = tmp_path / name
        deep.write_text(text, encoding="utf-8")
        with pytest.raises(RegisterMapError, match=rf"{name}: not valid .*: nested too deeply"):
            load_map(deep)
    with pytest.raises(
        RegisterMapError, match=r"no such file, nor a shipped map \(shipped: reference-rack"
    ):
        load_map(tmp_path / "missing.toml")


def test_a_coil_point_and_a_float_point() -> None:
    data = reference()
    data["points"]["light"] = {
        "address": 5,
        "input_type": "coil",
        "access": "read_write",
        "safe_value": False,
    }
    data["points"]["temperature"] = {
        "address": 6000,
        "input_type": "input",
        "data_type": "float32",
        "swap": "word_byte",
        "unit": "C",
    }
    regmap = parse_map(data, source="rack.toml")
    assert regmap.point("light").data_type is DataType.BOOL
    assert regmap.point("temperature").encoding.swap is Swap.WORD_BYTE
    data["points"]["light"]["data_type"] = "uint16"
    with pytest.raises(
        RegisterMapError, match="point 'light', field 'data_type': a coil holds bits"
    ):
        parse_map(data, source="rack.toml")
