"""The controller's branch of the exception tree (rooted in ``kernels.errors``)::

    GymctlError
    ├── InvalidInputError (also ValueError)
    │   ├── ConfigError                 a site config with a wrong key (``where`` = key path)
    │   └── CommandRejectedError        an MQTT or API command that is malformed, out of
    │                                   range, replayed or expired (never applied)
    └── ControllerError                 runtime refusals and faults
        ├── IllegalTransitionError      a station state change the state machine forbids
        ├── SafetyError                 the safety envelope refused a command
        │   ├── EstopLatchedError       the station is e-stopped; only staff can release it
        │   ├── SafeStateError          the station is in its safe state after a fault
        │   └── NotPermittedError       this source may not do this (e.g. release over MQTT)
        ├── BusOverflowError            a bus subscriber fell too far behind and was cut off
        ├── SubscriptionClosedError     reading a bus subscription that was closed
        ├── StoreError                  the SQLite store could not do what was asked
        │   ├── StoreUnwritableError    the database cannot be written (read-only, disk full)
        │   ├── MigrationError          the schema cannot be brought to this version
        │   └── NotFoundError           a row that was asked for does not exist
        └── MqttBridgeError             the broker refused us (bad credentials, embedded
                                        broker cannot start)

Library errors (sqlite3, aiomqtt, amqtt, pydantic) are mapped to these once, where the
controller calls the library.
"""

from __future__ import annotations

from kernels.errors import GymctlError, InvalidInputError


class ConfigError(InvalidInputError):
    """A site configuration that cannot be used; ``where`` is the file and key path."""


class CommandRejectedError(InvalidInputError):
    """A command from outside (MQTT, API) that was refused before reaching the envelope."""


class ControllerError(GymctlError):
    """Base class of the controller's runtime refusals and faults."""


class IllegalTransitionError(ControllerError):
    """A station state change that the state machine does not allow."""

    def __init__(self, station_id: str, before: str, after: str, allowed: list[str]) -> None:
        self.station_id = station_id
        self.before = before
        self.after = after
        options = ", ".join(allowed) if allowed else "none"
        super().__init__(
            f"station {station_id}: cannot go from {before} to {after} (from {before}: {options})"
        )


class SafetyError(ControllerError):
    """The safety envelope refused a command; the message says why."""


class EstopLatchedError(SafetyError):
    """The station's e-stop is latched: nothing but a staff release is accepted."""


class SafeStateError(SafetyError):
    """The station is in its safe state after a fault or stale data."""


class NotPermittedError(SafetyError):
    """The command's source may not do this (only staff release an e-stop)."""


class BusOverflowError(ControllerError):
    """A subscriber fell so far behind that the bus cut it off (it is told, not silently fed)."""


class SubscriptionClosedError(ControllerError):
    """A read from a bus subscription after it was closed."""


class StoreError(ControllerError):
    """The store could not do what was asked."""


class StoreUnwritableError(StoreError):
    """The database cannot be written: read-only file system, disk full, size quota reached."""


class MigrationError(StoreError):
    """The database's schema cannot be brought to the version this code needs."""


class NotFoundError(StoreError):
    """A row that was asked for does not exist."""


class MqttBridgeError(ControllerError):
    """The MQTT side cannot work as configured (refused credentials, broker cannot start)."""


__all__ = [
    "BusOverflowError",
    "CommandRejectedError",
    "ConfigError",
    "ControllerError",
    "EstopLatchedError",
    "IllegalTransitionError",
    "MigrationError",
    "MqttBridgeError",
    "NotFoundError",
    "NotPermittedError",
    "SafeStateError",
    "SafetyError",
    "StoreError",
    "StoreUnwritableError",
    "SubscriptionClosedError",
]
