"""The chain's topic tree at the central broker (pure: names only)::

<prefix>/<site>/bridge/state                   1 | 0 (retained): the site broker's bridge
<prefix>/<site>/controller/status              the site's ``controller/status``, remapped
<prefix>/<site>/station/<id>/<leaf>            the site's station events, remapped

A site publishes ``<mqtt.topic_prefix>/<site.id>/...`` on its own broker; the bridge
remaps that prefix to ``<chain.prefix>/<chain.name>/...``, so sites keep their local ids
and the centre names each site once.
"""

from __future__ import annotations

from dataclasses import dataclass

from controller.mqtt.payloads import LEAVES
from controller.mqtt.topics import Topics

BRIDGE_STATE = "bridge/state"

#: the station leaves a bridge forwards (telemetry only when asked for)
EVENT_LEAVES: tuple[str, ...] = tuple(sorted(set(LEAVES.values()) - {"telemetry"}))


@dataclass(frozen=True, slots=True)
class ChainTopics:
    prefix: str

    def site_base(self, site: str) -> str:
        return f"{self.prefix}/{site}"

    def bridge_state(self, site: str) -> str:
        return f"{self.site_base(site)}/{BRIDGE_STATE}"

    def site_topics(self, site: str) -> Topics:
        """The site's tree as it appears at the centre (same levels, remapped base)."""
        return Topics(self.prefix, site)

    @property
    def subscription(self) -> str:
        """What the chain view subscribes to: every site."""
        return f"{self.prefix}/#"

    def split(self, topic: str) -> tuple[str, str] | None:
        """``(site, rest)`` of a topic under the prefix, or None."""
        head = self.prefix + "/"
        if not topic.startswith(head):
            return None
        site, sep, rest = topic[len(head) :].partition("/")
        if not site or not sep or not rest:
            return None
        return site, rest
