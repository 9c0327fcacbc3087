"""Blueprint "report": the residents' report page, `/report` (public, no login, phone-first).

The printed QR codes point at `/report?grid=CODE`: the page then opens on that grid, drawn
with its neighbours from data embedded in the page. Without a grid (or with a code that is no
longer in the plan) the page draws every grid from `GET /api/v1/units?level=grid`. The
categories come from the same taxonomy as `GET /api/v1/categories`, grouped. The page posts
JSON to `POST /api/v1/incidents` (static/js/report.js) with the CSRF token from its meta tag,
which the API needs only when a signed-in user reports; with a photo chosen (the phone's camera,
`<input type=file accept="image/*" capture>`, shown only when the store takes photos) it posts
the same fields as multipart/form-data with the file in `photo`. Leaflet is the vendored copy: no CDN.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import shapely
from flask import Blueprint, render_template, request, url_for

from ..errors import NotFound
from ..incidents.photo_intake import photo_folder
from ..maps import geo, neighbours_of
from ..registry.model import Level, Unit
from . import services

bp = Blueprint("report", __name__)
GRID_LEVELS = (Level.grid, Level.micro)


@bp.get("/report")
def report_page():
    """The form and map; `?grid=CODE` centres it on that grid."""
    code = (request.args.get("grid") or "").strip()
    grid, neighbours = _grid_and_neighbours(code) if code else (None, [])
    data = page_data(grid, neighbours)
    return render_template("report.html", data=data, groups=category_groups(), photo=data["photo"],
                           grid=grid, missing=code if code and grid is None else None)


def page_data(grid: Unit | None, neighbours: list[Unit]) -> dict[str, Any]:
    """What report.js needs: the focus grid and its neighbours (GeoJSON), URLs, the basemap."""
    settings = services().settings
    out: dict[str, Any] = {
        "grid": None, "features": None,
        "urls": {"units": url_for("api.units", level="grid"), "locate": url_for("api.locate"), "places": url_for("api.places"),
                 "report": url_for("incidents.report"),
                 "status": url_for("resident.incident_status", incident_id="ID")[:-2]},
        # A tile server on the local network, if configured ({z}/{x}/{y}); none by default. Only
        # a WGS84 one: over a GCJ-02 basemap every overlay and tap would need shifting (not yet).
        "basemap": _basemap(settings),
        "basemap_attr": settings.basemap_attr or "",
        # the photo field, when this store takes photos (incidents/photo_intake.py)
        "photo": None if photo_folder(settings) is None else {
            "max_bytes": settings.photo_max_bytes, "max_mb": f"{settings.photo_max_bytes / 1024 / 1024:.3g}"},
    }
    if grid is not None:
        x0, y0, x1, y1 = (round(float(v), 6) for v in grid.geometry.bounds)
        out["grid"] = {"code": grid.code, "name": grid.name, "bounds": [[y0, x0], [y1, x1]]}
        out["features"] = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": u.code, "geometry": display_geometry(u.geometry),
             "properties": {"code": u.code, "name": u.name, "focus": u.code == grid.code}}
            for u in [grid, *neighbours]]}
    return out


def category_groups() -> list[tuple[str, list[dict[str, str]]]]:
    """[(group, [{code, name, description}])] in taxonomy order, as GET /api/v1/categories lists them."""
    groups: dict[str, list[dict[str, str]]] = {}
    for c in services().incidents.taxonomy:
        groups.setdefault(c.group or "其他", []).append(
            {"code": c.code, "name": c.name, "description": c.description or ""})
    return list(groups.items())


def _grid_and_neighbours(code: str) -> tuple[Unit | None, list[Unit]]:
    s = services()
    try:
        grid = s.unit(code)
    except NotFound:
        return None, []
    if grid.level not in GRID_LEVELS:
        return None, []
    return grid, neighbours_of(grid, s.units(grid.level))


def display_geometry(geom) -> dict:
    """GeoJSON geometry simplified by about 1 m and rounded to 6 decimals (about 0.1 m)."""
    simple = shapely.simplify(geom, geo.EMBED_TOLERANCE, preserve_topology=True)
    return shapely.geometry.mapping(shapely.transform(simple, lambda xy: np.round(xy, geo.EMBED_DECIMALS)))


def _basemap(settings) -> str | None:
    from .basemap import basemap_setting

    url = basemap_setting(settings)
    try:
        frame = geo.parse_frame(settings.basemap_crs or "")
    except ValueError:
        return None
    return url if frame == geo.WGS84 else None
