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
    return render_template("error.html", status=status, title=title, detail=detail), status
