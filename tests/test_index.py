"""Locate: covers semantics, the documented tie rule, nearest grid, and brute-force agreement."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from gridmap.registry.index import GridIndex
from gridmap.store.base import UnitRows

from .conftest import COUNTY, GRIDS, TOWN, ZONE


def test_inside_each_grid(services):
    for i, code in enumerate(GRIDS):
        loc = services.locate(116.05 + 0.1 * i, 39.05)
        assert loc.grid == code
        assert loc.chain == {"zone": ZONE, "town": TOWN, "county": COUNTY}


def test_shared_edge_goes_to_lowest_code(services):
    loc = services.locate(116.1, 39.05)  # edge between grid 1 and grid 2
    assert loc.grid == GRIDS[0]
    assert loc.candidates == (GRIDS[0], GRIDS[1])


def test_shared_vertex_and_outer_boundary(services):
    assert services.locate(116.2, 39.1).grid == GRIDS[1]  # corner shared by grids 2 and 3
    assert services.locate(116.3, 39.05).grid == GRIDS[2]  # outer edge: covered, not lost
    assert services.locate(116.0, 39.0).grid == GRIDS[0]  # outer corner


def test_outside_reports_nearest_in_metres(services):
    # 0.001° of latitude south of grid 2: about 111 m
    loc = services.locate(116.15, 38.999)
    assert loc.grid is None and loc.nearest == GRIDS[1]
    assert abs(loc.distance_m - 111.015) < 0.01  # geodesic inverse: 111.0155 m


def test_nearest_uses_metres_not_degrees():
    # At 60°N a degree of longitude is half a degree of latitude: grid A is nearer in degrees
    # (0.3° north) but grid B (0.5° east = ~27.9 km) is nearer in metres than A (~33.4 km).
    a = shapely.box(10.0, 60.3, 10.1, 60.4)
    b = shapely.box(10.6, 59.9, 10.7, 60.1)
    rows = UnitRows(["A", "B"], ["A", "B"], ["grid", "grid"], [None, None], list(shapely.to_wkb([a, b])))
    idx = GridIndex.build(rows, {})
    near = idx.nearest(10.1, 60.0)
    assert idx.codes[near[0]] == "B"
    assert 27_000 < near[1] < 29_000


def test_far_outside_beyond_limit(services):
    services.settings = services.settings.__class__(db=services.settings.db, nearest_max_m=50)
    loc = services.locate(116.15, 38.999)
    assert loc.grid is None and loc.nearest is None


def test_gcj02_input_is_converted(services):
    from gridmap.geo.chinacrs import wgs84_to_gcj02

    # Points 40 m from grid edges, given as a phone app reports them (GCJ-02, shifted a few
    # hundred metres): converted, they land in the same grid as their WGS84 originals, while
    # the raw GCJ-02 values read as WGS84 would land in the neighbouring grid for some.
    for lon in (116.1005, 116.1995, 116.2005):
        glon, glat = wgs84_to_gcj02(lon, 39.05)
        assert services.locate(float(glon), float(glat), crs="GCJ-02").grid == services.locate(lon, 39.05).grid
    wrong = [services.locate(float(wgs84_to_gcj02(lon, 39.05)[0]), 39.05).grid != services.locate(lon, 39.05).grid
             for lon in (116.1005, 116.1995, 116.2005)]
    assert any(wrong)


def _brute_force(geoms, codes, x, y):
    out = []
    for xi, yi in zip(x, y):
        hits = sorted(c for g, c in zip(geoms, codes) if shapely.covers(g, shapely.Point(xi, yi)))
        out.append(hits[0] if hits else "")
    return out


def test_bulk_agrees_with_brute_force_on_random_and_boundary_points():
    rng = np.random.default_rng(7)
    seeds = shapely.multipoints(rng.uniform([0, 0], [1, 1], size=(60, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=shapely.box(0, 0, 1, 1)))
    cells = shapely.intersection(cells, shapely.box(0, 0, 1, 1))
    codes = [f"G{i:03d}" for i in range(len(cells))]
    rows = UnitRows(codes, codes, ["grid"] * len(codes), [None] * len(codes), list(shapely.to_wkb(cells)))
    idx = GridIndex.build(rows, {})
    # random points, vertices of the cells (shared by 2-3 cells) and points outside
    verts = shapely.get_coordinates(cells)[::3]
    pts = np.vstack([rng.uniform(-0.05, 1.05, size=(3000, 2)), verts])
    got = idx.locate_many(pts[:, 0], pts[:, 1], threads=2)
    got_codes = [str(idx.codes[i]) if i >= 0 else "" for i in got]
    assert got_codes == _brute_force(cells, codes, pts[:, 0], pts[:, 1])
    single = [idx.locate(x, y).grid or "" for x, y in pts[:300]]
    assert single == got_codes[:300]
    assert sum(1 for c in got_codes if c == "") > 50  # the outside points really were tested


def test_locate_many_handles_nan(services):
    idx = services.index
    out = idx.locate_many(np.array([116.05, np.nan, 200.0]), np.array([39.05, 39.05, 39.0]))
    assert list(out) == [0, -1, -1]


def test_invalid_point_is_refused(services):
    from gridmap.errors import InputError

    with pytest.raises(InputError, match="swapped"):
        services.locate(39.05, 116.05)


def test_threads_share_one_index_safely():
    """Many chunks over 2 threads on a fresh index give the single-thread answer (no crash)."""
    rng = np.random.default_rng(11)
    seeds = shapely.multipoints(rng.uniform([0, 0], [1, 1], size=(2000, 2)))
    cells = shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=shapely.box(0, 0, 1, 1)))
    cells = shapely.segmentize(shapely.intersection(cells, shapely.box(0, 0, 1, 1)), 0.002)
    codes = [f"G{i:04d}" for i in range(len(cells))]
    rows = UnitRows(codes, codes, ["grid"] * len(codes), [None] * len(codes), list(shapely.to_wkb(cells)))
    pts = rng.uniform(0, 1, size=(300_000, 2))
    one = GridIndex.build(rows, {}).locate_many(pts[:, 0], pts[:, 1], threads=1)
    for _ in range(3):
        two = GridIndex.build(rows, {}).locate_many(pts[:, 0], pts[:, 1], threads=2)
        assert np.array_equal(one, two)
    assert (one >= 0).all()
