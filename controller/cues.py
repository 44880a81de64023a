"""The cue model: what the athlete is told, and the builders of the standard cues.

A cue is one value shown at once on every output a station has: the device's display
(rack registers, band LED and haptic motor) as a :class:`DeviceCue`, MQTT and the panel.
Which cue is on show is decided by priority and time to live (``controller.cue_router``):
a ``stop`` is never hidden by a rep count, and a rest countdown never hides the "load going
up: confirm" announcement.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from equipment_adapters.base import CueColour, DeviceCue
from kernels.errors import InvalidInputError

MAX_TEXT = 48  #: longer texts are refused: no display we drive shows more


class CueKind(enum.StrEnum):
    REP = "rep"
    LAST_REP = "last_rep"
    STOP = "stop"
    REST = "rest"
    CONFIRM_LOAD = "confirm_load"
    ESTOP = "estop"
    FAULT = "fault"
    MESSAGE = "message"  #: free text from staff


class CueSound(enum.StrEnum):
    NONE = "none"
    TICK = "tick"
    BEEP = "beep"
    DOUBLE_BEEP = "double_beep"
    ALARM = "alarm"


class CuePriority(enum.IntEnum):
    """Higher wins while the cue on show has not expired."""

    INFO = 10
    REST = 20
    REP = 30
    LAST_REP = 40
    ANNOUNCE = 50
    STOP = 60
    FAULT = 80
    SAFETY = 90


@dataclass(frozen=True, slots=True)
class Cue:
    """One cue. ``ttl_s`` None keeps it on show until a cue of equal or higher priority."""

    kind: CueKind
    text: str = ""
    colour: CueColour = CueColour.OFF
    number: float | None = None
    sound: CueSound = CueSound.NONE
    haptic_pulses: int = 0
    priority: CuePriority = CuePriority.INFO
    ttl_s: float | None = 3.0

    def __post_init__(self) -> None:
        if len(self.text) > MAX_TEXT:
            raise InvalidInputError(f"longer than {MAX_TEXT} characters", where="cue text")
        if not self.text.isprintable():
            raise InvalidInputError("contains control characters", where="cue text")
        if self.number is not None and not math.isfinite(self.number):
            raise InvalidInputError("must be a finite number", where="cue number")
        if not 0 <= self.haptic_pulses <= 10:
            raise InvalidInputError("must be 0..10", where="cue haptic_pulses")
        if self.ttl_s is not None and not (math.isfinite(self.ttl_s) and 0 < self.ttl_s <= 3600):
            raise InvalidInputError("must be in (0, 3600] seconds", where="cue ttl_s")

    def to_device(self) -> DeviceCue:
        return DeviceCue(
            text=self.text,
            colour=self.colour,
            number=self.number,
            haptic_pulses=self.haptic_pulses,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "text": self.text,
            "colour": self.colour.value,
            "number": self.number,
            "sound": self.sound.value,
            "haptic_pulses": self.haptic_pulses,
            "priority": int(self.priority),
            "ttl_s": self.ttl_s,
        }


#: The cue that clears a display (sent when the cue on show expires).
BLANK = DeviceCue()


def velocity_zone_colour(velocity_ms: float, *, low_ms: float, high_ms: float) -> CueColour:
    """The colour of a rep's mean velocity against the set's target band.

    Blue above the band (the load is light for today), green inside, yellow just below
    (within 10 % of the low edge), red further below. Colour is never the only signal:
    every rep cue carries the number and the velocity as text too.
    """
    if not low_ms <= high_ms:
        raise InvalidInputError(f"low {low_ms} is above high {high_ms}", where="velocity band")
    if velocity_ms > high_ms:
        return CueColour.BLUE
    if velocity_ms >= low_ms:
        return CueColour.GREEN
    if velocity_ms >= 0.9 * low_ms:
        return CueColour.YELLOW
    return CueColour.RED


def rep_cue(rep_number: int, velocity_ms: float, colour: CueColour) -> Cue:
    """After each rep: the rep count as the number, the mean velocity as text."""
    return Cue(
        CueKind.REP,
        text=f"{velocity_ms:.2f} m/s",
        colour=colour,
        number=float(rep_number),
        sound=CueSound.TICK,
        haptic_pulses=1,
        priority=CuePriority.REP,
        ttl_s=4.0,
    )


def last_rep_cue(rep_number: int) -> Cue:
    """The next rep is the last one (the velocity loss is close to the stop threshold)."""
    return Cue(
        CueKind.LAST_REP,
        text="LAST REP",
        colour=CueColour.ORANGE,
        number=float(rep_number),
        sound=CueSound.BEEP,
        haptic_pulses=2,
        priority=CuePriority.LAST_REP,
        ttl_s=6.0,
    )


def stop_cue(reason: str = "STOP") -> Cue:
    """End the set now (velocity loss reached, rep target reached, or staff said so)."""
    return Cue(
        CueKind.STOP,
        text=reason[:MAX_TEXT],
        colour=CueColour.RED,
        sound=CueSound.DOUBLE_BEEP,
        haptic_pulses=3,
        priority=CuePriority.STOP,
        ttl_s=8.0,
    )


def rest_cue(seconds_left: float) -> Cue:
    """One tick of the rest countdown; the router shows a new one every second."""
    return Cue(
        CueKind.REST,
        text="REST",
        colour=CueColour.BLUE,
        number=float(max(0, math.ceil(seconds_left))),
        priority=CuePriority.REST,
        ttl_s=1.5,
    )


def confirm_load_cue(value: float, unit: str, *, ttl_s: float) -> Cue:
    """Announce an increase between sets: the athlete confirms (or the time elapses)."""
    return Cue(
        CueKind.CONFIRM_LOAD,
        text=f"UP TO {value:g} {unit}: CONFIRM",
        colour=CueColour.YELLOW,
        number=value,
        sound=CueSound.BEEP,
        haptic_pulses=1,
        priority=CuePriority.ANNOUNCE,
        ttl_s=ttl_s,
    )


def estop_cue() -> Cue:
    """Shown until staff release the e-stop."""
    return Cue(
        CueKind.ESTOP,
        text="E-STOP",
        colour=CueColour.RED,
        sound=CueSound.ALARM,
        haptic_pulses=3,
        priority=CuePriority.SAFETY,
        ttl_s=None,
    )


def fault_cue(message: str = "FAULT: STAFF CALLED") -> Cue:
    """The station went to its safe state after a fault; staff have been alerted."""
    return Cue(
        CueKind.FAULT,
        text=message[:MAX_TEXT],
        colour=CueColour.RED,
        sound=CueSound.ALARM,
        priority=CuePriority.FAULT,
        ttl_s=None,
    )


def message_cue(text: str, *, colour: CueColour = CueColour.WHITE, ttl_s: float = 5.0) -> Cue:
    """Free text from staff (the ``cue`` command of the panel and MQTT)."""
    return Cue(CueKind.MESSAGE, text=text, colour=colour, priority=CuePriority.INFO, ttl_s=ttl_s)
