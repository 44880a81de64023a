"""The MQTT topic tree of a site (pure: names only)::

<prefix>/<site>/controller/status              online | offline (retained, will)
<prefix>/<site>/controller/alert               site-wide alerts
<prefix>/<site>/station/<id>/state             the station's state (retained JSON)
<prefix>/<site>/station/<id>/rep|set|cue|decision|alert|command|session   JSON events
<prefix>/<site>/station/<id>/telemetry         downsampled live values (QoS 0)
<prefix>/<site>/station/<id>/cmd/<verb>        commands in (QoS 1, never retained)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from controller.errors import CommandRejectedError

_STATION = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class Topics:
    prefix: str
    site: str

    @property
    def base(self) -> str:
        return f"{self.prefix}/{self.site}"

    @property
    def status(self) -> str:
        return f"{self.base}/controller/status"

    @property
    def site_alert(self) -> str:
        return f"{self.base}/controller/alert"

    def station(self, station_id: str, leaf: str) -> str:
        return f"{self.base}/station/{station_id}/{leaf}"

    def state(self, station_id: str) -> str:
        return self.station(station_id, "state")

    def command(self, station_id: str, verb: str) -> str:
        return self.station(station_id, f"cmd/{verb}")

    @property
    def command_filter(self) -> str:
        """What the bridge subscribes to: every station's commands."""
        return f"{self.base}/station/+/cmd/+"

    def parse_command(self, topic: str) -> tuple[str, str]:
        """``(station_id, verb)`` of a command topic, or ``CommandRejectedError``."""
        head = f"{self.base}/station/"
        if not topic.startswith(head):
            raise CommandRejectedError("not a command topic of this site", where=topic)
        parts = topic[len(head) :].split("/")
        if len(parts) != 3 or parts[1] != "cmd":
            raise CommandRejectedError("expected station/<id>/cmd/<verb>", where=topic)
        station_id, _, verb = parts
        if not _STATION.match(station_id):
            raise CommandRejectedError("not a station id", where=topic)
        return station_id, verb
