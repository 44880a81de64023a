"""The studio panel inside the site: the FastAPI app served by uvicorn on the site's loop.

``Gym`` calls :func:`serve_panel` (unless given another factory) when the panel is
enabled; the server runs as the site's ``panel`` task, and the app reaches the site only
through its service API (``controller.service.GymService``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from web_ui import PanelServer, PanelSettings, create_app

if TYPE_CHECKING:
    from controller.gym import Gym


def serve_panel(gym: Gym, settings: PanelSettings | None = None) -> PanelServer:
    """The panel of ``gym`` on the config's ``panel.host`` and port (or ``--port``)."""
    app = create_app(gym, gym.store, settings or PanelSettings())
    port = gym.options.panel_port or gym.config.panel.port
    return PanelServer(app, host=gym.config.panel.host, port=port)
