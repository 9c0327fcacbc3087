"""The compiled point-in-polygon kernel gives GEOS's answers point by point, boundary points
included (covers, lowest code): vertices, edge midpoints, a ulp either side of them, points
level with vertices (the ray-crossing corner cases), holes, multipolygons, random points."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap.registry import pipkernel
from gridmap.registry.flatindex import FlatIndex
from gridmap.registry.index import GridIndex
from gridmap.registry.model import Level
from gridmap.store.base import UnitRows

pytestmark = pytest.mark.skipif(not pipkernel.available(), reason="numba (gridmap[fast]) not installed")


def polygons() -> list:
    """Wiggly Voronoi cells sharing their edges exactly, boxes (horizontal edges), a hole, a multipolygon."""
    rng = np.random.default_rng(7)
    seeds = shapely.multipoints(rng.uniform(0, 1, (60, 2)))
    cells = list(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=shapely.box(0, 0, 1, 1))))
    cells = [shapely.intersection(c, shapely.box(0, 0, 1, 1)) for c in cells]
    cells = [shapely.segmentize(c, 0.02) if i % 2 else c for i, c in enumerate(cells)]  # long and short edges
    boxes = [shapely.box(1 + 0.25 * i, 0.25 * j, 1.25 + 0.25 * i, 0.25 + 0.25 * j) for i in range(4) for j in range(4)]
    holed = shapely.Polygon([(2.2, 0), (3, 0), (3, 1), (2.2, 1)], [[(2.4, 0.2), (2.8, 0.2), (2.8, 0.8), (2.4, 0.8)]])
    inner = shapely.box(2.5, 0.3, 2.7, 0.7)  # inside the hole: a point there is in `inner` only
    multi = shapely.MultiPolygon([shapely.box(3.2, 0, 3.4, 0.2), shapely.box(3.6, 0.6, 3.9, 0.95)])
    return [g for g in cells if g.geom_type == "Polygon"] + boxes + [holed, inner, multi]


def probe_points(geoms) -> np.ndarray:
    xy = shapely.get_coordinates(geoms)
    mid = (xy[:-1] + xy[1:]) / 2
    base = np.unique(np.vstack([xy, mid]), axis=0)
    up = np.nextafter(base, np.inf)
    down = np.nextafter(base, -np.inf)
    level = np.column_stack([base[:, 0] + 0.013, base[:, 1]])  # level with a vertex, off to one side
    rng = np.random.default_rng(11)
    rand = rng.uniform([-0.1, -0.1], [4.0, 1.1], (20_000, 2))
    # on an edge up to rounding: the orientation's floating-point sign is not to be trusted there
    t = rng.uniform(0, 1, (len(xy) - 1, 1))
    online = xy[:-1] + t * (xy[1:] - xy[:-1])
    return np.vstack([base, up, down, np.column_stack([up[:, 0], down[:, 1]]), level, rand, online])


def reference(geoms, pts) -> np.ndarray:
    """The rule written plainly: the lowest index whose (unprepared) polygon covers the point."""
    out = np.full(len(pts), -1)
    for i in range(len(geoms) - 1, -1, -1):
        hit = shapely.intersects_xy(geoms[i], pts[:, 0], pts[:, 1])
        out[hit] = i
    return out


def test_kernel_equals_geos_on_boundary_points():
    geoms = np.array(polygons(), dtype=object)
    codes = [f"{i:04d}" for i in range(len(geoms))]
    index = GridIndex.build(UnitRows(codes, codes, ["grid"] * len(codes), [None] * len(codes), []), {},
                            Level.grid, geoms=geoms)
    pts = probe_points(geoms)
    want = reference(geoms, pts)
    kernel = index.locate_many(pts[:, 0], pts[:, 1], kernel=True)
    geos = index.locate_many(pts[:, 0], pts[:, 1], kernel=False)
    assert np.array_equal(kernel, want) and np.array_equal(geos, want)
    raw = pipkernel.locate_flat(index.flat_index(), np.ascontiguousarray(pts[:, 0]), np.ascontiguousarray(pts[:, 1]))
    unsure = raw == pipkernel.UNSURE
    # the kernel decides nearly everything itself and hands GEOS only points on or a hair from an edge
    assert 0 < unsure.sum() < 0.1 * len(pts)
    assert np.array_equal(raw[~unsure], want[~unsure])
    on_boundary = shapely.intersects_xy(shapely.union_all(shapely.boundary(geoms)), pts[unsure, 0], pts[unsure, 1])
    near = shapely.distance(shapely.points(pts[unsure]), shapely.union_all(shapely.boundary(geoms))) < 1e-12
    assert (on_boundary | near).all()
    vx = np.unique(shapely.get_coordinates(geoms), axis=0)
    assert (index.locate_many(vx[:, 0], vx[:, 1]) >= 0).all()  # every vertex is covered: boundary points count


def test_index_from_flat_arrays_answers_the_same_without_geos_polygons():
    geoms = np.array(polygons(), dtype=object)
    codes = [f"{i:04d}" for i in range(len(geoms))]
    built = GridIndex.build(UnitRows(codes, codes, ["grid"] * len(codes), [None] * len(codes), []), {},
                            Level.grid, geoms=geoms)
    flat = FlatIndex.from_geoms(built.geoms)
    loaded = GridIndex.from_flat(built.codes, built.names, built.chains, Level.grid, flat)
    rand = np.random.default_rng(3).uniform([-0.1, -0.1], [4.0, 1.1], (5000, 2))
    assert np.array_equal(loaded.locate_many(rand[:, 0], rand[:, 1]), built.locate_many(rand[:, 0], rand[:, 1]))
    assert loaded._geoms is None  # the kernel decided every random point: no shapely polygon was made
    pts = probe_points(geoms)[::7]  # boundary points: GEOS asked for some, on polygons rebuilt from the arrays
    assert np.array_equal(loaded.locate_many(pts[:, 0], pts[:, 1]), built.locate_many(pts[:, 0], pts[:, 1]))
    loaded = GridIndex.from_flat(built.codes, built.names, built.chains, Level.grid, flat)
    for x, y in pts[:300]:
        assert loaded.covering(x, y).tolist() == built.covering(x, y).tolist()
    rebuilt = flat.geoms()
    assert all(shapely.equals_exact(a, b, 0) and a.geom_type == b.geom_type for a, b in zip(rebuilt, built.geoms))


def test_compiled_slabs_equal_the_numpy_build(monkeypatch):
    """Slabs.build with numba (two compiled passes, O(n) memory) lists the same edges in the same order."""
    import importlib.util

    from gridmap.registry.flatindex import Slabs

    flat = FlatIndex.from_geoms(np.array(polygons(), dtype=object))
    compiled = Slabs.build(flat)
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "numba" else real(name, *a))
    plain = Slabs.build(flat)
    for field in ("y0", "h", "start", "edges"):
        assert np.array_equal(getattr(compiled, field), getattr(plain, field)), field
    assert compiled.edges.dtype == plain.edges.dtype == np.int32
