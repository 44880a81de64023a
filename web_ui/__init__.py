"""The studio panel: a FastAPI app on the controller's event loop (pages, JSON API, feeds)."""
