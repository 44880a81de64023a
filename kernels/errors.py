"""The root of gymctl's exception tree.

``kernels`` is the package every other one may import (it does no I/O), so the base
exception lives here and each package adds its own branch::

    GymctlError
    ├── InvalidInputError (also ValueError)   bad data: a file, payload, config, request
    │   ├── equipment_adapters.errors.DecodeError       a byte string that is not a valid PDU
    │   ├── equipment_adapters.errors.RegisterMapError  a register map with a wrong field
    │   ├── plans.errors.PlanValidationError            a plan that fails validation
    │   └── controller.errors.ConfigError               a site config with a wrong key
    ├── equipment_adapters.errors.DeviceError           talking to equipment failed
    │   ├── DeviceUnavailableError, DeviceTimeoutError, ProtocolError, ...
    └── controller.errors.ControllerError               runtime refusals and faults

The command line turns ``InvalidInputError`` into exit code 2 with its message, any other
``GymctlError`` into exit code 1; neither prints a traceback.
"""

from __future__ import annotations


class GymctlError(Exception):
    """Base class of every error gymctl raises on purpose."""


class InvalidInputError(GymctlError, ValueError):
    """Input that cannot be used, with the place where the problem is.

    ``where`` names the place (a file and line, a column, a field, a byte offset) so the
    message can point at it; ``problem`` says what is wrong there.
    """

    def __init__(self, problem: str, *, where: str | None = None) -> None:
        self.problem = problem
        self.where = where
        super().__init__(f"{where}: {problem}" if where else problem)
