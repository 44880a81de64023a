"""The panel's own settings (the site config's ``[panel]`` table gives host and port)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from argon2 import PasswordHasher


@dataclass(frozen=True, slots=True)
class PanelSettings:
    """How the panel behaves; the defaults suit a gym's local network.

    ``cookie_secure`` None sets the ``Secure`` flag on the session cookie when the request
    came over HTTPS (directly or, with uvicorn's ``--proxy-headers``, through a proxy).
    """

    #: a session ends after this long without a request
    session_idle_s: float = 12 * 3600.0
    #: and after this long in any case (a tablet left logged in overnight logs out)
    session_max_s: float = 24 * 3600.0
    cookie_secure: bool | None = None
    #: failed logins per (username, address) before that pair must wait
    login_max_failures: int = 5
    #: failed logins per address (any username) before the address must wait
    login_ip_max_failures: int = 20
    login_window_s: float = 300.0
    #: the most live frames per second sent to one browser (the floor needs >= 5)
    feed_hz: float = 10.0
    #: seconds of bar velocity kept for the station page's live trace
    trace_window_s: float = 10.0
    #: live trace points kept per second (telemetry above this rate is thinned)
    trace_hz: float = 50.0
    #: where exports are written before they are sent (None: a temporary directory)
    export_dir: Path | None = None
    #: argon2 parameters for new hashes (None: argon2-cffi's RFC 9106 defaults)
    password_hasher: PasswordHasher | None = None

    def __post_init__(self) -> None:
        if self.session_idle_s <= 0 or self.session_max_s < self.session_idle_s:
            raise ValueError("session_idle_s must be > 0 and <= session_max_s")
        if self.login_max_failures < 1 or self.login_ip_max_failures < self.login_max_failures:
            raise ValueError("login limits must be >= 1, the per-address one the larger")
        if not 1.0 <= self.feed_hz <= 60.0:
            raise ValueError("feed_hz must be 1..60")
        if self.trace_window_s <= 0 or self.trace_hz <= 0:
            raise ValueError("trace_window_s and trace_hz must be > 0")
