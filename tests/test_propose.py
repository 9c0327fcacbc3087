"""Automatic proposal: household range, contiguity, exact cover, barriers, locked grids, spopt, CLI, API."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from gridmap.analysis.coverage import check_coverage
from gridmap.analysis.propose import propose
from gridmap.cli import main
from gridmap.errors import Conflict, InputError
from gridmap.registry.model import Level, Unit
from gridmap.services import Services
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS, ZONE, sample_app, sample_store

# An L-shaped zone about 2.6 km x 2.8 km at 39°N
L_ZONE = Unit("110101001001", "L管区", Level.zone, shapely.Polygon(
    [(116.0, 39.0), (116.03, 39.0), (116.03, 39.012), (116.015, 39.012), (116.015, 39.025), (116.0, 39.025)]),
    parent_code="110101001")


def points_in(geom, n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    b = geom.bounds
    pts = np.column_stack([rng.uniform(b[0], b[2], 4 * n), rng.uniform(b[1], b[3], 4 * n)])
    return pts[shapely.contains_xy(geom, pts[:, 0], pts[:, 1])][:n]


def assert_exact_cover(units, zone_geom, vertex_exact: bool = True):
    """No gap, no overlap (to 0.01 m²), nothing outside; without locked grids, edges match vertex for vertex."""
    geoms = [u.geometry for u in units]
    zone = Unit("Z", "z", Level.zone, zone_geom)
    assert check_coverage(zone, units, tolerance_m2=0.01, sliver_m2=0) == []
    assert shapely.symmetric_difference(shapely.union_all(geoms), zone_geom).area < 1e-12
    if vertex_exact:
        assert shapely.coverage_is_valid(geoms)


def households_of(units, pts, weights=None):
    w = np.ones(len(pts)) if weights is None else weights
    return [int(w[shapely.intersects_xy(u.geometry, pts[:, 0], pts[:, 1])].sum()) for u in units]


def test_household_range_contiguity_and_exact_cover():
    pts = points_in(L_ZONE.geometry, 600)
    prop = propose(L_ZONE, pts, households=(25, 35))
    assert len(prop.units) == 20 and prop.stats["within_range"] == 20 and prop.stats["contiguous"]
    assert all(25 <= u.households <= 35 for u in prop.units)
    assert households_of(prop.units, pts) == [u.households for u in prop.units]  # counted from the shapes
    assert all(u.geometry.geom_type == "Polygon" for u in prop.units)  # contiguous: one part each
    assert_exact_cover(prop.units, L_ZONE.geometry)
    codes = [u.code for u in prop.units]
    assert codes == [f"{L_ZONE.code}{i:03d}" for i in range(1, 21)]  # national style, in code order
    first = prop.units[0].geometry.representative_point()  # serial 001 is the north-western grid
    assert first.y > 39.012 and first.x < 116.015
    assert all(u.level == Level.grid and u.parent_code == L_ZONE.code for u in prop.units)
    assert prop.stats["compactness_min"] > 0.2
    fc = prop.geojson()
    assert len(fc["features"]) == 20 and fc["proposal"]["stats"]["within_range"] == 20
    json.dumps(fc)


def test_weighted_points_and_k_grids():
    pts = points_in(L_ZONE.geometry, 300, seed=3)
    w = np.random.default_rng(3).integers(1, 6, len(pts)).astype(float)  # buildings of 1-5 households
    prop = propose(L_ZONE, pts, w, grids=6)
    hh = [u.households for u in prop.units]
    assert len(hh) == 6 and sum(hh) == int(w.sum())
    assert max(hh) - min(hh) <= 2 * w.max()  # balanced to within a couple of buildings
    assert households_of(prop.units, pts, w) == hh
    assert_exact_cover(prop.units, L_ZONE.geometry)


def test_barrier_is_never_straddled():
    river = shapely.LineString([(116.0, 39.006), (116.03, 39.006)])  # cuts the zone's foot off
    pts = points_in(L_ZONE.geometry, 400, seed=11)
    prop = propose(L_ZONE, pts, grids=8, barriers=[river])
    south = pts[:, 1] < 39.006
    for u in prop.units:
        inside = shapely.intersects_xy(u.geometry, pts[:, 0], pts[:, 1])
        assert south[inside].all() or not south[inside].any(), f"{u.code} has households on both banks"
    assert prop.stats["contiguous"]
    assert_exact_cover(prop.units, L_ZONE.geometry)


def test_locked_grid_is_kept():
    locked = Unit(L_ZONE.code + "005", "保留网格", Level.grid, shapely.box(116.0, 39.015, 116.015, 39.025),
                  parent_code=L_ZONE.code, households=77)
    pts = points_in(L_ZONE.geometry, 500, seed=5)
    prop = propose(L_ZONE, pts, households=(20, 30), locked=[locked])
    kept = next(u for u in prop.units if u.code == locked.code)
    assert kept.geometry.equals(locked.geometry) and kept.households == 77 and prop.locked == [locked.code]
    new = [u for u in prop.units if u.code != locked.code]
    assert all(int(u.code[-3:]) > 5 for u in new)  # serials never reuse the locked one
    free = shapely.contains_xy(shapely.difference(L_ZONE.geometry, locked.geometry), pts[:, 0], pts[:, 1]).sum()
    assert sum(u.households for u in new) == free and all(20 <= u.households <= 30 for u in new)
    # the locked grid keeps its own vertices, so the new edges along it meet it to floating precision
    assert_exact_cover(prop.units, L_ZONE.geometry, vertex_exact=False)
    assert shapely.coverage_is_valid([u.geometry for u in new])


def test_spopt_skater_gives_contiguous_exact_grids():
    pts = points_in(L_ZONE.geometry, 150, seed=2)
    prop = propose(L_ZONE, pts, grids=4, method="skater")
    assert prop.method == "skater" and len(prop.units) == 4 and prop.stats["contiguous"]
    assert sum(u.households for u in prop.units) == 150
    assert_exact_cover(prop.units, L_ZONE.geometry)


@pytest.mark.parametrize("kwargs, message", [
    (dict(households=(95, 99)), "cannot be cut into grids of 95-99"),
    (dict(), "give a households range"),
    (dict(grids=3, method="magic"), "unknown method 'magic'"),
    (dict(grids=500), "500 grids need at least 500 household points"),
])
def test_bad_requests_are_named(kwargs, message):
    pts = points_in(L_ZONE.geometry, 150, seed=2)
    with pytest.raises(InputError, match=message):
        propose(L_ZONE, pts, **kwargs)


def test_no_points_in_the_zone():
    with pytest.raises(InputError, match="no household point lies in"):
        propose(L_ZONE, np.array([[117.0, 40.0]]), grids=1)


# -- service (both backends), CLI and API ---------------------------------------------------------------
ZONE_GEOM = shapely.box(116.0, 39.0, 116.3, 39.1)


def _csv(path, pts) -> str:
    path.write_text("lon,lat\n" + "".join(f"{x:.7f},{y:.7f}\n" for x, y in pts), encoding="utf-8")
    return str(path)


def test_service_propose_and_save_into_a_draft(services, tmp_path):

    pts = points_in(ZONE_GEOM, 600, seed=9)
    svc = services.analysis
    draft = services.plans.create(note="proposal").version
    prop = svc.propose(ZONE, _csv(tmp_path / "hh.csv", pts), crs="EPSG:4326", households=(90, 110),
                       lock=[GRIDS[2]], plan=draft, fresh_codes=True)
    new = [u for u in prop.units if u.code != GRIDS[2]]
    free = int(shapely.contains_xy(shapely.box(116.0, 39.0, 116.2, 39.1), pts[:, 0], pts[:, 1]).sum())
    assert sum(u.households for u in new) == free and all(90 <= u.households <= 110 for u in new)
    assert all(int(u.code[-3:]) >= 4 for u in new)  # a draft never reuses codes 001-003
    saved = svc.save_proposal(prop, draft)
    assert sorted(saved["removed"]) == GRIDS[:2] and saved["created"] == sorted(u.code for u in new)
    in_draft = sorted(u.code for u in services.store.units(level=Level.grid, plan=draft))
    assert in_draft == sorted([GRIDS[2]] + saved["created"])
    assert svc.coverage(ZONE, plan=draft) == []  # the draft still covers its zone exactly
    assert [u.code for u in services.store.units(level=Level.grid)] == GRIDS  # the plan in force is untouched
    with pytest.raises(InputError, match="cannot lock NOPE"):
        svc.propose(ZONE, _csv(tmp_path / "hh.csv", pts), crs="EPSG:4326", grids=3, lock=["NOPE"])
    # a proposal is written by the plan service like any edit: into a published plan is a 409, as for edits
    published = services.store.current_plan()
    with pytest.raises(Conflict, match="is published: edits go to a draft"):
        svc.save_proposal(prop, published)
    with pytest.raises(Conflict, match="is published: edits go to a draft"):
        services.plans.edit(published, "merge", {"codes": GRIDS[:2]})


def test_cli_propose(tmp_path, sample_dir):
    s = Services.open(sample_store(Settings(db=str(tmp_path / "p.db")), sample_dir), create=True)
    s.store.close()
    db = str(tmp_path / "p.db")
    pts = points_in(ZONE_GEOM, 400, seed=4)
    csv = _csv(tmp_path / "hh.csv", pts)
    out = tmp_path / "proposal.geojson"
    runner = CliRunner()
    r = runner.invoke(main, ["--db", db, "propose", ZONE, "--points", csv, "--crs", "EPSG:4326",
                             "--households", "35-45", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["stats"]["grids"] == 10 and doc["stats"]["within_range"] == 10 and doc["stats"]["contiguous"]
    assert len(json.loads(out.read_text())["features"]) == 10
    r = runner.invoke(main, ["--db", db, "propose", ZONE, "--points", csv, "--crs", "EPSG:4326", "--grids", "4"])
    assert r.exit_code == 0 and "4 new grids by bisect" in r.output and "all contiguous" in r.output
    s = Services.open(Settings(db=db))

    draft = s.plans.create(note="proposal").version
    s.store.close()
    r = runner.invoke(main, ["--db", db, "propose", ZONE, "--points", csv, "--crs", "EPSG:4326", "--grids", "5",
                             "--lock", GRIDS[2], "--draft", str(draft)])
    assert r.exit_code == 0 and f"saved into draft {draft}" in r.output and "5 grids created, 2 removed" in r.output
    r = runner.invoke(main, ["--db", db, "check", "--coverage", ZONE, "--plan", str(draft)])
    assert r.exit_code == 0 and "coverage is exact" in r.output
    r = runner.invoke(main, ["--db", db, "propose", ZONE, "--points", csv, "--households", "15-10"])
    assert r.exit_code == 1 and "the minimum 15 is above the maximum 10" in r.output
    r = runner.invoke(main, ["--db", db, "propose", ZONE, "--points", csv, "--grids", "3"])
    assert r.exit_code == 1 and "declares no CRS" in r.output
    r = runner.invoke(main, ["--db", db, "propose", "NOPE", "--points", csv, "--crs", "EPSG:4326", "--grids", "3"])
    assert r.exit_code == 1 and "no unit NOPE" in r.output


def test_api_propose(tmp_path, sample_dir):
    app = sample_app(tmp_path, sample_dir)
    try:
        client = app.test_client()
        store = app.extensions["gridmap"].store
        create_user(store, "pl", "secret-pass", "planner")
        create_user(store, "disp", "secret-pass", "dispatcher")
        planner = {"Authorization": f"Bearer {create_token(store, 'pl')}"}
        pts = points_in(ZONE_GEOM, 300, seed=6)
        body = {"zone": ZONE, "points": pts.tolist(), "households": "25-35"}
        assert client.post("/api/v1/propose", json=body).status_code == 401
        other = {"Authorization": f"Bearer {create_token(store, 'disp')}"}
        assert client.post("/api/v1/propose", json=body, headers=other).status_code == 403
        r = client.post("/api/v1/propose", json=body, headers=planner)
        assert r.status_code == 200 and r.mimetype == "application/geo+json"
        assert r.json["proposal"]["stats"]["within_range"] == 10 == len(r.json["features"])
        upload = {"zone": ZONE, "grids": "3", "crs": "EPSG:4326",
                  "points": (io.BytesIO(Path(_csv(tmp_path / "u.csv", pts)).read_bytes()), "hh.csv")}
        r = client.post("/api/v1/propose", data=upload, headers=planner, content_type="multipart/form-data")
        assert r.status_code == 200 and len(r.json["features"]) == 3
        bad = client.post("/api/v1/propose", json=body | {"households": "15-10"}, headers=planner)
        assert bad.status_code == 422 and "minimum 15 is above the maximum 10" in bad.json["detail"]
        assert client.post("/api/v1/propose", json={"zone": ZONE}, headers=planner).status_code == 422
        assert client.post("/api/v1/propose", json=body | {"zone": "NOPE"}, headers=planner).status_code == 404
    finally:
        app.extensions["gridmap"].store.close()


def test_a_grid_locked_in_the_draft_is_kept_by_the_proposal(services, tmp_path):

    ps = services.plans
    draft = ps.create(note="locked").version
    ps.edit(draft, "lock", {"codes": [GRIDS[2]]})
    prop = services.analysis.propose(ZONE, _csv(tmp_path / "hh.csv", points_in(ZONE_GEOM, 600, seed=9)),
                                             crs="EPSG:4326", households=(90, 110), plan=draft, fresh_codes=True)
    assert prop.locked == [GRIDS[2]]
    kept = next(u for u in prop.units if u.code == GRIDS[2])
    assert kept.geometry.equals(services.store.unit(GRIDS[2], plan=draft).geometry)
