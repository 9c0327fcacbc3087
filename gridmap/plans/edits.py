"""Edits of a draft plan as pure functions: units in, changed units out (no I/O).

Every edit keeps coverage exact: the union of the units it returns equals the union of the
units it was given, and no two of them overlap. New pieces are cut from the old geometry with
shared cut lines (a split line, a strip edge, the planner's polygon), so neighbours meet
vertex for vertex; what is left is floating-point noise far below a square millimetre.
Geometry is EPSG:4326 lon/lat; areas reported in geodesic m². Every shape an edit writes is
normalised (shapes.normalise: canonical ring order, no cut points left on straight edges,
oriented rings), so an edit followed by its inverse gives back the very same coordinates.

An edit never breaks a unit into pieces or lets one vanish: it refuses instead (InputError),
naming the unit and the place. Households and population follow the area (largest-remainder
rounding keeps totals), except when households are moved as points, which move by count.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points, split

from ..errors import InputError
from ..geo.crs import area_perimeter_m
from ..i18n import tr
from ..registry.model import Unit
from .shapes import area_m2, metres_to_degrees, normalise, parts, polygonal, shared_length, where

# new_codes(parent_code, geometries, based_on) -> one fresh code per geometry
CodeMaker = Callable[[str | None, list[BaseGeometry], str], list[str]]
MAX_PARTS = 50
NOISE_M2 = 0.01  # pieces smaller than this (m²) are floating-point noise of the overlay, not land


@dataclass
class EditResult:
    """What an edit changes: units to write (new or changed) and codes to remove."""

    upserts: list[Unit] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: list[str] = field(default_factory=list)

    @property
    def changed(self) -> list[str]:
        """Codes kept but reshaped."""
        return sorted(u.code for u in self.upserts if u.code not in self.created)


# -- split -------------------------------------------------------------------------------------
def split_by_line(unit: Unit, line: BaseGeometry, new_codes: CodeMaker) -> EditResult:
    """Cut a unit along a drawn line that crosses it from edge to edge.

    The largest piece keeps the unit's code (and staff); the others get new codes.
    """
    if not line.intersects(unit.geometry):
        raise InputError(tr("the line does not cross %(code)s: draw it across the grid, from outside to outside", code=unit.code))
    pieces, rest = [], []
    for part in shapely.get_parts(unit.geometry):
        cut = [p for p in shapely.get_parts(split(part, line)) if p.geom_type == "Polygon" and p.area > 0]
        if len(cut) > 1:
            pieces.extend(cut)
        else:
            rest.append(part)
    if len(pieces) < 2:
        raise InputError(tr("the line does not cut %(code)s in two: it must cross the grid from edge to edge (both ends outside it)", code=unit.code))
    return _pieces(unit, pieces, rest, new_codes)


def split_into_parts(unit: Unit, k: int, new_codes: CodeMaker) -> EditResult:
    """Cut a unit into `k` strips of equal area across its longer axis (in metres).

    The strips are bounded by lines of constant longitude (a wide grid) or latitude (a tall
    one), found by bisection on the area. The westernmost (or northernmost) strip keeps
    the unit's code. A strip that would fall into pieces (a concave grid) is refused.
    """
    if not 2 <= int(k) <= MAX_PARTS:
        raise InputError(tr("parts: split into 2 to %(MAX_PARTS)s parts, not %(k)s", MAX_PARTS=MAX_PARTS, k=k))
    g = unit.geometry
    minx, miny, maxx, maxy = g.bounds
    lat0 = (miny + maxy) / 2
    wide = (maxx - minx) * np.cos(np.radians(lat0)) >= (maxy - miny)
    total = g.area
    lo_edge, hi_edge = (minx, maxx) if wide else (miny, maxy)
    pad = 1.0  # degree: strips reach well past the grid so only the cut lines matter

    def strip(a: float, b: float) -> BaseGeometry:
        box = shapely.box(a, miny - pad, b, maxy + pad) if wide else shapely.box(minx - pad, a, maxx + pad, b)
        return polygonal(shapely.intersection(g, box))

    cuts = []
    for j in range(1, int(k)):
        lo, hi = lo_edge, hi_edge
        for _ in range(60):  # bisection to ~1e-18 of the extent: below float precision
            mid = (lo + hi) / 2
            if strip(lo_edge - pad, mid).area < total * j / k:
                lo = mid
            else:
                hi = mid
        cuts.append((lo + hi) / 2)
    edges = [lo_edge - pad, *cuts, hi_edge + pad]
    pieces = [strip(a, b) for a, b in zip(edges[:-1], edges[1:])]
    if not wide:
        pieces = pieces[::-1]  # north first
    for i, p in enumerate(pieces, start=1):
        if parts(p) != 1:
            raise InputError(tr("part %(i)s of %(k)s of %(code)s would fall into %(v)s pieces (the grid is concave there): split it with a drawn line instead", i=i, k=k, code=unit.code, v=parts(p)))
    keep = pieces[0]
    others = pieces[1:]
    codes = new_codes(unit.parent_code, others, unit.code)
    return _result(unit_list=[unit], shapes=[keep, *others], codes=[unit.code, *codes], base=unit)


def _pieces(unit: Unit, pieces: list, rest: list, new_codes: CodeMaker) -> EditResult:
    pieces.sort(key=lambda p: -p.area)
    keep = shapely.union_all([pieces[0], *rest]) if rest else pieces[0]
    others = pieces[1:]
    codes = new_codes(unit.parent_code, others, unit.code)
    return _result(unit_list=[unit], shapes=[keep, *others], codes=[unit.code, *codes], base=unit)


# -- merge -------------------------------------------------------------------------------------
def merge(units: Sequence[Unit]) -> EditResult:
    """Merge adjacent units into the first one (it keeps its code, name and staff)."""
    if len(units) < 2:
        raise InputError(tr("merge: name at least two grids"))
    first = units[0]
    for u in units[1:]:
        if u.parent_code != first.parent_code or u.level != first.level:
            raise InputError(tr("merge: %(code)s is in %(parent_code)s, %(code2)s in %(parent_code2)s: only grids of one parent merge", code=u.code, parent_code=u.parent_code, code2=first.code, parent_code2=first.parent_code))
    # connected through shared edges (touching at a corner is not enough)
    joined, todo = {0}, [0]
    while todo:
        i = todo.pop()
        for j, u in enumerate(units):
            if j not in joined and shared_length(units[i].geometry, u.geometry) > 0:
                joined.add(j)
                todo.append(j)
    apart = [u.code for j, u in enumerate(units) if j not in joined]
    if apart:
        raise InputError(tr("merge: %(apart)s do(es) not share an edge with %(code)s or the others named; only adjacent grids merge", apart=", ".join(apart), code=first.code))
    merged = polygonal(shapely.union_all([u.geometry for u in units]))
    if parts(merged) > max(parts(u.geometry) for u in units):
        raise InputError(tr("merge: the grids %(v)s touch only at points", v=", ".join((u.code for u in units))))
    out = with_geometry(first, merged)
    out.households = _sum([u.households for u in units])
    out.population = _sum([u.population for u in units])
    return EditResult(upserts=[out], deletes=[u.code for u in units[1:]])


# -- moving boundaries -------------------------------------------------------------------------
def reshape(unit: Unit, polygon: BaseGeometry, siblings: Sequence[Unit], neighbour: str | None = None) -> EditResult:
    """Give `unit` a new outline; the neighbours lose what it gains and gain what it loses.

    `siblings` are the other units of the same parent and level. The new outline is clipped
    to the area the unit and its siblings cover (nothing leaves the parent). Each piece the
    unit gives up goes to the sibling sharing the longest edge with it; with `neighbour`,
    only that sibling may change.
    """
    others = [s for s in siblings if s.code != unit.code]
    region = shapely.union_all([unit.geometry, *[s.geometry for s in others]])
    new = polygonal(shapely.intersection(polygon, region))
    notes = []
    outside = area_m2(polygonal(shapely.difference(polygon, region)))
    if outside > 0.01:
        notes.append(tr("%(outside)s m² of the new outline lay outside the parent's grids and was left out", outside=format(outside, ".1f")))
    if new.is_empty or area_m2(new) < 0.01:
        raise InputError(tr("reshape: the new outline of %(code)s does not overlap the grids of its parent", code=unit.code))
    gained = polygonal(shapely.difference(new, unit.geometry))
    lost = polygonal(shapely.difference(unit.geometry, new))
    geoms = {s.code: s.geometry for s in others}
    changed: set[str] = set()
    if not gained.is_empty:
        for s in others:
            taken = polygonal(shapely.intersection(s.geometry, gained)) if shapely.intersects(s.geometry, gained) else None
            if taken is None or taken.is_empty or taken.area == 0:
                continue
            # float noise along an edge drawn on a neighbour's edge is cut away but not held against `neighbour`
            if neighbour is not None and s.code != neighbour and area_m2(taken) > NOISE_M2:
                raise InputError(tr("reshape: the new outline of %(code)s also takes area from %(code2)s (near %(v)s), not only from %(neighbour)s", code=unit.code, code2=s.code, v=where(taken), neighbour=neighbour))
            geoms[s.code] = polygonal(shapely.difference(s.geometry, new))
            changed.add(s.code)
    for piece in ([] if lost.is_empty else shapely.get_parts(lost)):
        if piece.geom_type != "Polygon" or piece.area == 0:
            continue
        candidates = [(shared_length(piece, geoms[c]), c) for c in geoms if neighbour is None or c == neighbour]
        length, code = max(candidates, default=(0.0, None))
        if (code is None or length == 0) and area_m2(piece) <= NOISE_M2:
            continue  # float noise, not a piece of land
        if code is None or length == 0:
            raise InputError(tr("reshape: %(v)s m² that %(code)s gives up near %(v2)s touches ", v=format(area_m2(piece), ".1f"), code=unit.code, v2=where(piece)) + (tr("no edge of %(neighbour)s", neighbour=neighbour) if neighbour else tr("no neighbouring grid")) + tr(" and would be left uncovered"))
        geoms[code] = polygonal(shapely.union(geoms[code], piece))
        changed.add(code)
    if not changed:
        raise InputError(tr("reshape: the new outline of %(code)s is the same as the old one", code=unit.code))
    units = [unit, *[s for s in others if s.code in changed]]
    shapes = [new, *[geoms[s.code] for s in others if s.code in changed]]
    res = _result(unit_list=units, shapes=shapes, codes=[u.code for u in units], base=None)
    res.notes = notes
    return res


def move_area(src: Unit, dst: Unit, area: BaseGeometry) -> EditResult:
    """Move the part of `src` inside a drawn area to the adjacent unit `dst`."""
    _pair(src, dst)
    moved = polygonal(shapely.intersection(area, src.geometry))
    if moved.is_empty or area_m2(moved) < 0.01:
        raise InputError(tr("move: the area does not overlap %(code)s", code=src.code))
    new_src = polygonal(shapely.difference(src.geometry, area))
    new_dst = polygonal(shapely.union(dst.geometry, moved))
    if new_src.is_empty or area_m2(new_src) < 0.01:
        raise InputError(tr("move: the area covers all of %(code)s: merge the grids instead", code=src.code))
    if parts(new_dst) > parts(dst.geometry):
        raise InputError(tr("move: the area taken from %(code)s does not touch %(code2)s (near %(v)s); draw it up to their shared edge", code=src.code, code2=dst.code, v=where(moved)))
    return _result(unit_list=[src, dst], shapes=[new_src, new_dst], codes=[src.code, dst.code], base=None)


def move_points(src: Unit, dst: Unit, points: Sequence[tuple[float, float]], margin_m: float = 1.0) -> EditResult:
    """Move households given as points from `src` to the adjacent `dst`.

    The area moved is the convex hull of the points and of their nearest points on the
    edge the two units share (widened by `margin_m` so points on its rim are inside), cut
    to `src`. Households move by count: one per point.
    """
    _pair(src, dst)
    if not points:
        raise InputError(tr("move: give at least one household point"))
    pts = shapely.points(np.asarray(points, dtype=float))
    outside = [f"({p.x:.6f}, {p.y:.6f})" for p in pts if not src.geometry.covers(p)]
    if outside:
        raise InputError(tr("move: %(n)s point(s) are not in %(code)s: %(v)s", n=len(outside), code=src.code, v=", ".join(outside[:5])))
    edge = shapely.intersection(src.geometry.boundary, dst.geometry.boundary)
    if edge.is_empty or edge.length == 0:
        raise InputError(tr("move: %(code)s and %(code2)s share no edge", code=src.code, code2=dst.code))
    anchors = [nearest_points(edge, p)[0] for p in pts]
    hull = shapely.convex_hull(shapely.MultiPoint([*pts, *anchors]))
    lat = float(np.mean([p.y for p in pts]))
    area = shapely.buffer(hull, metres_to_degrees(margin_m, lat))
    res = move_area(src, dst, area)
    n = len(pts)
    s, d = res.upserts
    if src.households is not None:
        s.households = max(0, src.households - n)
    d.households = (dst.households or 0) + n
    return res


def _pair(src: Unit, dst: Unit) -> None:
    if src.code == dst.code:
        raise InputError(tr("move: the two grids are the same"))
    if src.parent_code != dst.parent_code or src.level != dst.level:
        raise InputError(tr("move: %(code)s and %(code2)s are in different parents; move their parents' boundary first", code=src.code, code2=dst.code))


# -- snapping ----------------------------------------------------------------------------------
def snap(units: Sequence[Unit], tolerance_m: float) -> EditResult:
    """Close gaps and remove overlaps narrower than `tolerance_m` between neighbouring units.

    Only pairs with a problem are touched: an overlap, or a gap between them (area within
    the tolerance of both that no unit covers) larger than the rounding at their corners
    (4 x tolerance²). Their vertices within the tolerance are snapped together (GEOS
    snapping, both ways, in code order), then any overlap left goes to the unit with the
    lower code. Clean neighbours and units farther apart are left exactly as they are.
    """
    if not tolerance_m > 0 or tolerance_m > 100:
        raise InputError(tr("tolerance: a distance in metres from 0 to 100, not %(tolerance_m)s", tolerance_m=tolerance_m))
    units = sorted(units, key=lambda u: u.code)
    if not units:
        return EditResult()
    lat = float(np.mean([u.geometry.centroid.y for u in units]))
    tol = metres_to_degrees(tolerance_m, lat)
    geoms = [u.geometry for u in units]
    tree = shapely.STRtree(geoms)
    close = [[int(j) for j in tree.query(g, predicate="dwithin", distance=tol) if int(j) != i]
             for i, g in enumerate(geoms)]
    bad = {(i, j) for i in range(len(geoms)) for j in close[i]
           if i < j and _needs_snap(i, j, geoms, close, tol, 4 * tolerance_m ** 2)}
    near = [[j for j in close[i] if (min(i, j), max(i, j)) in bad] for i in range(len(geoms))]
    new = list(geoms)
    for _ in range(2):  # the second pass gives earlier units the vertices later ones brought
        for i in range(len(new)):
            if near[i]:
                ref = shapely.union_all([new[j] for j in near[i]])
                new[i] = polygonal(shapely.make_valid(shapely.snap(new[i], ref, tol)))
    for i in range(len(new)):
        earlier = [new[j] for j in near[i] if j < i]
        if earlier:
            new[i] = polygonal(shapely.difference(new[i], shapely.union_all(earlier)))
    # rings rewritten by the overlay but covering the same points are not a change
    changed = [i for i in range(len(units)) if not shapely.equals(new[i], geoms[i])]
    for i in changed:
        if new[i].is_empty or parts(new[i]) > parts(geoms[i]):
            raise InputError(tr("snap: %(code)s would fall apart at %(tolerance_m)s m; use a smaller tolerance", code=units[i].code, tolerance_m=tolerance_m))
    res = EditResult(upserts=[with_geometry(units[i], new[i]) for i in changed])
    res.notes = [f"{len(changed)} unit(s) snapped at {tolerance_m} m"]
    return res


def _needs_snap(i: int, j: int, geoms: list, close: list[list[int]], tol: float, corner_m2: float) -> bool:
    """Units i and j overlap, or leave a gap between them wider than rounding at corners."""
    a, b = geoms[i], geoms[j]
    if area_m2(polygonal(shapely.intersection(a, b))) > 0:
        return True
    between = shapely.intersection(shapely.buffer(a, tol), shapely.buffer(b, tol))
    covered = shapely.union_all([geoms[k] for k in {i, j, *close[i], *close[j]}])
    return area_m2(polygonal(shapely.difference(between, covered))) > corner_m2


# -- helpers -----------------------------------------------------------------------------------
def _result(unit_list: Sequence[Unit], shapes: Sequence[BaseGeometry], codes: Sequence[str],
            base: Unit | None) -> EditResult:
    """Units for new shapes (codes[i] for shapes[i]); counts re-apportioned by area from `unit_list`."""
    for code, g in zip(codes, shapes):
        if g.is_empty or area_m2(g) < 0.01:
            raise InputError(tr("%(code)s would be left with no area; merge it instead", code=code))
    olds = {u.code: u for u in unit_list}
    for code, g in zip(codes, shapes):
        if code in olds and parts(g) > parts(olds[code].geometry):
            raise InputError(tr("%(code)s would fall into %(v)s pieces (near %(v2)s); draw the change so each grid stays in one piece", code=code, v=parts(g), v2=where(g)))
    households = _apportion([u.households for u in unit_list], [u.geometry for u in unit_list], shapes)
    population = _apportion([u.population for u in unit_list], [u.geometry for u in unit_list], shapes)
    out = []
    created = sorted(c for c in codes if c not in olds)  # named -2, -3, ... in code (reading) order
    for i, (code, g) in enumerate(zip(codes, shapes)):
        template = olds.get(code) or base
        u = with_geometry(template, g)
        if code not in olds:
            u = replace(u, code=code, name=f"{template.name}-{created.index(code) + 2}", properties={})
        u.households, u.population = households[i], population[i]
        out.append(u)
    return EditResult(upserts=out, created=created)


def with_geometry(u: Unit, g: BaseGeometry) -> Unit:
    """The unit with its new shape in canonical form (shapes.normalise: no stray cut points, oriented rings)."""
    g = normalise(g)
    area, perimeter = area_perimeter_m(g)
    return replace(u, geometry=g, area_m2=area, perimeter_m=perimeter)


def _apportion(values: Sequence[int | None], olds: Sequence[BaseGeometry], news: Sequence[BaseGeometry]) -> list[int | None]:
    """Split counts of old shapes over new ones by area share; totals kept (largest remainder)."""
    if all(v is None for v in values):
        return [None] * len(news)
    share = np.zeros(len(news))
    for v, old in zip(values, olds):
        if not v or old.area == 0:
            continue
        share += [v * shapely.intersection(old, n).area / old.area for n in news]
    total = int(round(share.sum()))
    floors = np.floor(share).astype(int)
    left = total - int(floors.sum())
    for i in np.argsort(-(share - floors))[:max(left, 0)]:
        floors[i] += 1
    return [int(x) for x in floors]


def _sum(values: Sequence[int | None]) -> int | None:
    return None if all(v is None for v in values) else sum(v or 0 for v in values)
