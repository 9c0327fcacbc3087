"""Automatic proposal: cut a zone into contiguous, compact grids that each meet a household range.

Input: the zone, household (or building) points with a household count each, optional barrier
lines (roads, rivers) and locked grids kept as they are. The free area (zone minus locked
grids) is cut into the Voronoi cells of the points, so the grids are unions of cells and
cover the free area exactly, with no gap and no overlap; the zone's own boundary is kept
vertex for vertex. Cells are adjacent when they share an edge that no barrier crosses.

Methods:
  bisect  (ours) recursive weighted bisection across the principal axis, then contiguity
          repair and a local search that moves boundary cells between neighbouring grids:
          first to bring every grid into the household range, then to make grids compact
          (least household-weighted moment of inertia), never breaking a grid in two.
  skater  PySAL spopt SKATER (minimum spanning tree pruning on cell coordinates) for k grids.
  maxp    PySAL spopt max-p: as many grids as possible, each with at least the minimum.
Geometry is worked in metres in a local equal-area frame; output is lon/lat.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import shapely

from ..errors import InputError
from ..geo.frame import MetricFrame
from ..i18n import tr
from ..registry.codes import generate_codes
from ..registry.model import Level, Unit
from . import polsby_popper
from .balance import measure
from .regions import bisect, contiguous, refine, spopt_labels

METHODS = ("bisect", "skater", "maxp")


@dataclass
class Proposal:
    """A proposed partition of a zone: new grids (codes generated) plus the locked ones."""

    zone: str
    method: str
    units: list[Unit]
    locked: list[str]
    households: tuple[int, int] | None
    seconds: float
    points_used: int
    points_dropped: int
    stats: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Summary and one row per grid (no shapes)."""
        grids = [{"code": u.code, "households": u.households, "area_km2": round((u.area_m2 or 0) / 1e6, 4),
                  "compactness": u.properties.get("compactness"), "parts": u.properties.get("parts"),
                  "locked": u.code in self.locked} for u in self.units]
        return {"zone": self.zone, "method": self.method, "households_target": list(self.households or []) or None,
                "seconds": round(self.seconds, 3), "points_used": self.points_used,
                "points_dropped": self.points_dropped, "stats": self.stats, "grids": grids}

    def geojson(self) -> dict:
        """The proposed grids as an RFC 7946 FeatureCollection (a draft plan's units)."""
        from ..io.writers import feature

        return {"type": "FeatureCollection", "features": [feature(u) for u in self.units],
                "proposal": {k: v for k, v in self.to_dict().items() if k != "grids"}}


def propose(zone: Unit, points: np.ndarray, weights: np.ndarray | None = None, *,
            households: tuple[int, int] | None = None, grids: int | None = None,
            barriers: Sequence = (), locked: Sequence[Unit] = (), method: str = "bisect",
            level: Level | None = None, first_serial: int | None = None) -> Proposal:
    """Partition `zone` (lon/lat) from household points (n×2 lon/lat, `weights` households each)."""
    t0 = time.perf_counter()
    if method not in METHODS:
        raise InputError(tr("unknown method %(method)r; use one of %(METHODS)s", method=method, METHODS=', '.join(METHODS)))
    if households is None and grids is None:
        raise InputError(tr("give a households range (e.g. 10-15) or a number of grids"))
    cells = _cells(zone, points, weights, barriers, locked)
    total = float(cells.w.sum())
    k = _region_count(total, households, grids, cells.n, zone.code)
    lo, hi = households if households else (total / k, total / k)
    if method == "bisect":
        labels = bisect(cells.xy, cells.w, k)
        labels = contiguous(labels, cells.nbrs, cells.w)
        labels = refine(labels, cells.xy, cells.w, cells.nbrs, lo, hi, cells.edge, cells.scale)
    else:
        labels = spopt_labels(method, cells, k, lo)
        labels = contiguous(labels, cells.nbrs, cells.w)
    polys = _dissolve(cells.geoms, labels)
    new = _units(zone, polys, locked, level, first_serial)
    units = new + list(locked)
    _count(units, cells)
    stats = _stats(units, [u.code for u in locked], households)
    return Proposal(zone.code, method, units, [u.code for u in locked], households, time.perf_counter() - t0,
                    cells.n_points, cells.dropped, stats)


