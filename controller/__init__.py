"""The asyncio runtime of gymctl: gym, stations, sessions, safety, bus, store, CLI."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gymctl")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
