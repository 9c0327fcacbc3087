"""One handler: GridmapError -> JSON for the API, plain HTML for pages."""

from __future__ import annotations

import re
import tempfile

from flask import Flask, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import GridmapError, StoreUnavailable
from ..i18n import tr
from .http_messages import http_explanation, http_title

# An upload is saved as TMP/gridmap-<view>-<random>/<n>_<name>: the client sees only <name>.
_TMP_PATH = re.compile(r"(?:/vsizip/)?" + re.escape(tempfile.gettempdir().rstrip("/")) + r"/gridmap-[\w-]+/(?:\d+[_/])?")
_ANY_TMP = re.compile(re.escape(tempfile.gettempdir().rstrip("/")) + r"/[^\s'\":,]+")


def public_detail(exc: GridmapError) -> str:
    """What a client may read of an error: no server paths, no database location."""
    if isinstance(exc, StoreUnavailable):
        current_app.logger.error("store unavailable: %s", exc)  # the operator's log keeps the detail
        return tr("the database is unavailable: try again shortly")
    text = _TMP_PATH.sub("", str(exc))
    return _ANY_TMP.sub("(temporary file)", text)


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(GridmapError)
    def _gridmap_error(exc: GridmapError):
        return _respond(exc.http_status, type(exc).__name__, public_detail(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        code = exc.code or 500
        default = getattr(type(exc), "description", None)
        return _respond(code, exc.name, http_explanation(code, exc.description, default))


# GeoReport v2 answers bad input with 400 and a bad api_key with 403 (the spec's error codes).
OPEN311_STATUS = {422: 400, 401: 403}


def _respond(status: int, title: str, detail: str):
    if request.path.startswith("/open311/"):
        # GeoReport v2 errors are a list of {code, description}, in the format the URL names
        status = OPEN311_STATUS.get(status, status)
        body = [{"code": status, "description": detail}]
        if request.path.endswith(".xml"):
            from .georeport_xml import xml_response

            return xml_response("errors", body, status)
        return jsonify(body), status
    if request.path.startswith("/api/") or request.path.endswith((".json", ".geojson")):  # JSON twins too
        return jsonify({"status": status, "title": title, "detail": detail}), status
    # JSON keeps `title` as clients match it (the error's class or HTTP name); a page shows it translated
    return render_template("error.html", status=status, title=http_title(status, title), detail=detail), status
