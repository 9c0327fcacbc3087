"""Flask blueprints: JSON/GeoJSON API, HTML pages, and the error handler."""

from flask import current_app

from ..services import Services


def services() -> Services:
    """The app's Services (built once in create_app)."""
    return current_app.extensions["gridmap"]
