"""A strength block's motorized-rack mode: optional, complete, within range."""

from __future__ import annotations

import pytest

from plans.errors import PlanValidationError
from plans.plan_io import plan_from_data


def plan(mode: object) -> dict[str, object]:
    block: dict[str, object] = {
        "type": "strength",
        "exercise": "bench_press",
        "sets": 3,
        "reps": {"min": 3, "max": 6},
        "load": {"kind": "percent_1rm", "percent": 75},
    }
    if mode is not None:
        block["mode"] = mode
    return {
        "name": "p",
        "title": "P",
        "goal": "strength",
        "weeks": 1,
        "sessions": [{"name": "a", "blocks": [block]}],
    }


def test_a_block_without_a_mode_leaves_it_to_the_station() -> None:
    block = plan_from_data(plan(None)).sessions[0].blocks[0]
    assert block.type == "strength"
    assert block.mode is None


@pytest.mark.parametrize(
    "mode",
    [
        {"kind": "eccentric", "eccentric_pct": 20},
        {"kind": "chains", "chains_kg_per_m": 15},
        {"kind": "spotter"},
        {"kind": "spotter", "spotter_velocity_ms": 0.3},
        {"kind": "standard"},
    ],
)
def test_rack_modes_validate(mode: dict[str, object]) -> None:
    block = plan_from_data(plan(mode)).sessions[0].blocks[0]
    assert block.mode is not None  # type: ignore[union-attr]
    assert block.mode.kind == mode["kind"]  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("mode", "field", "problem"),
    [
        ({"kind": "eccentric"}, "mode", "eccentric_pct above 0"),
        ({"kind": "chains"}, "mode", "chains_kg_per_m above 0"),
        ({"kind": "eccentric", "eccentric_pct": 150}, "mode.eccentric_pct", "at most 100"),
        ({"kind": "drop_set"}, "mode.kind", "'standard'"),
    ],
)
def test_incomplete_or_wrong_modes_are_named(
    mode: dict[str, object], field: str, problem: str
) -> None:
    with pytest.raises(PlanValidationError) as caught:
        plan_from_data(plan(mode))
    message = str(caught.value)
    assert f"sessions[0].blocks[0].{field}" in message
    assert problem in message
