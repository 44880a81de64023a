"""The demo's plans: short sessions so that a few minutes show every part of the loop.

They are ordinary plans (validated like any other) with fewer sets than a real programme:
a rack session prescribed by velocity zones with a velocity-loss stop, a bike session with
ERG intervals and a stretch held to heart-rate zone 2, and a band session.
"""

from __future__ import annotations

from typing import Any

from plans.model import Plan
from plans.plan_io import plan_from_data

RACK_PLAN: dict[str, Any] = {
    "name": "demo-rack",
    "title": "Demo: squat and bench by velocity",
    "description": "Sets start in a velocity zone and stop at 15 % velocity loss "
    "(Pareja-Blanco 2017: VL15-20 keeps strength gains with fewer reps); the bench press "
    "with 20 % eccentric overload on a motorized rack.",
    "goal": "strength",
    "weeks": 4,
    "sessions": [
        {
            "name": "squat-bench",
            "title": "Squat and bench",
            "blocks": [
                {
                    "type": "strength",
                    "exercise": "back_squat",
                    "sets": 3,
                    "reps": {"min": 3, "max": 10},
                    "load": {"kind": "velocity_zone", "min_ms": 0.55, "max_ms": 0.70},
                    "velocity_loss_stop_pct": 15,
                    "rest_s": 120,
                },
                {
                    "type": "strength",
                    "exercise": "bench_press",
                    "sets": 2,
                    "reps": {"min": 3, "max": 10},
                    "load": {"kind": "velocity_zone", "min_ms": 0.50, "max_ms": 0.65},
                    "velocity_loss_stop_pct": 15,
                    "rest_s": 120,
                    "mode": {"kind": "eccentric", "eccentric_pct": 20},
                },
            ],
        }
    ],
}

BIKE_PLAN: dict[str, Any] = {
    "name": "demo-bike",
    "title": "Demo: ERG intervals and a zone-2 stretch",
    "goal": "intervals",
    "weeks": 4,
    "sessions": [
        {
            "name": "intervals",
            "title": "Short intervals, then zone 2 by heart rate",
            "blocks": [
                {
                    "type": "bike",
                    "intervals": [
                        {"duration_s": 30, "target": {"kind": "power", "watts": 110}},
                        {
                            "duration_s": 30,
                            "repeats": 2,
                            "target": {"kind": "percent_threshold", "percent": 90},
                            "recovery_s": 15,
                            "recovery_target": {"kind": "power", "watts": 100},
                        },
                        {
                            "duration_s": 60,
                            "target": {"kind": "erg", "watts": 140, "hr_zone": 2},
                        },
                    ],
                }
            ],
        }
    ],
}

BAND_PLAN: dict[str, Any] = {
    "name": "demo-band",
    "title": "Demo: band rows",
    "goal": "hypertrophy",
    "weeks": 4,
    "sessions": [
        {
            "name": "rows",
            "title": "Band rows to 15 % velocity loss",
            "blocks": [
                {
                    "type": "strength",
                    "exercise": "band_row",
                    "sets": 3,
                    "reps": {"min": 6, "max": 12},
                    "load": {"kind": "kg", "kg": 0},
                    "velocity_loss_stop_pct": 15,
                    "rest_s": 60,
                }
            ],
        }
    ],
}

DEMO_PLANS: dict[str, dict[str, Any]] = {
    "rack": RACK_PLAN,
    "bike": BIKE_PLAN,
    "band": BAND_PLAN,
}


def demo_plan(kind: str) -> Plan:
    """The demo plan for a station kind ("rack", "bike", "band"), validated."""
    return plan_from_data(DEMO_PLANS[kind], source=f"demo plan {kind}")
