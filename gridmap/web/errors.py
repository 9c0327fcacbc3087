"""One handler: GridmapError -> JSON for the API, plain HTML for pages."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..errors import GridmapError


def init_app(app: Flask) -> None:
    """Register the handlers."""

    @app.errorhandler(GridmapError)
    def _gridmap_error(exc: GridmapError):
        return _respond(exc.http_status, type(exc).__name__, str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return _respond(exc.code or 500, exc.name, exc.description or exc.name)


def _respond(status: int, title: str, detail: str):
    if request.path.startswith("/open311/"):
        # GeoReport v2 errors are a list of {code, description}
        return jsonify([{"code": status, "description": detail}]), status
    if request.path.startswith("/api/") or request.path.endswith((".json", ".geojson")):  # JSON twins too
        return jsonify({"status": status, "title": title, "detail": detail}), status
    return render_template("error.html", status=status, title=title, detail=detail), status