@dataclass
class Cells:
    geoms: np.ndarray  # lon/lat Voronoi cells clipped to the free area
    xy: np.ndarray  # generator points, metres
    lonlat: np.ndarray
    w: np.ndarray  # households per cell
    nbrs: list[np.ndarray]  # adjacency not crossing a barrier
    n_points: int
    dropped: int
    edge: list[np.ndarray]  # length (m) of the edge shared with each neighbour
    scale: float  # metres: the side of an average grid's square, to weigh shape against spread

    @property
    def n(self) -> int:
        return len(self.w)


def _cells(zone: Unit, points, weights, barriers, locked) -> Cells:
    pts = np.asarray(points, dtype=float).reshape(-1, 2)
    w = np.ones(len(pts)) if weights is None else np.asarray(weights, dtype=float)
    if len(w) != len(pts):
        raise InputError(tr("one household count per point is needed"))
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError(tr("household counts must be numbers ≥ 0"))
    free = zone.geometry
    if locked:
        for u in locked:
            if u.parent_code not in (None, zone.code):
                raise InputError(tr("locked grid %(code)s is not in zone %(code2)s", code=u.code, code2=zone.code))
        free = shapely.difference(free, shapely.union_all([u.geometry for u in locked]))
    if free.is_empty:
        raise InputError(tr("locked grids cover all of %(code)s: nothing left to divide", code=zone.code))
    shapely.prepare(free)
    ok = np.isfinite(pts).all(axis=1)
    ok[ok] = shapely.intersects_xy(free, pts[ok, 0], pts[ok, 1])
    dropped = int((~ok).sum())
    pts, w = pts[ok], w[ok]
    if len(pts) == 0:
        raise InputError(tr("no household point lies in the free part of %(code)s (check the CRS: --crs)", code=zone.code))
    uniq, inv = np.unique(np.round(pts, 8), axis=0, return_inverse=True)  # ~1 mm: same building
    w = np.bincount(inv.ravel(), weights=w, minlength=len(uniq))
    frame = MetricFrame.around([zone.geometry])
    x, y = frame.xy_to_m(uniq[:, 0], uniq[:, 1])
    xy = np.column_stack([x, y])
    if len(xy) == 1:
        geoms = np.array([free], dtype=object)
    else:
        b = shapely.bounds(frame.to_m(shapely.envelope(zone.geometry)))
        pad = max(b[2] - b[0], b[3] - b[1])
        box = shapely.box(b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad)
        vor = shapely.get_parts(shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=box, ordered=True))
        # clip in lon/lat so the zone's boundary stays exactly its own
        geoms = shapely.intersection(frame.to_lonlat(vor), free)
    shapely.destroy_prepared(free)
    nbrs, edge = _adjacency(frame.to_m(geoms), xy, [frame.to_m(g) for g in barriers])
    return Cells(geoms, xy, uniq, w, nbrs, int(ok.sum()), dropped, edge,
                  float(np.sqrt(shapely.area(frame.to_m(free)))))


