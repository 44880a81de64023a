"""``gymctl plan``: validate plan files and browse the built-in library."""

from __future__ import annotations

import argparse
from pathlib import Path

from controller.cli._common import Subparsers, print_json, print_table, read_text_file
from plans.model import BikeBlock, Plan, StrengthBlock
from plans.plan_io import Format, builtin_plan, builtin_plans, dump_plan, load_plan, plan_to_data


def _summary(plan: Plan) -> dict[str, object]:
    return {
        "name": plan.name,
        "title": plan.title,
        "goal": plan.goal,
        "weeks": plan.weeks,
        "sessions": len(plan.sessions),
    }


def _validate(args: argparse.Namespace) -> int:
    path: Path = args.file
    plan = load_plan(path, read_text_file(path))
    if args.json:
        print_json({"valid": True, **_summary(plan)})
    else:
        blocks = sum(len(s.blocks) for s in plan.sessions)
        print(
            f"{path}: valid plan {plan.name!r} ({plan.title}): {plan.weeks} weeks, "
            f"{len(plan.sessions)} sessions, {blocks} blocks"
        )
    return 0


def _list(args: argparse.Namespace) -> int:
    plans = builtin_plans()
    if args.json:
        print_json({"plans": [_summary(p) for p in plans.values()]})
    else:
        print_table(
            ["name", "goal", "weeks", "sessions", "title"],
            [[p.name, p.goal, p.weeks, len(p.sessions), p.title] for p in plans.values()],
        )
    return 0


def _show(args: argparse.Namespace) -> int:
    path: Path = args.name
    plan = load_plan(path, read_text_file(path)) if path.is_file() else builtin_plan(str(path))
    if args.json:
        print_json(plan_to_data(plan))
        return 0
    if args.yaml:
        print(dump_plan(plan, Format.YAML), end="")
        return 0
    print(f"{plan.title} ({plan.name}): {plan.goal}, {plan.weeks} weeks")
    if plan.description:
        print(f"  {plan.description.strip()}")
    if plan.caps is not None:
        caps = ", ".join(f"{k} {v}" for k, v in plan.caps.model_dump(exclude_none=True).items())
        print(f"  caps: {caps}")
    for session in plan.sessions:
        gate = (
            f" (needs {session.requires.value}, else {session.fallback})"
            if session.fallback
            else ""
        )
        day = f" day {session.day}" if session.day else ""
        print(f"\nsession {session.name}{day}{gate}")
        for block in session.blocks:
            print(f"  - {_describe(block)}")
    for source in plan.sources:
        print(f"source: {source}")
    return 0


def _describe(block: StrengthBlock | BikeBlock) -> str:
    if isinstance(block, BikeBlock):
        parts = []
        for interval in block.intervals:
            target = interval.target.model_dump(exclude={"kind"}, exclude_none=True)
            text = f"{interval.duration_s // 60} min {interval.target.kind} {target}"
            if interval.repeats > 1:
                text = f"{interval.repeats} x {text}, {interval.recovery_s} s recovery"
            parts.append(text)
        return f"{block.exercise}: " + "; ".join(parts)
    load = block.load.model_dump(exclude={"kind"})
    vl = f", stop at {block.velocity_loss_stop_pct:g} % VL" if block.velocity_loss_stop_pct else ""
    tempo = f", tempo {block.tempo}" if block.tempo else ""
    return (
        f"{block.exercise}: {block.sets} x {block.reps.min}-{block.reps.max} at "
        f"{block.load.kind} {load}{vl}{tempo}, rest {block.rest_s} s"
    )


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "plan",
        help="validate plan files, list and show the built-in plans",
        description="Training plans: JSON or YAML files (docs/plans.md) and the built-in library.",
    )
    group = parser.add_subparsers(title="subcommands", metavar="SUBCOMMAND", required=True)
    validate = group.add_parser(
        "validate",
        help="check a plan file and name every problem",
        description="Validate a plan file (.json, .yaml or .yml); exit 2 with every "
        "problem named by its field.",
    )
    validate.add_argument("file", type=Path, metavar="FILE")
    validate.add_argument("--json", action="store_true", help="print one JSON object")
    validate.set_defaults(handler=_validate)
    listing = group.add_parser(
        "list", help="the built-in plans", description="List the built-in plans."
    )
    listing.add_argument("--json", action="store_true", help="print one JSON object")
    listing.set_defaults(handler=_list)
    show = group.add_parser(
        "show", help="one plan in full", description="Show a built-in plan by name, or a plan file."
    )
    show.add_argument(
        "name", type=Path, metavar="NAME", help="a built-in plan's name or a plan file"
    )
    output = show.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="the plan as JSON (export)")
    output.add_argument("--yaml", action="store_true", help="the plan as YAML (export)")
    show.set_defaults(handler=_show)
