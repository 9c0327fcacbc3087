"""Rate limits, declared on the views they guard: `@public_report_limit` on the anonymous report endpoints.

Anonymous reports are limited per client address (setting `report_rate_limit`); signed-in users
and API tokens are not. The decorator only marks a view; `init_app` gives each app its own
limiter (its own counters) and wraps the marked views, so two apps in one process never share counts.
"""

from __future__ import annotations

from typing import Callable

from flask import Flask

_MARK = "_gridmap_public_report_limit"


def public_report_limit(view: Callable) -> Callable:
    """Mark a view: anonymous POSTs to it are limited by the setting `report_rate_limit`."""
    setattr(view, _MARK, True)
    return view


def init_app(app: Flask, report_rate_limit: str) -> None:
    """Bind a limiter to the app and apply it to every marked view."""
    from flask_limiter import Limiter
    from flask_limiter.util import get_remote_address

    from .auth import current_actor

    limiter = Limiter(get_remote_address, app=app, storage_uri="memory://", default_limits=[])
    limit = limiter.limit(report_rate_limit, methods=["POST"], exempt_when=lambda: not current_actor().is_public)
    for endpoint, view in list(app.view_functions.items()):
        if getattr(view, _MARK, False):
            app.view_functions[endpoint] = limit(view)
