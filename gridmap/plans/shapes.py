"""Shapes a planner draws: parsing GeoJSON, validity, and small geometry helpers.

All geometry is EPSG:4326 lon/lat (what a Leaflet map draws). Areas are geodesic m².
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from ..errors import InputError
from ..geo.shapes import POLYGONAL, geodesic_area_m2, polygonal, polygonal_part
from ..i18n import tr
from ..registry.validate import describe_reason


def read_geojson(path: str | Path) -> Any:
    """The parsed JSON of a GeoJSON file (InputError if missing or not JSON)."""
    path = Path(path)
    if not path.exists():
        raise InputError(tr("%(path)s: no such file", path=path))
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(tr("%(path)s is not a GeoJSON file: %(exc)s", path=path, exc=exc)) from None


def read_points(path: str | Path) -> list[tuple[float, float]]:
    """lon/lat points from GeoJSON (Points, MultiPoints) or a CSV with lon and lat columns."""
    path = Path(path)
    if path.suffix.lower() == ".csv":
        import csv

        if not path.exists():
            raise InputError(tr("%(path)s: no such file", path=path))
        with open(path, encoding="utf-8-sig", newline="") as fh:
            rows = list(csv.DictReader(fh))
        if rows and not {"lon", "lat"} <= set(rows[0]):
            raise InputError(tr("%(path)s: needs lon and lat columns", path=path))
        try:
            return [(float(r["lon"]), float(r["lat"])) for r in rows]
        except ValueError as exc:
            raise InputError(tr("%(path)s: %(exc)s", path=path, exc=exc)) from None
    doc = read_geojson(path)
    feats = doc.get("features", [doc]) if isinstance(doc, dict) else []
    geoms = [parse_geometry(f, str(path)) for f in feats]
    if not geoms or any(g.geom_type not in ("Point", "MultiPoint") for g in geoms):
        raise InputError(tr("%(path)s: expected GeoJSON points", path=path))
    return [(float(x), float(y)) for g in geoms for x, y in shapely.get_coordinates(g)]


def parse_geometry(doc: Any, what: str) -> BaseGeometry:
    """A geometry from a GeoJSON geometry, Feature, or FeatureCollection of one feature."""
    if isinstance(doc, dict) and doc.get("type") == "FeatureCollection":
        feats = doc.get("features") or []
        if len(feats) != 1:
            raise InputError(tr("%(what)s: give one feature, got a FeatureCollection of %(feats)s", what=what, feats=len(feats)))
        doc = feats[0]
    if isinstance(doc, dict) and doc.get("type") == "Feature":
        doc = doc.get("geometry")
    if not isinstance(doc, dict) or "type" not in doc:
        raise InputError(tr("%(what)s: expected a GeoJSON geometry or Feature", what=what))
    try:
        geom = shape(doc)
    except (ValueError, TypeError, AttributeError, IndexError, KeyError, shapely.errors.GEOSException) as exc:
        raise InputError(tr("%(what)s: not a readable GeoJSON geometry (%(exc)s)", what=what, exc=exc)) from None
    if geom.is_empty:
        raise InputError(tr("%(what)s: the geometry is empty", what=what))
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all() or (np.abs(xy[:, 0]) > 180).any() or (np.abs(xy[:, 1]) > 90).any():
        raise InputError(tr("%(what)s: coordinates must be lon/lat (EPSG:4326) within range", what=what))
    return geom


MAX_VERTICES = 5000  # defaults of the settings max_drawn_vertices and max_repair_crossings
MAX_CROSSINGS = 100


def drawn_polygon(geom: BaseGeometry, what: str, repair: bool = False, max_vertices: int = MAX_VERTICES,
                  max_crossings: int = MAX_CROSSINGS) -> BaseGeometry:
    """A valid polygon from a drawn shape; InputError naming a self-intersection (or repaired).

    Bounded work: more than `max_vertices` vertices is refused before any overlay, and a
    repair is attempted only when the edges cross at most `max_crossings` times (GEOS'
    make_valid nodes every crossing: a spiky 400-vertex scribble has ~20,000 of them and
    took minutes and gigabytes; 100 crossings repair in milliseconds).
    """
    if geom.geom_type not in POLYGONAL:
        raise InputError(tr("%(what)s: a Polygon or MultiPolygon is needed, got a %(geom_type)s", what=what, geom_type=geom.geom_type))
    check_vertices(geom, what, max_vertices)
    if not geom.is_valid:
        where = describe_reason(shapely.is_valid_reason(geom))
        if not repair:
            raise InputError(tr("%(what)s: the shape is invalid: %(where)s (redraw it, or pass repair to fix it)", what=what, where=where))
        n = crossings(geom, max_crossings)
        if n > max_crossings:
            raise InputError(tr("%(what)s: the outline crosses itself more than %(max_crossings)s times (limit max_repair_crossings = %(max_crossings)s; first at %(where)s): too tangled to repair, redraw it", what=what, max_crossings=max_crossings, where=where))
        fixed = polygonal_part(shapely.make_valid(geom))
        if fixed is None or fixed.is_empty:
            raise InputError(tr("%(what)s: the shape is invalid (%(where)s) and repairing it left no area", what=what, where=where))
        geom = fixed
    return geom


def check_vertices(geom: BaseGeometry, what: str, limit: int = MAX_VERTICES) -> None:
    """InputError (422) naming the limit when a drawn shape has more than `limit` vertices."""
    n = int(shapely.get_num_coordinates(geom))
    if n > limit:
        raise InputError(tr("%(what)s: the shape has %(n)s vertices, more than the limit of %(limit)s (setting max_drawn_vertices): simplify it or draw it with fewer points", what=what, n=n, limit=limit))


def crossings(geom: BaseGeometry, limit: int) -> int:
    """Edge crossings of a polygon's rings, counted up to a little past `limit` (then it stops).

    Segments go in an STRtree and are queried in small batches, so a tangle is recognised
    after a few batches instead of after all n² pairs. Lon/lat; touching ends do not count.
    """
    segs = []
    for ring in shapely.get_rings(geom):
        xy = shapely.get_coordinates(ring)
        if len(xy) > 1:
            segs.append(np.stack([xy[:-1], xy[1:]], axis=1))
    if not segs:
        return 0
    lines = shapely.linestrings(np.concatenate(segs))
    tree = shapely.STRtree(lines)
    found = 0
    for start in range(0, len(lines), 32):
        a, b = tree.query(lines[start:start + 32], predicate="crosses")
        found += int(np.sum(a + start < b))  # each pair once
        if found > limit:
            break
    return found


def drawn_line(geom: BaseGeometry, what: str, max_vertices: int = MAX_VERTICES) -> BaseGeometry:
    """A drawn cut line (LineString or MultiLineString)."""
    if geom.geom_type not in ("LineString", "MultiLineString"):
        raise InputError(tr("%(what)s: a LineString is needed, got a %(geom_type)s", what=what, geom_type=geom.geom_type))
    check_vertices(geom, what, max_vertices)
    return geom


area_m2 = geodesic_area_m2  # the plan tools' name for it


def parts(geom: BaseGeometry) -> int:
    """Number of polygons of a (multi)polygon (0 if empty)."""
    if geom is None or geom.is_empty:
        return 0
    return len([p for p in shapely.get_parts(geom) if p.geom_type == "Polygon" and p.area > 0])



def shared_length(a: BaseGeometry, b: BaseGeometry) -> float:
    """Length (degrees) of the boundary two polygons share; 0 when they meet at points or not at all."""
    common = shapely.intersection(a.boundary, b.boundary)
    return float(shapely.length(common)) if not common.is_empty else 0.0


GRID_DEG = 1e-9  # vertices closer than this (about 0.1 mm) to the line through their neighbours are dropped


def normalise(geom: BaseGeometry) -> BaseGeometry:
    """The canonical form of an edited (multi)polygon, so an edit and its inverse give back the same shape.

    Steps: GEOS normalize (ring order, start vertex); drop vertices within GRID_DEG of the
    line through their neighbours (cut points an overlay left on a straight edge: they move
    the geodesic area by tens of m² on a km-long edge, the phantom "+92 m²" of a
    split-then-merge); exterior rings anticlockwise, holes clockwise (RFC 7946).
    Lon/lat in, lon/lat out. Coordinates are not snapped to a precision grid
    (shapely.set_precision): a cut point lies on an untouched neighbour's edge, and moving it
    to a 1e-9° grid opened 0.1 m² overlaps with that neighbour along km-long edges (measured
    on the demo); the overlay's own float error is ~1e-15°.
    """
    if geom is None or geom.is_empty:
        return geom
    g = shapely.normalize(geom)  # starts each ring at an extreme vertex, which simplify keeps
    g = polygonal(shapely.simplify(g, GRID_DEG, preserve_topology=True))
    if g.is_empty:
        return g
    return shapely.orient_polygons(shapely.normalize(g), exterior_cw=False)


def is_sliver(geom: BaseGeometry, width_m: float = 0.001) -> bool:
    """True when a (multi)polygon is thinner on average than `width_m` (area < width x half perimeter).

    The remains of two shapes sharing an edge with float noise are slivers of any length;
    land that changes hands is not. Local-plane metres.
    """
    if geom is None or geom.is_empty:
        return True
    lat = geom.centroid.y
    k = 111_195.08
    perimeter_m = float(geom.length) * k * max(float(np.cos(np.radians(lat))), 0.5)
    return local_area_m2(geom) < width_m * perimeter_m / 2


def local_area_m2(geom: BaseGeometry) -> float:
    """Area in m² on a local plane (deg² scaled at the centroid's latitude): for noise tests.

    A zero-width sliver along a long edge has no planar area, while its geodesic area (its
    edges are geodesics, not straight lon/lat lines) can be tens of m²: compare slivers here.
    """
    if geom is None or geom.is_empty:
        return 0.0
    lat = geom.centroid.y
    return float(geom.area) * (111_195.08 ** 2) * float(np.cos(np.radians(lat)))


def where(geom: BaseGeometry) -> str:
    """A short 'lon x, lat y' for messages: a point inside the geometry."""
    p = geom.representative_point()
    return f"lon {p.x:.6f}, lat {p.y:.6f}"


def metres_to_degrees(metres: float, lat: float) -> float:
    """A distance in metres as degrees of longitude at `lat` (the larger of the two degree sizes)."""
    return metres / (111_320.0 * max(np.cos(np.radians(lat)), 0.01))
