"""The MQTT tests' Mosquitto fixtures, for the chain's tests."""

from tests.controller.mqtt.conftest import mosquitto_factory

__all__ = ["mosquitto_factory"]