def _adjacency(geoms: np.ndarray, xy: np.ndarray, barriers_m: list) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Cells (metres) sharing an edge whose generators no barrier separates, and the edge lengths."""
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    edge = shapely.relate_pattern(geoms[i], geoms[j], "****1****")
    i, j = i[edge], j[edge]
    if barriers_m and len(i):
        lines = shapely.linestrings(np.stack([xy[i], xy[j]], axis=1))
        btree = shapely.STRtree(np.array(barriers_m, dtype=object))
        crossed = np.zeros(len(i), dtype=bool)
        crossed[np.unique(btree.query(lines, predicate="intersects")[0])] = True
        i, j = i[~crossed], j[~crossed]
    length = shapely.length(shapely.intersection(shapely.boundary(geoms[i]), shapely.boundary(geoms[j])))
    nb: list[list[int]] = [[] for _ in range(len(geoms))]
    ln: list[list[float]] = [[] for _ in range(len(geoms))]
    for a, b, x in zip(i.tolist(), j.tolist(), length.tolist()):
        nb[a].append(b)
        nb[b].append(a)
        ln[a].append(x)
        ln[b].append(x)
    return [np.array(x, dtype=int) for x in nb], [np.array(x, dtype=float) for x in ln]


def _region_count(total: float, households, grids, n: int, code: str) -> int:
    if grids is not None:
        if grids < 1:
            raise InputError(tr("the number of grids must be at least 1, got %(grids)s", grids=grids))
        k = grids
    else:
        lo, hi = households
        kmin, kmax = max(1, math.ceil(total / hi)), math.floor(total / lo) if lo > 0 else n
        if kmin > kmax:
            raise InputError(tr("%(total)s households in %(code)s cannot be cut into grids of %(lo)s-%(hi)s: %(v)s grids would be too big and %(kmin)s too small; widen the range", total=format(total, ",.0f"), code=code, lo=lo, hi=hi, v=kmin - 1, kmin=kmin))
        k = min(max(round(total / ((lo + hi) / 2)), kmin), kmax)
    if k > n:
        raise InputError(tr("%(k)s grids need at least %(k)s household points in %(code)s; found %(n)s", k=k, code=code, n=n))
    return k


def _dissolve(geoms: np.ndarray, labels: np.ndarray) -> list:
    """One polygon per label; a detached piece goes to the grid sharing its longest edge."""
    polys = [shapely.union_all(geoms[labels == r]) for r in range(labels.max() + 1)]
    polys = [p for p in polys if not p.is_empty]
    for _ in range(10):
        moved = False
        for r, p in enumerate(polys):
            parts = shapely.get_parts(p)
            if len(parts) < 2:
                continue
            parts = parts[np.argsort(-shapely.area(parts))]
            keep = [parts[0]]
            for part in parts[1:]:
                shared = [(shapely.length(shapely.intersection(part.boundary, q.boundary)), s)
                          for s, q in enumerate(polys) if s != r]
                length, s = max(shared) if shared else (0.0, -1)
                if length > 0:
                    polys[s] = shapely.union(polys[s], part)
                    moved = True
                else:
                    keep.append(part)
            polys[r] = shapely.union_all(keep)
        if not moved:
            break
    return polys


def _units(zone: Unit, polys: list, locked: Sequence[Unit], level: Level | None, first: int | None) -> list[Unit]:
    level = level or (list(Level)[min(Level(zone.level).rank + 1, len(Level) - 1)])
    taken = [int(u.code[-3:]) for u in locked if u.code.startswith(zone.code) and u.code[-3:].isdigit()]
    first = max(first or 1, max(taken, default=0) + 1)  # never reuse a locked grid's serial
    try:
        codes = generate_codes(zone.code, np.array(polys, dtype=object), start=first)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return sorted((Unit(code=c, name=f"第{int(c[-3:])}网格", level=level, geometry=shapely.normalize(p),
                        parent_code=zone.code, properties={"proposed": True}) for c, p in zip(codes, polys)),
                  key=lambda u: u.code)


def _count(units: list[Unit], cells: Cells) -> None:
    """Households of each unit from the points it covers; area, perimeter and shape figures."""
    tree = shapely.STRtree(np.array([u.geometry for u in units], dtype=object))
    pts = shapely.points(cells.lonlat)
    pi, ui = tree.query(pts, predicate="intersects")
    first = np.full(len(pts), -1)
    first[pi[::-1]] = ui[::-1]  # a point on a shared edge counts once
    hh = np.bincount(first[first >= 0], weights=cells.w[first >= 0], minlength=len(units))
    area, perim, parts = measure(units)
    for u, h, a, p, n in zip(units, hh, area, perim, parts):
        u.households = int(round(h)) if u.properties.get("proposed") or u.households is None else u.households
        u.area_m2, u.perimeter_m = float(a), float(p)
        u.properties = {**u.properties, "compactness": round(float(polsby_popper(a, p)), 3), "parts": int(n)}


def _stats(units: list[Unit], locked: list[str], households) -> dict:
    new = [u for u in units if u.code not in locked]
    hh = np.array([u.households for u in new], dtype=float)
    pp = np.array([u.properties["compactness"] for u in new])
    out = {"grids": len(new), "locked": len(locked), "households_min": int(hh.min()), "households_max": int(hh.max()),
           "households_mean": round(float(hh.mean()), 1),
           "households_cv": round(float(hh.std() / hh.mean()), 3) if hh.mean() else None,
           "compactness_mean": round(float(pp.mean()), 3), "compactness_min": round(float(pp.min()), 3),
           "contiguous": all(u.properties["parts"] == 1 for u in new)}
    if households:
        out["within_range"] = int(((hh >= households[0]) & (hh <= households[1])).sum())
    return out
