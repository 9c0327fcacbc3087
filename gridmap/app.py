"""create_app(): settings → store → services → blueprints → error handlers."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from .services import Services
from .settings import Settings


def create_app(settings: Settings | Mapping[str, Any] | None = None) -> Flask:
    """Build the web app over the store the settings name. The grid index is built once."""
    if not isinstance(settings, Settings):
        settings = Settings.load(settings)
    services = Services.open(settings, create=True)
    # Leaflet and its plugins are served from the package itself (web/static/vendor): no CDN.
    app = Flask(__name__, template_folder=str(_templates()),
                static_folder=str(Path(__file__).resolve().parent / "web" / "static"))
    if settings.proxy_hops:  # behind nginx: the client's address and scheme come from its headers
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)
    # One key for every worker and server: the setting, else one generated once and kept in the
    # store (a random key per process broke logins and CSRF across gunicorn workers).
    app.config["SECRET_KEY"] = settings.secret_key or services.store.security.secret()
    from .web.locale import init_app as init_locale
    from .web.security import init_app as init_security

    init_locale(app, settings.locale)  # first: messages of the request guard speak the request's language

    init_security(app, settings)  # cookie flags, security headers, request-shape guard
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # a report or an action is a few kB: refuse more
    app.extensions["gridmap"] = services
    app.extensions["gridmap.incidents"] = incident_service(services)
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address
    from flask_wtf.csrf import CSRFProtect

    from .web import (
        api,
        board,
        compress,
        dashboard,
        errors,
        incidents_api,
        maps_pages,
        open311,
        pages,
        printing,
        report_page,
    )
    from .web.auth import current_actor

    csrf = CSRFProtect(app)
    # The JSON APIs authenticate by token or not at all; a session-cookie write to them is
    # CSRF-checked in web/auth.require instead.
    csrf.exempt(api.bp)
    csrf.exempt(incidents_api.bp)
    csrf.exempt(open311.bp)
    app.register_blueprint(api.bp, url_prefix="/api/v1")
    app.register_blueprint(incidents_api.bp, url_prefix="/api/v1")
    app.register_blueprint(open311.bp, url_prefix="/open311/v2")
    app.register_blueprint(pages.bp)
    app.register_blueprint(maps_pages.bp)
    from .web import basemap

    app.extensions[basemap.EXTENSION] = basemap.open_packages(settings)  # a bad tile file stops the start here
    app.register_blueprint(basemap.bp)
    app.register_blueprint(printing.bp)
    app.register_blueprint(report_page.bp)
    from .web import status_page  # the resident's status page and "my reports"

    app.register_blueprint(status_page.bp)
    app.register_blueprint(board.bp)
    app.register_blueprint(dashboard.bp)
    from .web import planner_page  # the planners' page (/planner, /planner.json) over the plans API

    app.register_blueprint(planner_page.bp)
    from .web import ogcapi, openapi  # OGC API – Features and the REST API's OpenAPI document (read-only)

    csrf.exempt(ogcapi.bp)
    app.register_blueprint(ogcapi.bp, url_prefix="/ogcapi")
    app.register_blueprint(openapi.bp, url_prefix="/api/v1")
    from .web import plans_api  # versioned grid plans (/api/v1/plans; writes CSRF-checked in auth.require)

    csrf.exempt(plans_api.bp)
    app.register_blueprint(plans_api.bp, url_prefix="/api/v1")
    from .web import planning_api  # planner tools: coverage, balance (public), propose, networks (planner/admin)

    csrf.exempt(planning_api.bp)
    app.register_blueprint(planning_api.bp, url_prefix="/api/v1")
    # Anonymous reports are rate-limited per client address; signed-in users and tokens are not.
    # The limit wraps the registered views (a decorator's return value must replace them).
    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[])
    public_only = limiter.limit(settings.report_rate_limit, methods=["POST"],
                                exempt_when=lambda: not current_actor().is_public)
    for endpoint in ("incidents.report", "open311.post_request"):
        app.view_functions[endpoint] = public_only(app.view_functions[endpoint])
    errors.init_app(app)
    compress.init_app(app)  # vendored Leaflet & plugins gzipped, cached by browsers
    return app


def incident_service(services: Services):
    """The incident loop over the app's store, with the configured taxonomy and calendar."""
    from .incidents.service import IncidentService
    from .incidents.taxonomy import Taxonomy
    from .incidents.workhours import calendar_from_settings

    s = services.settings
    return IncidentService(services, Taxonomy.load(s.categories or None), calendar_from_settings(s))


def _templates():
    """The top-level templates/ folder, installed as the package `gridmap.templates`."""
    from importlib import resources

    return resources.files("gridmap.templates")
