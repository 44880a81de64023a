from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from web_ui.plan_form import blank_plan, body_from_form, check_plan, edit, errors_by_path

from .seed import PLAN_BODY


def form_of(body: dict) -> dict[str, str]:  # type: ignore[type-arg]
    form = {"name": body["name"], "description": body["description"]}
    for si, session in enumerate(body["sessions"]):
        form[f"sessions[{si}].name"] = session["name"]
        for bi, block in enumerate(session["blocks"]):
            p = f"sessions[{si}].blocks[{bi}]"
            for key in ("exercise", "sets", "reps_min", "reps_max", "velocity_loss_pct", "rest_s"):
                form[f"{p}.{key}"] = str(block[key])
            form[f"{p}.load.kind"] = block["load"]["kind"]
            form[f"{p}.load.value"] = str(block["load"]["value"])
    return form


def test_the_form_round_trips_a_plan() -> None:
    assert body_from_form(form_of(PLAN_BODY)) == PLAN_BODY
    assert check_plan(PLAN_BODY) == []
    assert check_plan(blank_plan())  # a blank plan has no name or exercise yet


def test_every_problem_is_reported_at_its_field() -> None:
    form = form_of(PLAN_BODY)
    form["sessions[0].blocks[0].sets"] = "three"
    form["sessions[0].blocks[0].reps_max"] = "2"
    form["sessions[0].blocks[1].load.value"] = "140"
    form["sessions[0].blocks[1].load.kind"] = "pct_1rm"
    form["sessions[0].blocks[1].exercise"] = "Bench Press!"
    form["sessions[0].blocks[1].velocity_loss_pct"] = "90"
    form["name"] = " "
    errors = errors_by_path(check_plan(body_from_form(form)))
    assert errors == {
        "name": ["give the plan a name"],
        "sessions[0].blocks[0].sets": ["sets must be a whole number"],
        "sessions[0].blocks[0].reps_max": ["must be at least the minimum (3)"],
        "sessions[0].blocks[1].exercise": [
            "use the exercise's name: lower-case letters, digits and '_' (e.g. back_squat)"
        ],
        "sessions[0].blocks[1].load.value": ["% 1RM must be between 20 and 105"],
        "sessions[0].blocks[1].velocity_loss_pct": ["velocity loss stop must be 5 to 60 %"],
    }


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
        (lambda b: b.update(sessions="x"), "sessions"),
        (lambda b: b["sessions"].append(7), "sessions[1]"),
    ],
)
def test_broken_json_bodies_name_the_field(
    mutate: Callable[[dict[str, Any]], None], path: str
) -> None:
    body = copy.deepcopy(PLAN_BODY)
    mutate(body)
    assert path in errors_by_path(check_plan(body))


def test_editor_buttons_add_sessions_and_exercises_and_remove_rows() -> None:
    body = edit(copy.deepcopy(PLAN_BODY), "add_session")
    assert [s["name"] for s in body["sessions"]] == ["Day A", "Day B"]
    body = edit(body, "add_block:1")
    assert len(body["sessions"][1]["blocks"]) == 2
    assert edit(copy.deepcopy(body), "add_block:9") == body
    form = form_of(PLAN_BODY)
    form["sessions[0].blocks[0].remove"] = "1"
    assert [b["exercise"] for b in body_from_form(form)["sessions"][0]["blocks"]] == ["bench_press"]
