"""Coverage check: does a parent's set of children cover it exactly once?

Pure functions over `Unit`s (EPSG:4326 lon/lat in, m² out). Topology is worked in lon/lat,
where the stored edges are straight (as in PostGIS), vectorised with shapely 2: one STRtree
for sibling overlap candidates, one prepared parent for "reaches outside", one union for
gaps (a fast coverage union when the children form a valid coverage, a full union
otherwise). Areas are measured in a local equal-area frame (`MetricFrame`) after
densifying edges to ~50 m, so a long lon/lat edge is not cut short by its chord.

Problem kinds:
  gap        area of the parent covered by no child
  overlap    area covered by two siblings (one problem per pair)
  outside    area of a child outside its parent
  invalid    a self-intersecting, empty or non-polygonal geometry (repaired for the rest of the check)
  multipart  a child in several pieces (the area is that of all but its largest piece)
  sliver     a child smaller than `sliver_m2`

Pieces smaller than `tolerance_m2` are digitising noise and are not reported: boundaries
drawn by hand never meet exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from ..errors import InputError
from ..geo.frame import MetricFrame
from ..geo.shapes import frame_area_m2, polygonal
from ..i18n import tr
from ..registry.model import Unit

KINDS = ("invalid", "outside", "overlap", "gap", "multipart", "sliver")
STYLE = {  # map layer colours: lines and fills that still read in black and white (dash by kind)
    "gap": {"color": "#d62728", "fillColor": "#d62728", "dashArray": None},
    "overlap": {"color": "#9467bd", "fillColor": "#9467bd", "dashArray": "4 3"},
    "outside": {"color": "#ff7f0e", "fillColor": "#ff7f0e", "dashArray": "8 4"},
    "invalid": {"color": "#000000", "fillColor": "#000000", "dashArray": "2 2"},
    "multipart": {"color": "#1f77b4", "fillColor": "#1f77b4", "dashArray": "6 2 2 2"},
    "sliver": {"color": "#8c564b", "fillColor": "#8c564b", "dashArray": "1 3"},
}
_AT = re.compile(r"\[\s*([-\d.eE+]+)\s+([-\d.eE+]+)\s*\]")


@dataclass
class Problem:
    """One coverage problem: its kind, the codes involved, area (m²), a lon/lat location, its shape."""

    kind: str
    parent: str
    codes: list[str]
    area_m2: float
    lon: float
    lat: float
    detail: str = ""
    geometry: BaseGeometry | None = field(default=None, repr=False)  # lon/lat

    def to_dict(self) -> dict:
        """JSON-ready, without the shape."""
        located = bool(np.isfinite([self.lon, self.lat]).all())
        return {"kind": self.kind, "parent": self.parent, "codes": list(self.codes),
                "area_m2": round(self.area_m2, 2),
                "location": {"lon": round(self.lon, 7), "lat": round(self.lat, 7)} if located else None,
                "detail": self.detail}


def check_coverage(parent: Unit, children: Sequence[Unit], tolerance_m2: float = 10.0,
                   sliver_m2: float = 100.0) -> list[Problem]:
    """Every gap, overlap, outside piece, invalid/multi-part geometry and sliver of `children` in `parent`.

    Boundary rule: children sharing an edge do not overlap (only a 2-D intersection counts);
    a child touching the parent's boundary from inside is not outside. Areas are m².
    """
    if not children:
        raise InputError(tr("%(code)s has no children to check", code=parent.code))
    frame = MetricFrame.around([parent.geometry])
    codes = [c.code for c in children]
    out: list[Problem] = []
    pm = _repair(frame, parent.code, parent.code, parent.geometry, out)
    cm = np.array([c.geometry for c in children], dtype=object)
    repaired = np.zeros(len(cm), dtype=bool)
    ok = shapely.is_valid(cm) & np.isin(shapely.get_type_id(cm), (3, 6)) & ~shapely.is_empty(cm)  # valid polygons
    for k in np.flatnonzero(~ok):
        cm[k] = _repair(frame, parent.code, codes[k], cm[k], out)
        repaired[k] = True
    out += _multipart_and_slivers(frame, parent.code, codes, cm, sliver_m2, repaired)
    # Children whose every edge is matched exactly by a neighbour (or lies free) cannot overlap
    # anything: only the others are candidates for overlaps, and only they need a full union.
    suspect = ~shapely.is_empty(shapely.coverage_invalid_edges(cm)) | shapely.is_empty(cm)
    tree = shapely.STRtree(cm)
    out += _overlaps(frame, parent.code, codes, cm, tree, tolerance_m2, np.flatnonzero(suspect))
    out += _outside(frame, parent.code, codes, pm, cm, tolerance_m2)
    out += _gaps(frame, parent.code, codes, pm, cm, tree, tolerance_m2, suspect)
    for p in out:  # an empty geometry has no place of its own: point at its parent
        if not np.isfinite([p.lon, p.lat]).all() and not pm.is_empty:
            at = shapely.point_on_surface(pm)
            p.lon, p.lat = float(at.x), float(at.y)
    out.sort(key=lambda p: (KINDS.index(p.kind), -p.area_m2, p.codes))
    return out



def _problem(frame: MetricFrame, kind: str, parent: str, codes: list[str], shape, detail: str = "",
             where=None, area: float | None = None) -> Problem:
    pt = where if where is not None else shapely.point_on_surface(shape)
    area = float(frame_area_m2(frame, shape)) if area is None else float(area)
    return Problem(kind, parent, codes, area, float(pt.x), float(pt.y), detail, shape)



def _repair(frame: MetricFrame, parent: str, code: str, g, out: list[Problem]):
    """Report an invalid, empty or non-polygonal geometry and return its polygonal repair."""
    if g is None or g.is_empty:
        out.append(Problem("invalid", parent, [code], 0.0, float("nan"), float("nan"), "empty geometry",
                           shapely.Polygon()))
        return shapely.Polygon()
    if shapely.is_valid(g) and g.geom_type in ("Polygon", "MultiPolygon"):
        return g
    reason = shapely.is_valid_reason(g) if not shapely.is_valid(g) else f"not a polygon ({g.geom_type})"
    fixed = polygonal(shapely.make_valid(g))
    m = _AT.search(reason)
    where = shapely.Point(float(m.group(1)), float(m.group(2))) if m else None  # lon/lat of the fault
    if where is None and not fixed.is_empty:
        where = shapely.point_on_surface(fixed)
    text = _AT.sub("", reason).strip() or reason
    if where is None:
        out.append(Problem("invalid", parent, [code], 0.0, float("nan"), float("nan"), text, shapely.Polygon()))
    else:
        out.append(_problem(frame, "invalid", parent, [code], fixed, f"{text}; repaired for this check", where))
    return fixed


def _multipart_and_slivers(frame, parent, codes, cm, sliver_m2, repaired) -> list[Problem]:
    out = []
    nparts = shapely.get_num_geometries(cm)
    for k in np.flatnonzero((nparts > 1) & ~repaired):  # a repaired bow-tie is reported once, as invalid
        parts = shapely.get_parts(cm[k])
        order = np.argsort(-frame_area_m2(frame, parts))
        rest = shapely.multipolygons(parts[order[1:]])
        p = _problem(frame, "multipart", parent, [codes[k]], rest)
        p.detail = f"{len(parts)} separate parts; the {len(parts) - 1} smaller total {p.area_m2:,.0f} m²"
        out.append(p)
    # slivers: a cheap screen in degrees² first (1 deg² is over 1e9 m² below 80° latitude), then true m²
    small = np.flatnonzero(shapely.area(cm) < sliver_m2 / 1e9)
    areas = frame_area_m2(frame, cm[small]) if len(small) else np.array([])
    for k, a in zip(small, areas):
        if 0 < a < sliver_m2:
            out.append(_problem(frame, "sliver", parent, [codes[k]], cm[k],
                                f"area {a:,.1f} m² is under the sliver threshold {sliver_m2:g} m²", area=a))
    return out


def _overlaps(frame, parent, codes, cm, tree, tol, suspects) -> list[Problem]:
    if len(suspects) == 0:
        return []
    qi, j = tree.query(cm[suspects], predicate="intersects")
    i = suspects[qi]
    pairs = np.unique(np.column_stack([np.minimum(i, j), np.maximum(i, j)]), axis=0)
    i, j = pairs[:, 0], pairs[:, 1]
    keep = i < j
    i, j = i[keep], j[keep]
    # interiors meet: a 2-D overlap (shared edges and corners only are fine)
    inner = shapely.relate_pattern(cm[i], cm[j], "T********")
    i, j = i[inner], j[inner]
    if len(i) == 0:
        return []
    shapes = np.array([polygonal(g) for g in shapely.intersection(cm[i], cm[j])], dtype=object)
    areas = frame_area_m2(frame, shapes)
    out = [_problem(frame, "overlap", parent, sorted([codes[a], codes[b]]), s,
                    f"{codes[a]} and {codes[b]} both cover {ar:,.1f} m²", area=ar)
           for a, b, s, ar in zip(i, j, shapes, areas) if ar >= tol and ar > 0]
    return out


def _outside(frame, parent, codes, pm, cm, tol) -> list[Problem]:
    shapely.prepare(pm)
    inside = shapely.covers(pm, cm)
    out = []
    for k in np.flatnonzero(~inside):
        piece = polygonal(shapely.difference(cm[k], pm))
        area = float(frame_area_m2(frame, piece))
        if area >= tol and area > 0:
            out.append(_problem(frame, "outside", parent, [codes[k], parent], piece,
                                f"{area:,.1f} m² of {codes[k]} lies outside {parent}", area=area))
    shapely.destroy_prepared(pm)
    return out


def _gaps(frame, parent, codes, pm, cm, tree, tol, suspect) -> list[Problem]:
    # coverage_union is ~6x faster than a full union but needs edges that match exactly and no
    # overlaps: true of the children not suspected; the suspects join with a full union
    union = shapely.coverage_union_all(cm[~suspect])
    if suspect.any():
        union = shapely.union_all(np.concatenate([[union], cm[suspect]]))
    rest = polygonal(shapely.difference(pm, union))
    parts = shapely.get_parts(rest)
    if len(parts) == 0:
        return []
    areas = frame_area_m2(frame, parts)
    out = []
    for piece, area in zip(parts, areas):
        if area < tol or area <= 0:
            continue
        near = tree.query(piece, predicate="dwithin", distance=1e-5)  # ~1 m: the children around the gap
        involved = [parent] + sorted(codes[n] for n in near)
        out.append(_problem(frame, "gap", parent, involved, piece,
                            f"{area:,.1f} m² of {parent} is in no child"
                            + (f" (between {', '.join(involved[1:])})" if len(involved) > 1 else ""), area=area))
    return out


# -- outputs ------------------------------------------------------------------------------------------
def problems_json(problems: Sequence[Problem]) -> list[dict]:
    """The problems as a JSON-ready list (no shapes)."""
    return [p.to_dict() for p in problems]


def problems_geojson(problems: Sequence[Problem]) -> dict:
    """RFC 7946 FeatureCollection of the problem shapes (lon/lat), with the problem as properties."""
    feats = []
    for n, p in enumerate(problems, start=1):
        geom = p.geometry
        if geom is None or geom.is_empty:
            geom = shapely.Point(p.lon, p.lat) if np.isfinite([p.lon, p.lat]).all() else None
        mapped = shapely.geometry.mapping(shapely.orient_polygons(geom)) if geom is not None else None
        feats.append({"type": "Feature", "id": n, "properties": p.to_dict(), "geometry": mapped})
    return {"type": "FeatureCollection", "features": feats}


def map_layer(problems: Sequence[Problem]) -> dict:
    """GeoJSON a Leaflet layer can draw as is: each feature carries `style` and a `tooltip` text."""
    fc = problems_geojson(problems)
    for f, p in zip(fc["features"], problems):
        style = {k: v for k, v in STYLE[p.kind].items() if v is not None}
        f["properties"]["style"] = {**style, "weight": 2, "fillOpacity": 0.45}
        f["properties"]["tooltip"] = f"{p.kind}: {', '.join(p.codes)} ({p.area_m2:,.0f} m²)"
    fc["legend"] = {kind: STYLE[kind]["color"] for kind in KINDS}
    return fc
