"""Everything the panel holds while it runs, started and stopped by the app's lifespan.

The runtime lives on the controller's event loop: its tasks (the bus follower, the feeds'
broadcaster, the name resolver, the loop-lag sampler) are named tasks of one
``asyncio.TaskGroup`` that the lifespan enters and leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from controller.config import StoreConfig
from controller.errors import StoreError
from controller.jsonable import to_json
from controller.service import GymService
from controller.store import Insert, Store
from web_ui.auth import Authenticator, Principal
from web_ui.feeds import FeedHub
from web_ui.live import LiveFloor
from web_ui.metrics import PanelMetrics
from web_ui.passwords import Passwords
from web_ui.plan_form import FieldError, check_plan
from web_ui.ratelimit import LoginLimiter
from web_ui.settings import PanelSettings

log = logging.getLogger(__name__)

PlanValidator = Callable[[Mapping[str, Any]], Sequence[FieldError]]


def _sweep_exports(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for path in directory.glob("*gymctl-athlete-*.zip*"):
        log.warning("removing an export left behind: %s", path.name)
        path.unlink(missing_ok=True)


class PanelRuntime:
    """The panel's state: auth, live floor, metrics; an async context manager."""

    def __init__(
        self,
        gym: GymService,
        store: Store,
        settings: PanelSettings,
        *,
        plan_validator: PlanValidator = check_plan,
    ) -> None:
        self.gym = gym
        self.store = store
        self.settings = settings
        self.plan_validator = plan_validator
        self.passwords = Passwords(settings.password_hasher)
        self.auth = Authenticator(store, settings)
        self.limiter = LoginLimiter(
            max_failures=settings.login_max_failures,
            ip_max_failures=settings.login_ip_max_failures,
            window_s=settings.login_window_s,
        )
        self.live = LiveFloor(
            gym,
            store.reader,
            trace_window_s=settings.trace_window_s,
            trace_hz=settings.trace_hz,
        )
        self.feeds = FeedHub(self.live, settings.feed_hz)
        self.metrics = PanelMetrics(gym, self.live, store)
        self.live.on_event = self.metrics.observe
        #: the site config's store settings, before any override from the panel
        self.config_store_settings: StoreConfig = store.config_settings
        self._stack = contextlib.AsyncExitStack()
        self._tasks: list[asyncio.Task[None]] = []
        self._export_dir: Path | None = settings.export_dir

    async def __aenter__(self) -> Self:
        try:
            await self.apply_stored_settings()
            group = await self._stack.enter_async_context(asyncio.TaskGroup())
            self._tasks = [
                group.create_task(self.live.run(), name="panel-live-floor"),
                group.create_task(self.feeds.run(), name="panel-feeds"),
                group.create_task(self.live.resolve_names(), name="panel-athlete-names"),
                group.create_task(self.metrics.sample_loop_lag(), name="panel-loop-lag"),
            ]
            if self._export_dir is None:
                self._export_dir = Path(
                    self._stack.enter_context(tempfile.TemporaryDirectory(prefix="gymctl-export-"))
                )
            else:  # exports are sent and deleted; any found here were left by a crash
                await asyncio.to_thread(_sweep_exports, self._export_dir)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.live.close()
        self.feeds.close()
        for task in self._tasks:
            task.cancel()
        await self._stack.__aexit__(exc_type, exc, tb)

    @property
    def export_dir(self) -> Path:
        if self._export_dir is None:
            raise StoreError("the panel is not running")
        return self._export_dir

    async def apply_stored_settings(self) -> None:
        """Put the settings staff changed in the panel (``site_settings``) into force."""
        await self.store.apply_stored_settings()

    def audit(
        self,
        principal: Principal | str,
        action: str,
        *,
        target_type: str | None = None,
        target_id: str | None = None,
        athlete_id: str | None = None,
        detail: Mapping[str, Any] | None = None,
        ip: str | None = None,
    ) -> None:
        """One line of the audit log, queued to the writer (committed with its next batch).

        Never awaited: an e-stop's answer must not wait for a disk.
        """
        actor = principal.actor if isinstance(principal, Principal) else principal
        self.store.writer.write(
            Insert(
                "audit_log",
                {
                    "ts": time.time(),
                    "actor": actor,
                    "action": action,
                    "target_type": target_type,
                    "target_id": target_id,
                    "athlete_id": athlete_id,
                    "detail_json": to_json(dict(detail or {})),
                    "ip": ip,
                },
            )
        )
