from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from plans.errors import PlanValidationError
from plans.exercises import builtin_catalogue
from plans.model import Plan, StrengthBlock, VelocityZone
from plans.plan_io import (
    Format,
    builtin_plan,
    builtin_plans,
    dump_plan,
    load_plan,
    parse_plan,
    plan_from_data,
    plan_to_data,
)

MINIMAL = {
    "name": "mini",
    "title": "Minimal",
    "goal": "strength",
    "weeks": 2,
    "sessions": [
        {
            "name": "a",
            "blocks": [
                {
                    "type": "strength",
                    "exercise": "back_squat",
                    "sets": 3,
                    "reps": {"min": 3, "max": 5},
                    "load": {"kind": "percent_1rm", "percent": 80},
                }
            ],
        }
    ],
}


def test_library_has_the_programmes_the_issue_lists() -> None:
    plans = builtin_plans()
    assert len(plans) >= 5
    goals = {p.goal for p in plans.values()}
    assert {
        "strength",
        "hypertrophy",
        "power",
        "endurance",
        "intervals",
        "return_to_training",
    } <= goals
    strength = builtin_plan("vbt-strength")
    vls = {
        b.velocity_loss_stop_pct
        for s in strength.sessions
        for b in s.blocks
        if isinstance(b, StrengthBlock)
    }
    assert vls <= {10.0, 15.0, 20.0}
    hypertrophy = builtin_plan("hypertrophy")
    assert all(
        isinstance(b, StrengthBlock) and 30 <= (b.velocity_loss_stop_pct or 0) <= 40
        for s in hypertrophy.sessions
        for b in s.blocks
    )
    assert builtin_plan("hrv-guided-intervals").session("intervals-4x4").fallback == "easy-zone2"
    assert builtin_plan("return-to-training").caps is not None


@pytest.mark.parametrize("name", sorted(builtin_plans()))
@pytest.mark.parametrize("fmt", list(Format))
def test_round_trip_of_every_builtin_plan(name: str, fmt: Format) -> None:
    plan = builtin_plan(name)
    text = dump_plan(plan, fmt)
    again = parse_plan(text, fmt)
    assert again == plan
    assert plan_to_data(again) == plan_to_data(plan)


def _problems(data: dict[str, object]) -> dict[str, str]:
    with pytest.raises(PlanValidationError) as info:
        plan_from_data(data, source="broken.yaml")
    assert str(info.value).startswith("broken.yaml: ")
    return dict(info.value.problems)


def _with_block(**changes: object) -> dict[str, object]:
    data: dict[str, object] = json.loads(json.dumps(MINIMAL))
    data["sessions"][0]["blocks"][0].update(changes)  # type: ignore[index]
    return data


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (
            {"exercise": "back_squatt"},
            "sessions[0].blocks[0].exercise",
            "unknown exercise 'back_squatt'",
        ),
        ({"sets": 0}, "sessions[0].blocks[0].sets", "must be at least 1"),
        (
            {"reps": {"min": 6, "max": 3}},
            "sessions[0].blocks[0].reps",
            "min (6) must not exceed max (3)",
        ),
        ({"tempo": "slow"}, "sessions[0].blocks[0].tempo", "four parts"),
        (
            {"velocity_loss_stop_pct": 80},
            "sessions[0].blocks[0].velocity_loss_stop_pct",
            "must be at most 60",
        ),
        (
            {"load": {"kind": "percent_1rm", "percent": 150}},
            "sessions[0].blocks[0].load.percent",
            "must be at most 110",
        ),
        ({"load": {"kind": "pounds", "lb": 100}}, "sessions[0].blocks[0].load", "does not match"),
        ({"load": {"percent": 80}}, "sessions[0].blocks[0].load", "needs a 'kind' field"),
        (
            {"load": {"kind": "velocity_zone", "min_ms": 0.8, "max_ms": 0.6}},
            "sessions[0].blocks[0].load",
            "must be below max_ms",
        ),
        (
            {"load": {"kind": "velocity_zone", "min_ms": 0.25, "max_ms": 0.6}},
            "sessions[0].blocks[0].load.min_ms",
            "minimal velocity threshold",
        ),
        ({"colour": "red"}, "sessions[0].blocks[0].colour", "is not a field here"),
        ({"exercise": "bike_erg"}, "sessions[0].blocks[0].exercise", "needs a bike block"),
    ],
)
def test_broken_blocks_name_field_and_problem(
    change: dict[str, object], field: str, words: str
) -> None:
    problems = _problems(_with_block(**change))
    assert field in problems, problems
    assert words in problems[field]


