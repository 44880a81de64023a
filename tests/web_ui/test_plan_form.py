from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from web_ui.plan_form import (
    blank_plan,
    body_from_form,
    check_plan,
    edit,
    editable,
    errors_by_field,
    form_field,
    load_value,
)

from .seed import PLAN_BODY


def form_of(body: dict[str, Any]) -> dict[str, str]:
    form = {k: str(body[k]) for k in ("name", "title", "description", "goal", "weeks")}
    for si, session in enumerate(body["sessions"]):
        form[f"sessions[{si}].name"] = session["name"]
        form[f"sessions[{si}].title"] = session["title"]
        for bi, block in enumerate(session["blocks"]):
            p = f"sessions[{si}].blocks[{bi}]"
            for key in ("exercise", "sets", "velocity_loss_stop_pct", "rest_s"):
                form[f"{p}.{key}"] = str(block[key])
            form[f"{p}.reps.min"] = str(block["reps"]["min"])
            form[f"{p}.reps.max"] = str(block["reps"]["max"])
            form[f"{p}.load.kind"] = block["load"]["kind"]
            form[f"{p}.load.value"] = str(load_value(block["load"]))
            if "max_ms" in block["load"]:
                form[f"{p}.load.max_ms"] = str(block["load"]["max_ms"])
    return form


def test_the_form_round_trips_a_plan_in_the_plan_models_shape() -> None:
    assert body_from_form(form_of(PLAN_BODY)) == PLAN_BODY
    assert check_plan(PLAN_BODY) == []
    assert check_plan(blank_plan())  # a blank plan has no title or exercise yet
    form = form_of(PLAN_BODY)
    form["name"] = ""
    form["title"] = "Squats & Jumps: Week 1"
    assert body_from_form(form)["name"] == "squats-jumps-week-1"


def test_every_problem_is_reported_at_its_field() -> None:
    form = form_of(PLAN_BODY)
    form["sessions[0].blocks[0].sets"] = "three"
    form["sessions[0].blocks[0].reps.max"] = "2"
    form["sessions[0].blocks[0].load.value"] = "140"
    form["sessions[0].blocks[1].load.max_ms"] = "0.4"
    form["sessions[0].blocks[1].exercise"] = "Bench Press!"
    form["sessions[0].blocks[1].velocity_loss_stop_pct"] = "90"
    form["title"] = " "
    form["weeks"] = "0"
    errors = errors_by_field(check_plan(body_from_form(form)))
    # the plan model's messages (plans.plan_io), each at the editor field that shows it
    assert errors == {
        "title": ["must not be empty"],
        "weeks": ["must be at least 1"],
        "sessions[0].blocks[0].sets": ["must be a whole number"],
        "sessions[0].blocks[0].reps.max": ["min (3) must not exceed max (2)"],
        "sessions[0].blocks[0].load.value": ["must be at most 110"],
        "sessions[0].blocks[1].load.kind": ["min_ms (0.5) must be below max_ms (0.4)"],
        "sessions[0].blocks[1].velocity_loss_stop_pct": ["must be at most 60"],
    }
    # the catalogue is consulted once the fields themselves are valid
    form = form_of(PLAN_BODY)
    form["sessions[0].blocks[1].exercise"] = "Bench Press!"
    (message,) = errors_by_field(check_plan(body_from_form(form)))["sessions[0].blocks[1].exercise"]
    assert message.startswith("unknown exercise 'Bench Press!' (known: ")


def test_the_plan_models_paths_land_on_the_editors_fields() -> None:
    """plans.plan_io names problems by model path; each maps to the field that shows it."""
    p = "sessions[0].blocks[1]"
    assert form_field(f"{p}.load.percent") == f"{p}.load.value"
    assert form_field(f"{p}.load.kg") == f"{p}.load.value"
    assert form_field(f"{p}.load.min_ms") == f"{p}.load.value"
    assert form_field(f"{p}.load.max_ms") == f"{p}.load.max_ms"
    assert form_field(f"{p}.load") == f"{p}.load.kind"
    assert form_field(f"{p}.reps") == f"{p}.reps.max"
    assert form_field(f"{p}.exercise") == f"{p}.exercise"
    assert form_field("sessions[1].name") == "sessions[1].name"


@pytest.mark.parametrize(
    ("mutate", "path"),
    [
        (lambda b: b.update(sessions=[]), "sessions"),
        (lambda b: b["sessions"][0].update(blocks=[]), "sessions[0].blocks"),
        (
            lambda b: b["sessions"][0]["blocks"][0].update(load="heavy"),
            "sessions[0].blocks[0].load.kind",
        ),
        (
            lambda b: b["sessions"][0]["blocks"][0]["load"].update(kind="rpe"),
            "sessions[0].blocks[0].load.kind",
        ),
        (lambda b: b["sessions"][0]["blocks"][0].update(rest_s=-1), "sessions[0].blocks[0].rest_s"),
        (lambda b: b["sessions"][0]["blocks"][0].update(sets=True), "sessions[0].blocks[0].sets"),
        (
            lambda b: b["sessions"][0]["blocks"][0].update(tempo="slow"),
            "sessions[0].blocks[0].tempo",
        ),
        (lambda b: b["sessions"][0]["blocks"][0].update(reps=5), "sessions[0].blocks[0].reps.max"),
        (lambda b: b.update(goal="fun"), "goal"),
        (lambda b: b.update(sessions="x"), "sessions"),
        (lambda b: b["sessions"].append(7), "sessions[1]"),
        (lambda b: b["sessions"].append(copy.deepcopy(b["sessions"][0])), "sessions"),
    ],
)
def test_broken_json_bodies_name_the_field(
    mutate: Callable[[dict[str, Any]], None], path: str
) -> None:
    body = copy.deepcopy(PLAN_BODY)
    mutate(body)
    assert path in errors_by_field(check_plan(body))


def test_editor_buttons_add_sessions_and_exercises_and_remove_rows() -> None:
    body = edit(copy.deepcopy(PLAN_BODY), "add_session")
    assert [s["name"] for s in body["sessions"]] == ["day-a", "day-b"]
    assert check_plan(body) != []  # the new exercise row has no exercise yet
    body = edit(body, "add_block:1")
    assert len(body["sessions"][1]["blocks"]) == 2
    assert edit(copy.deepcopy(body), "add_block:9") == body
    form = form_of(PLAN_BODY)
    form["sessions[0].blocks[0].remove"] = "1"
    assert [b["exercise"] for b in body_from_form(form)["sessions"][0]["blocks"]] == ["bench_press"]


def test_bike_blocks_are_kept_out_of_the_form() -> None:
    body: dict[str, Any] = copy.deepcopy(PLAN_BODY)
    assert editable(body)
    body["sessions"][0]["blocks"].append({"type": "bike", "exercise": "bike_erg", "intervals": []})
    assert not editable(body)
