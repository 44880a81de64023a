"""The studio panel of a site: on the site's loop, or in a process of its own.

``Gym`` calls :func:`serve_panel` (unless given another factory) when the panel is
enabled; the result runs as the site's ``panel`` component, and the app reaches the site
only through its service API (``controller.service.GymService``). With
``panel.own_process`` the app runs in a child process (``controller.panel_process``)
that reaches the same API over a socket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from controller.panel_process import PanelProcess
from web_ui import PanelServer, PanelSettings, create_app

if TYPE_CHECKING:
    from controller.gym import Gym


def serve_panel(gym: Gym, settings: PanelSettings | None = None) -> PanelServer | PanelProcess:
    """The panel of ``gym`` on the config's ``panel.host`` and port (or ``--port``)."""
    port = gym.options.panel_port or gym.config.panel.port
    if gym.config.panel.own_process:
        return PanelProcess(gym, settings or PanelSettings(), host=gym.config.panel.host, port=port)
    app = create_app(gym, gym.store, settings or PanelSettings())
    return PanelServer(app, host=gym.config.panel.host, port=port)
