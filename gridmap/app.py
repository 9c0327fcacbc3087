"""create_app(): settings → store → services → blueprints → error handlers."""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from .services import Services
from .settings import Settings

# Every blueprint: (module under gridmap/web, URL prefix, CSRF-exempt). The JSON APIs authenticate
# by token or not at all, so the form CSRF check is off for them; a session-cookie write to them is
# CSRF-checked in web/auth.require instead.
BLUEPRINTS: list[tuple[str, str | None, bool]] = [
    ("api", "/api/v1", True),  # the registry: units, locate, staff
    ("incidents_api", "/api/v1", True),  # incidents: report, act, metrics, supervision
    ("plans_api", "/api/v1", True),  # versioned grid plans
    ("plan_files_api", "/api/v1", True),  # block-assignment files, plan comparison (JSON)
    ("analysis_api", "/api/v1", True),  # planner tools: coverage, balance, propose, networks
    ("openapi", "/api/v1", False),  # the REST API's OpenAPI document (read-only)
    ("open311", "/open311/v2", True),  # Open311 GeoReport v2
    ("ogcapi", "/ogcapi", True),  # OGC API – Features (read-only)
    ("pages", None, False),  # home, grid pages, login
    ("twofactor_pages", None, False),  # the login's second step (TOTP) and enrolment
    ("maps_pages", None, False),  # /map, /staff-map
    ("basemap", None, False),  # offline tile packages
    ("printing", None, False),  # patrol PDFs
    ("report_page", None, False),  # the resident's report form
    ("status_page", None, False),  # the resident's status page and "my reports"
    ("photos", None, False),  # a report's photo and thumbnail (after moderation for the public)
    ("board", None, False),  # the dispatcher's board
    ("dashboard", None, False),  # the leader's dashboard
    ("dashboard_wall", None, False),  # the one-screen view (大屏) for a wall display
    ("planner_page", None, False),  # the planners' page
    ("compare_page", None, False),  # two plans side by side
]


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

    from .web.uploads import init_app as init_uploads

    init_uploads(app, settings)  # before the request guard reads a form: the report routes take a photo
    init_security(app, settings)  # cookie flags, security headers, request-shape guard
    app.config["MAX_CONTENT_LENGTH"] = 1024 * 1024  # a report or an action is a few kB: refuse more
    app.extensions["gridmap"] = services
    from flask_wtf.csrf import CSRFProtect

    from .web import basemap, compress, errors, limits

    app.extensions[basemap.EXTENSION] = basemap.open_packages(settings)  # a bad tile file stops the start here
    csrf = CSRFProtect(app)
    for module, prefix, csrf_exempt in BLUEPRINTS:
        bp = import_module(f"gridmap.web.{module}").bp
        if csrf_exempt:
            csrf.exempt(bp)
        app.register_blueprint(bp, url_prefix=prefix)
    limits.init_app(app, settings.report_rate_limit)  # the limits are declared on their views
    errors.init_app(app)
    from .web import nav  # the top bar: who is signed in, a sign-out, only the links the role can use

    nav.init_app(app)
    compress.init_app(app)  # vendored Leaflet & plugins gzipped, cached by browsers
    return app


def _templates():
    """The top-level templates/ folder, installed as the package `gridmap.templates`."""
    from importlib import resources

    return resources.files("gridmap.templates")
