"""MQTT: the bridge between the bus and a broker, commands in, and the embedded broker.

Topics and payloads: ``docs/architecture.md`` ("MQTT") and ``controller.mqtt.topics``.
"""

from controller.mqtt.bridge import BridgeStats, MqttBridge, tls_context
from controller.mqtt.broker import EmbeddedBroker
from controller.mqtt.commands import (
    AnyCommand,
    ConfirmCommand,
    CueCommand,
    EstopCommand,
    LoadCommand,
    ReleaseCommand,
    ReplayGuard,
    StationCommand,
    dispatch,
    parse_command,
)
from controller.mqtt.payloads import message_for
from controller.mqtt.topics import Topics

__all__ = [
    "AnyCommand",
    "BridgeStats",
    "ConfirmCommand",
    "CueCommand",
    "EmbeddedBroker",
    "EstopCommand",
    "LoadCommand",
    "MqttBridge",
    "ReleaseCommand",
    "ReplayGuard",
    "StationCommand",
    "Topics",
    "dispatch",
    "message_for",
    "parse_command",
    "tls_context",
]
