"""Virtual environments of the peer HRV libraries, built on demand under ``.bench-envs/``.

The established libraries cannot share gymctl's environment, nor all one environment
(hrv-analysis 1.0.6 wants pandas >= 3; NeuroKit2 0.2.13 wants pandas < 3; systole 0.3.1
pins numpy <= 2.2), so each group gets its own venv with exact pins, created once from the
package index and reused. The agreement tests and ``gymctl bench hrv`` both use them. If
the package index cannot be reached, :class:`PeersUnavailableError` says so and callers skip;
any other failure to build an environment is an error.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ENVS_DIR = Path(os.environ.get("GYMCTL_BENCH_ENVS", ROOT / ".bench-envs"))
WORKER = Path(__file__).resolve().parent / "peer_worker.py"


@dataclass(frozen=True, slots=True)
class PeerEnv:
    name: str
    libraries: tuple[str, ...]  #: names known to peer_worker.LIBRARIES
    requirements: tuple[str, ...]
    #: Installed after the requirements, overriding their resolution: nolds 0.6.3 (which
    #: hrv-analysis 1.0.6 asks for) ships without its datasets package and fails on import,
    #: 0.5.2 works and needs pkg_resources from setuptools < 81.
    overrides: tuple[str, ...] = ()


ENVS: tuple[PeerEnv, ...] = (
    PeerEnv(
        "hrv-analysis",
        ("hrv-analysis",),
        ("hrv-analysis==1.0.6",),
        ("nolds==0.5.2", "setuptools<81"),
    ),
    PeerEnv("systole-neurokit2", ("systole", "neurokit2"), ("systole==0.3.1", "neurokit2==0.2.13")),
)
LIBRARY_ENV = {library: env for env in ENVS for library in env.libraries}


class PeersUnavailableError(RuntimeError):
    """The peer environments cannot be built here (the package index is unreachable)."""


def _pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        check=False,
    )


def _python_of(env_dir: Path) -> Path:
    return env_dir / "bin" / "python"


def ensure_env(env: PeerEnv) -> Path:
    """The Python of ``env``'s venv, building it first if missing or out of date."""
    ENVS_DIR.mkdir(parents=True, exist_ok=True)
    env_dir = ENVS_DIR / env.name
    stamp = env_dir / ".gymctl-spec.json"
    spec = json.dumps({"requirements": env.requirements, "overrides": env.overrides})
    with open(ENVS_DIR / f"{env.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if stamp.is_file() and stamp.read_text() == spec:
            return _python_of(env_dir)
        venv.EnvBuilder(clear=True, with_pip=True).create(env_dir)
        python = _python_of(env_dir)
        probe = _pip(python, "index", "versions", env.requirements[0].split("==")[0])
        if probe.returncode != 0:
            raise PeersUnavailableError(
                f"package index unreachable, cannot build {env.name}: "
                f"{probe.stderr.strip().splitlines()[-1:]}"
            )
        for group in (env.requirements, env.overrides):
            if not group:
                continue
            result = _pip(python, "install", "--quiet", *group)
            if result.returncode != 0:
                raise RuntimeError(f"building {env.name} failed:\n{result.stderr[-2000:]}")
        stamp.write_text(spec)
        return python


def run_worker(library: str, *args: str, timeout_s: float = 900.0) -> Any:
    """Run ``peer_worker.py`` in the library's environment; returns its JSON output."""
    python = ensure_env(LIBRARY_ENV[library])
    result = subprocess.run(
        [str(python), str(WORKER), args[0], library, *args[1:]],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout_s,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{library} worker failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def python_version() -> str:
    return sys.version.split()[0]
