"""Geometry as the browser gets it: in the basemap's frame, simplified for the zoom, rounded.

Units and incidents are stored in WGS84 lon/lat. A basemap in GCJ-02 (AMap, Tencent) is
offset by a few hundred metres from WGS84, so when ``basemap_crs`` is ``"GCJ-02"`` every
overlay coordinate (grids, zones, labels, incidents, heat points, the map's bounds) is
converted WGS84 -> GCJ-02 with gridmap.geo.chinacrs before it is embedded or served; the grids then
sit on the basemap's streets. The JSON twins of the pages stay in WGS84 (they are data).

`GridCatalog` keeps one plan's grids in memory with an STRtree for bounding-box queries, and
caches their display GeoJSON per frame; `geometry_json` does the simplification and rounding.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from typing import Sequence

import numpy as np
import shapely

from ..geo.chinacrs import gcj02_to_wgs84, wgs84_to_gcj02
from ..incidents.model import Incident
from ..registry.model import Unit

WGS84, GCJ02 = "WGS84", "GCJ-02"
FRAMES = (WGS84, GCJ02)
EMBED_TOLERANCE = 1e-5  # degrees, about 1 m: below what a screen shows at street zoom
EMBED_DECIMALS = 6  # about 0.1 m


def parse_frame(name: str | None) -> str:
    """'WGS84' (also '', 'EPSG:4326', 'CGCS2000') or 'GCJ-02' (also 'gcj02'); ValueError otherwise."""
    key = (name or "").strip().upper().replace("_", "-")
    if key in ("", "WGS84", "WGS-84", "EPSG:4326", "CGCS2000", "EPSG:4490"):
        return WGS84
    if key in ("GCJ-02", "GCJ02", "GCJ"):
        return GCJ02
    raise ValueError(f"basemap_crs must be WGS84 or GCJ-02, got {name!r}")


def shift_xy(xy: np.ndarray, frame: str) -> np.ndarray:
    """(n, 2) lon/lat in WGS84 -> the frame."""
    if frame == WGS84 or len(xy) == 0:
        return xy
    lon, lat = wgs84_to_gcj02(xy[:, 0], xy[:, 1])
    return np.column_stack([lon, lat])


def shift_geoms(geoms, frame: str):
    """Geometries (one or an array) from WGS84 to the frame."""
    return geoms if frame == WGS84 else shapely.transform(geoms, lambda xy: shift_xy(xy, frame))


def display_units(units: Sequence[Unit], frame: str) -> list[Unit]:
    """The units with their geometry in the frame (the same objects for WGS84)."""
    if frame == WGS84 or not units:
        return list(units)
    moved = shift_geoms(np.array([u.geometry for u in units], dtype=object), frame)
    return [dataclasses.replace(u, geometry=g) for u, g in zip(units, moved)]


def display_incidents(incidents: Sequence[Incident], frame: str) -> list[Incident]:
    """The incidents with lon/lat in the frame."""
    if frame == WGS84 or not incidents:
        return list(incidents)
    xy = shift_xy(np.array([[i.lon, i.lat] for i in incidents], dtype=float), frame)
    return [dataclasses.replace(i, lon=float(x), lat=float(y)) for i, (x, y) in zip(incidents, xy)]


def bbox_to_wgs84(bbox: tuple[float, float, float, float], frame: str) -> tuple[float, float, float, float]:
    """A bounding box given in the frame -> a WGS84 box covering it (corners and edge midpoints)."""
    if frame == WGS84:
        return bbox
    x0, y0, x1, y1 = bbox
    xs = np.array([x0, x1, x0, x1, (x0 + x1) / 2, (x0 + x1) / 2, x0, x1])
    ys = np.array([y0, y0, y1, y1, y0, y1, (y0 + y1) / 2, (y0 + y1) / 2])
    lon, lat = gcj02_to_wgs84(xs, ys)
    return float(lon.min()), float(lat.min()), float(lon.max()), float(lat.max())


def tolerance_for_zoom(zoom: float) -> float:
    """Half a screen pixel at this Web Mercator zoom, in degrees of longitude, at least 1e-6."""
    return max(1e-6, 0.5 * 360.0 / (256.0 * 2.0 ** max(0.0, min(zoom, 24.0))))


def decimals_for(tolerance: float) -> int:
    """Enough decimals to keep rounding well under the tolerance: 4 to 6."""
    return int(min(6, max(4, math.ceil(-math.log10(tolerance)) + 1)))


def geometry_json(geoms, tolerance: float = EMBED_TOLERANCE, decimals: int = EMBED_DECIMALS) -> list[str]:
    """Each geometry as a GeoJSON string: simplified (topology kept) and rounded."""
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return []
    simple = shapely.simplify(arr, tolerance, preserve_topology=True)
    simple = shapely.transform(simple, lambda xy: np.round(xy, decimals))
    return list(shapely.to_geojson(simple))


def encode_polygons(geoms, tolerance: float = EMBED_TOLERANCE) -> list[str]:
    """Each (multi)polygon, simplified, as compact JSON for gridmap-map.js: a list of polygons, each
    a list of rings, each a flat list of integers in millionths of a degree (so rounded to 6
    decimals): the first lon, lat as they are, then each vertex as the difference from the one
    before; the closing vertex is left out. A 5,000-grid page is less than half the size of the
    same as GeoJSON, and parses several times faster in the browser (far fewer arrays).
    Anything that is not a (multi)polygon comes out as ``[]``.
    """
    arr = np.asarray(geoms, dtype=object)
    if arr.size == 0:
        return []
    simple = shapely.simplify(arr, tolerance, preserve_topology=True)
    polygonal = np.isin(shapely.get_type_id(simple), (3, 6)) & ~shapely.is_empty(simple)
    out = ["[]"] * len(simple)
    if not polygonal.any():
        return out
    kind, coords, offsets = shapely.to_ragged_array(simple[polygonal])
    ring_off, poly_off = offsets[0], offsets[1]
    geom_off = offsets[2] if kind == shapely.GeometryType.MULTIPOLYGON else np.arange(len(poly_off))
    q = np.rint(coords * 1e6).astype(np.int64)
    d = q.copy()
    d[1:] -= q[:-1]
    d[ring_off[:-1]] = q[ring_off[:-1]]  # each ring starts absolute
    text = d.astype(str)
    rings = [",".join(text[a:b - 1].ravel()) for a, b in zip(ring_off[:-1], ring_off[1:])]  # (no closing vertex)
    polys = ["[" + ",".join("[" + r + "]" for r in rings[a:b]) + "]" for a, b in zip(poly_off[:-1], poly_off[1:])]
    encoded = ["[" + ",".join(polys[a:b]) + "]" for a, b in zip(geom_off[:-1], geom_off[1:])]
    for i, e in zip(np.flatnonzero(polygonal), encoded):
        out[i] = e
    return out


def decode_polygons(text: str) -> list[list[list[tuple[float, float]]]]:
    """The inverse of encode_polygons for one geometry (for tests): polygons of rings of (lon, lat)."""
    out = []
    for poly in json.loads(text):
        rings = []
        for ring in poly:
            xy = np.cumsum(np.asarray(ring, dtype=np.int64).reshape(-1, 2), axis=0) / 1e6
            rings.append([(float(x), float(y)) for x, y in xy])
        out.append(rings)
    return out


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
raw_dumps = _ENCODER.encode  # compact JSON, not yet script-safe: pass the whole text to script_safe()


def script_safe(text: str) -> str:
    """JSON text made safe inside a <script> element (< > & ' escaped as in Jinja's tojson) and
    inert to Jinja (a brace before ``{ % #`` is escaped: in compact JSON a structural ``{`` is
    always followed by ``"`` or ``}``, so only braces inside strings are touched)."""
    text = re.sub(r"\{(?=[{%#])", r"\\u007b", text)
    return (text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("'", "\\u0027").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def dumps(value) -> str:
    """Compact, script-safe JSON (see script_safe)."""
    return script_safe(raw_dumps(value))


class GridCatalog:
    """One plan's grids in memory: an STRtree for bbox queries, display GeoJSON cached per frame."""

    def __init__(self, grids: Sequence[Unit], key: object = None):
        self.key = key
        self.grids = sorted(grids, key=lambda u: u.code)
        self.by_code = {g.code: i for i, g in enumerate(self.grids)}
        self.geoms = np.array([g.geometry for g in self.grids], dtype=object)
        self.tree = shapely.STRtree(self.geoms)
        self._embedded: dict[str, list[str]] = {}
        self._label_points: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.grids)

    def in_bbox(self, bbox: tuple[float, float, float, float]) -> np.ndarray:
        """Indices (in code order) of the grids intersecting a WGS84 box."""
        if not len(self.grids):
            return np.array([], dtype=int)
        return np.sort(self.tree.query(shapely.box(*bbox), predicate="intersects"))

    def neighbours(self, grid: Unit) -> list[Unit]:
        """Grids sharing a boundary or a vertex with `grid` (within ~0.1 m), itself excluded."""
        near = self.tree.query(grid.geometry.buffer(1e-6), predicate="intersects") if len(self.grids) else []
        return [self.grids[i] for i in sorted(near) if self.grids[i].code != grid.code]

    def embedded(self, frame: str) -> list[str]:
        """Every grid's geometry in the frame at the embedding tolerance, encoded (cached)."""
        if frame not in self._embedded:
            self._embedded[frame] = encode_polygons(shift_geoms(self.geoms, frame))
        return self._embedded[frame]

    def label_points(self, frame: str) -> np.ndarray:
        """(n, 2) lat/lon of each grid's representative point in the frame, 6 decimals (cached)."""
        if frame not in self._label_points:
            pts = shapely.get_coordinates(shapely.point_on_surface(self.geoms)) if len(self.grids) else np.zeros((0, 2))
            self._label_points[frame] = np.round(shift_xy(pts, frame)[:, ::-1], 6)
        return self._label_points[frame]

    def served(self, idx: np.ndarray, frame: str, zoom: float) -> list[str]:
        """Geometry of the grids `idx` in the frame, simplified for `zoom`."""
        tol = max(EMBED_TOLERANCE, tolerance_for_zoom(zoom))  # never finer than the embedded pages
        return geometry_json(shift_geoms(self.geoms[idx], frame), tol, decimals_for(tol))
