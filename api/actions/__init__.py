"""The page of patients' one-click action links (``/a/{token}``): confirm or cancel."""

from api.actions.routes import router

__all__ = ["router"]
