"""The studio panel: a FastAPI app on the controller's event loop (pages, JSON API, feeds).

``create_app(gym, store, settings)`` builds the app for one site; ``PanelServer`` serves it
with uvicorn on the running loop. See ``docs/panel.md``.
"""

from web_ui.app import create_app
from web_ui.server import PanelServer, PanelStartError
from web_ui.settings import PanelSettings

__all__ = ["PanelServer", "PanelSettings", "PanelStartError", "create_app"]
