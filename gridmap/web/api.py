"""Blueprint "api": JSON and GeoJSON under /api/v1. Views parse, call one service, serialise."""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, request

from .. import params
from ..errors import InputError
from ..i18n import tr
from ..io.writers import feature
from ..registry.model import Level
from . import services

bp = Blueprint("api", __name__)
GEOJSON = "application/geo+json"


@bp.get("/info")
def info():
    i = services().store.info()
    return jsonify({"backend": i.backend, "schema_revision": i.schema_revision, "plan": i.plan, "counts": i.counts})


@bp.get("/units")
def units():
    level = _level(request.args.get("level"))
    fc = {"type": "FeatureCollection", "features": [feature(u) for u in services().units(level)]}
    return jsonify(fc), 200, {"Content-Type": GEOJSON}


@bp.get("/units/<code>")
def unit(code: str):
    return jsonify(feature(services().unit(code))), 200, {"Content-Type": GEOJSON}


@bp.get("/locate")
def locate():
    lon, lat = _float_arg("lon"), _float_arg("lat")
    loc = services().locate(lon, lat, crs=request.args.get("crs", "EPSG:4326"), at=_date_arg("at"))
    inside = services().jurisdiction.contains(loc.lon, loc.lat)  # the report page warns before a 422
    return jsonify(loc.__dict__ | {"candidates": list(loc.candidates), "in_jurisdiction": inside})


@bp.get("/places")
def places():
    """Search box: units (names, codes) of the plan in force, then gazetteer places; bounded."""
    from ..registry.places import search

    limit = request.args.get("limit", "10")
    if not (limit.isascii() and limit.isdigit()):
        raise InputError(tr("limit: a whole number from 1 to 20, got %(limit)r", limit=limit))
    hits = search(services(), request.args.get("q", ""), int(limit))
    return jsonify({"q": request.args.get("q", "").strip(), "results": [h.to_json() for h in hits]})


@bp.get("/check")
def check():
    return jsonify([p.__dict__ for p in services().team_problems()])


def _float_arg(name: str) -> float:
    return params.required_number(request.args.get(name), name)


def _date_arg(name: str) -> dt.date | None:
    return params.day(request.args.get(name), name)


def _level(raw: str | None) -> Level | None:
    return params.level(raw)
