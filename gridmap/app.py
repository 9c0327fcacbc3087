"""create_app(): settings → store → services → blueprints → error handlers."""

from __future__ import annotations

import secrets
from typing import Any, Mapping

from flask import Flask

from .services import Services
from .settings import Settings


def create_app(settings: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the web app over the store the settings name. The grid index is built once."""
    if not isinstance(settings, Settings):
        settings = Settings.load(settings)
    services = Services.open(settings, create=True)
    app = Flask(__name__, template_folder=str(_templates()))
    app.config["SECRET_KEY"] = settings.secret_key or secrets.token_hex(32)
    app.config["MAX_CONTENT_LENGTH"] = 16 * 1024 * 1024
    app.extensions["gridmap"] = services
    from .web import api, errors, pages

    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(pages.bp)
    errors.init_app(app)
    return app


def _templates():
    """The top-level templates/ folder, installed as the package `gridmap.templates`."""
    from importlib import resources

    return resources.files("gridmap.templates")
