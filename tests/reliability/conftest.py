"""The fixtures the fault tests share with other packages' tests: a real Mosquitto."""

from tests.controller.mqtt.conftest import mosquitto_factory

__all__ = ["mosquitto_factory"]
