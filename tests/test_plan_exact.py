"""Exact diffs: an edit followed by its inverse gives back the same shape, and no phantom change.

Pure edits on the demo's real grid 371403001003004 (Lingcheng, where the issue saw
"reshaped +92 m²" after a split and a merge back), then the same through a store on both
backends (WKB round trip) with `plan diff` and the impact's household flows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import shapely
from shapely.geometry import mapping, shape

from gridmap.geo.crs import area_perimeter_m
from gridmap.plans import edits
from gridmap.plans.diff import diff_units
from gridmap.plans.shapes import normalise
from gridmap.registry.model import Level, Unit

from .conftest import GRIDS

GEODATA = Path(__file__).resolve().parent.parent / "geodata"
CODE = "371403001003004"
G1, G2, G3 = GRIDS


def _demo_units() -> dict[str, Unit]:
    feats = json.loads((GEODATA / "grids.geojson").read_text(encoding="utf-8"))["features"]
    out = {}
    for f in feats:
        p = f["properties"]
        g = shape(f["geometry"])
        out[p["code"]] = Unit(p["code"], p.get("name", ""), Level.grid, g, p.get("parent_code"),
                              p.get("households"), p.get("population"), area_m2=area_perimeter_m(g)[0])
    return out


def _codes(parent, geoms, base):
    return [f"{base}-{i + 2}" for i in range(len(geoms))]


def _line_across(g, dx=0.0001):
    minx, miny, maxx, maxy = g.bounds
    mid = (minx + maxx) / 2
    return shapely.LineString([(mid + dx, miny - 0.01), (mid - 3 * dx, maxy + 0.01)])


@pytest.mark.parametrize("how", ["line", "parts"])
def test_split_then_merge_gives_back_the_same_grid(how):
    u = _demo_units()[CODE]
    res = (edits.split_by_line(u, _line_across(u.geometry), _codes) if how == "line"
           else edits.split_into_parts(u, 2, _codes))
    back = edits.merge(res.upserts).upserts[0]
    assert shapely.equals_exact(back.geometry, normalise(u.geometry), 0)  # the very same coordinates
    d = diff_units([u], [back])
    assert d["summary"]["reshaped"] == 0 and d["unchanged"] == [CODE], d["reshaped"]  # was "+92 m²"
    assert back.households == u.households


def test_merge_then_split_along_the_old_edge_gives_back_both_shapes():
    units = _demo_units()
    a = units[CODE]
    b = next(v for v in units.values() if v.code != a.code and v.parent_code == a.parent_code
             and edits.shared_length(a.geometry, v.geometry) > 0)
    merged = edits.merge([a, b]).upserts[0]
    edge = shapely.intersection(a.geometry.boundary, b.geometry.boundary)
    edge = shapely.line_merge(edge)
    # extend the shared edge a little past the merged grid at both ends so it cuts edge to edge
    xy = shapely.get_coordinates(edge)
    (x0, y0), (x1, y1) = xy[0], xy[-1]
    ext = 0.01
    n0 = ((x0 - xy[1][0]), (y0 - xy[1][1]))
    n1 = ((x1 - xy[-2][0]), (y1 - xy[-2][1]))
    s0, s1 = max(abs(n0[0]), abs(n0[1])), max(abs(n1[0]), abs(n1[1]))
    cut = shapely.LineString([(x0 + ext * n0[0] / s0, y0 + ext * n0[1] / s0), *xy.tolist(),
                              (x1 + ext * n1[0] / s1, y1 + ext * n1[1] / s1)])
    res = edits.split_by_line(merged, cut, _codes)
    shapes = sorted((normalise(p.geometry) for p in res.upserts), key=lambda g: g.area)
    want = sorted((normalise(a.geometry), normalise(b.geometry)), key=lambda g: g.area)
    for got, exp in zip(shapes, want):
        assert shapely.equals_exact(got, exp, 0)


def test_reshape_then_reshape_back_leaves_both_grids_unchanged():
    units = _demo_units()
    a = units[CODE]
    sibs = [v for v in units.values() if v.parent_code == a.parent_code]
    b = max((v for v in sibs if v.code != a.code), key=lambda v: edits.shared_length(a.geometry, v.geometry))
    bigger = shapely.union(a.geometry, shapely.intersection(b.geometry, shapely.buffer(a.geometry, 0.002)))
    first = edits.reshape(a, bigger, sibs, neighbour=b.code)
    changed = {u.code: u for u in first.upserts}
    assert sorted(changed) == sorted([a.code, b.code])
    sibs2 = [changed.get(v.code, v) for v in sibs]
    back = edits.reshape(changed[CODE], a.geometry, sibs2, neighbour=b.code)
    after = {**{v.code: v for v in sibs2}, **{u.code: u for u in back.upserts}}
    d = diff_units(sibs, list(after.values()))
    assert d["summary"] == {"added": 0, "removed": 0, "reshaped": 0, "renamed": 0, "unchanged": len(sibs)}, d["reshaped"]


def test_a_stored_split_and_merge_back_is_no_change_in_plan_diff_or_impact(services):
    plans = services.plans
    n = plans.create().version
    line = {"type": "LineString", "coordinates": [[116.0537, 38.9], [116.0512, 39.2]]}
    out = plans.edit(n, "split", {"code": G1, "line": line})
    plans.edit(n, "merge", {"codes": [G1, *out["created"]]})
    d = plans.diff(1, n)
    assert d["summary"] == {"added": 0, "removed": 0, "reshaped": 0, "renamed": 0, "unchanged": 3}, d
    imp = plans.impact(n)
    assert imp["diff"]["reshaped"] == 0 and imp["households"]["flows"] == []  # no area "moving in" from G2


def test_a_split_takes_area_only_from_the_grid_split_not_its_neighbours():
    """The new piece's cut points lie on the neighbours' edges: no phantom area "from" them (seen in
    the demo with a 1e-9° precision grid: 0.1 m² from 371403202002001, 0.025 m² from 371403001001004)."""
    from gridmap.plans.impact import household_flows

    units = _demo_units()
    res = edits.split_into_parts(units[CODE], 2, _codes)
    new = [u for c, u in units.items() if c != CODE] + res.upserts
    d = diff_units(list(units.values()), new)
    assert [a["code"] for a in d["added"]] == [f"{CODE}-2"]
    assert [f["code"] for f in d["added"][0]["from"]] == [CODE]
    assert [r["code"] for r in d["reshaped"]] == [CODE] and d["summary"]["unchanged"] == len(units) - 1
    flows = household_flows(list(units.values()), new)["flows"]
    assert [(f["from"], f["to"]) for f in flows] == [(CODE, f"{CODE}-2")]


def test_normalise_is_idempotent_and_orients_rings():
    g = shapely.Polygon([(0, 0), (0, 1), (1, 1), (1, 0)], holes=[[(0.2, 0.2), (0.4, 0.2), (0.4, 0.4)]])
    n = normalise(g)
    assert shapely.equals_exact(normalise(n), n, 0)
    assert n.exterior.is_ccw and not n.interiors[0].is_ccw
    assert mapping(n)["type"] == "Polygon"
