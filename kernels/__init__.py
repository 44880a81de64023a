"""Compiled numeric kernels of gymctl and their plain reference versions.

Kernels do no I/O. Each public wrapper validates its input and calls a Cython
implementation (``_*.pyx``); ``kernels.reference`` holds the readable versions the tests
use as oracles.
"""

from kernels.errors import GymctlError, InvalidInputError

__all__ = ["GymctlError", "InvalidInputError"]