def test_plan_level_problems_are_all_reported_together() -> None:
    data = json.loads(json.dumps(MINIMAL))
    data["name"] = "Not A Slug"
    data["weeks"] = 0
    data["caps"] = {"max_percent_1rm": 60, "max_velocity_loss_pct": 15}
    data["sessions"].append({"name": "a", "fallback": "z", "blocks": data["sessions"][0]["blocks"]})
    problems = _problems(data)
    assert set(problems) >= {"name", "weeks"}
    # Model-level problems arrive once every field is valid on its own.
    data["name"], data["weeks"] = "fixed", 2
    problems = _problems(data)
    assert problems["sessions"] == "duplicate session name 'a'"
    assert "no session named 'z'" in problems["sessions[1].fallback"]
    assert "above the plan's cap of 60.0 %" in problems["sessions[0].blocks[0].load.percent"]
    assert "at most 15.0 %" in problems["sessions[0].blocks[0].velocity_loss_stop_pct"]


def test_bike_blocks_and_caps() -> None:
    data = json.loads(json.dumps(MINIMAL))
    data["caps"] = {"max_hr_zone": 2}
    data["sessions"][0]["blocks"] = [
        {
            "type": "bike",
            "intervals": [{"duration_s": 600, "target": {"kind": "hr_zone", "zone": 4}}],
        },
        {"type": "bike", "intervals": []},
        {"type": "bike", "intervals": [{"duration_s": 60, "target": {"kind": "erg", "watts": -5}}]},
    ]
    problems = _problems(data)
    assert "sessions[0].blocks[1].intervals" in problems
    assert "sessions[0].blocks[2].intervals[0].target.watts" in problems
    data["sessions"][0]["blocks"] = data["sessions"][0]["blocks"][:1]
    problems = _problems(data)
    assert "above the plan's cap of 2" in problems["sessions[0].blocks[0].intervals[0].target"]


@pytest.mark.parametrize(
    ("name", "text", "words"),
    [
        ("plan.yaml", "name: [\n", "not valid YAML"),
        ("plan.yaml", "name: a\n  bad: indent\n", "line 2"),
        ("plan.json", '{"name": }', "not valid JSON: Expecting value (line 1, column 10)"),
        ("plan.yaml", "- a list\n", "a plan is a mapping of fields, got list"),
        ("plan.yaml", "name: " + "[" * 5000, "not valid YAML: nested too deeply"),
        ("plan.json", "[" * 5000, "not valid JSON: nested too deeply"),
        ("plan.txt", "{}", "unknown file type '.txt'"),
    ],
)
def test_broken_files(tmp_path: Path, name: str, text: str, words: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PlanValidationError) as info:
        load_plan(path, text)
    assert words in str(info.value)
    assert str(path) in str(info.value)


def test_yaml_and_json_agree() -> None:
    plan = plan_from_data(MINIMAL)
    assert (
        parse_plan(yaml.safe_dump(MINIMAL), Format.YAML)
        == parse_plan(json.dumps(MINIMAL), Format.JSON)
        == plan
    )
    assert isinstance(plan, Plan)


def test_catalogue() -> None:
    catalogue = builtin_catalogue()
    squat = catalogue.get("back_squat")
    assert squat.mvt_ms == pytest.approx(0.30)
    assert catalogue.get("bench_press").mvt_ms == pytest.approx(0.16)
    substitute = catalogue.substitute_for("back_squat")
    assert substitute is not None
    assert substitute.impact < squat.impact
    from plans.exercises import EquipmentKind

    band_only = catalogue.substitute_for("back_squat", frozenset({EquipmentKind.BAND}))
    assert band_only is not None
    assert band_only.name == "band_squat"
    assert VelocityZone(min_ms=0.5, max_ms=0.7).mid_ms == pytest.approx(0.6)
