"""Decision records: every automatic change to an athlete's training, with its reasons.

"Why did my load change?" must always have an answer, so every rule that changes a plan,
a load, a threshold or a device command returns one of these next to its result; the
controller stores them in the decision log and shows them to staff and athletes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class DecisionKind(enum.StrEnum):
    READINESS_ADJUSTMENT = "readiness_adjustment"  #: daily change from today's readiness
    AUTOREGULATION = "autoregulation"  #: next set's load from this set's velocity
    PROGRESSION = "progression"  #: week-to-week change
    SET_STOP = "set_stop"  #: a set ended by a rule (velocity loss, rep target)
    SAFETY = "safety"  #: the envelope clamped, delayed or refused a command
    STAFF_OVERRIDE = "staff_override"  #: a person changed something by hand
    FLAG = "flag"  #: a warning raised on an athlete (asymmetry, overreaching)


@dataclass(frozen=True, slots=True)
class Decision:
    """What changed, from what to what, on which inputs, by which rule, in plain words.

    ``subject`` names what changed (``"load_kg"``, ``"velocity_loss_stop_pct"``,
    ``"sets"``, ``"exercise"``); ``before`` and ``after`` are JSON-serialisable values;
    ``inputs`` holds the numbers the rule read; ``rule`` is a stable identifier of the rule
    (for filtering and tests); ``reason`` is the sentence shown to people.
    """

    kind: DecisionKind
    subject: str
    before: Any
    after: Any
    rule: str
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "subject": self.subject,
            "before": self.before,
            "after": self.after,
            "rule": self.rule,
            "reason": self.reason,
            "inputs": dict(self.inputs),
        }
