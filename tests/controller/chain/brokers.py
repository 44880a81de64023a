"""A Mosquitto run from a configuration ``gymctl chain`` wrote (a site's, or the centre's)."""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.controller.mqtt.conftest import MOSQUITTO, wait_for_port


@dataclass
class SiteBroker:
    directory: Path
    text: str  #: the generated mosquitto.conf
    port: int
    process: subprocess.Popen[bytes] | None = field(default=None)

    def start(self) -> None:
        extra = "log_dest stderr\nlog_type error\nlog_type warning\n"
        if os.geteuid() == 0:  # as root, mosquitto would drop to a user that cannot read
            extra += "user root\n"  # the test's private temporary directory
        config = self.directory / "mosquitto.conf"
        config.write_text(self.text + extra)
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_for_port(self.port)
        except TimeoutError:
            process, self.process = self.process, None
            process.terminate()
            _, err = process.communicate(timeout=5)
            raise RuntimeError(f"mosquitto did not start: {err.decode(errors='replace')}") from None

    def kill(self) -> None:
        """Gone at once, as in a power cut: no clean disconnect from the centre."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self._reap()

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
            self._reap()

    def _reap(self) -> None:
        assert self.process is not None
        self.process.wait(timeout=5)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.process = None
