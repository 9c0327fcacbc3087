"""Balance: per-grid figures against the planner's targets; pure, service (both backends), CLI, API."""

from __future__ import annotations

import json
import math

import pytest
import shapely
from click.testing import CliRunner

from gridmap.analysis import parse_range, polsby_popper
from gridmap.analysis.balance import Targets, balance_geojson, grid_balance, summary
from gridmap.cli import main
from gridmap.errors import InputError, NotFound
from gridmap.geo.crs import area_perimeter_m
from gridmap.registry.model import Level, Role, Unit
from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import GRIDS, ZONE, sample_app, sample_store


def unit(code, geom, hh, pop=None) -> Unit:
    return Unit(code, f"网格{code}", Level.grid, geom, parent_code="Z", households=hh, population=pop)


SQ = shapely.box(116.0, 39.0, 116.01, 39.01)  # about 865 m x 1,111 m
THIN = shapely.box(116.01, 39.0, 116.0101, 39.01)  # about 8.6 m x 1,111 m
TWO = shapely.MultiPolygon([shapely.box(116.02, 39.0, 116.03, 39.01), shapely.box(116.04, 39.0, 116.05, 39.01)])


def test_figures_flags_and_summary():
    units = [unit("A", SQ, 12, 30), unit("B", THIN, 9, 20), unit("C", TWO, 40, None)]
    roles = [Role("p1", "A", "leader"), Role("p2", "A", "worker"), Role("p2", "A", "instructor"),
             Role("p3", "C", "worker")]
    rows = grid_balance(units, roles, {"A": 6, "C": 1}, years=0.5,
                        targets=Targets(households=(10, 15), population=(25, 100), min_compactness=0.2))
    a, b, c = rows
    area, perim = area_perimeter_m(SQ)
    assert a.area_km2 == pytest.approx(area / 1e6, rel=1e-5)
    assert a.compactness == pytest.approx(4 * math.pi * area / perim**2, rel=1e-3)
    assert a.compactness == pytest.approx(math.pi / 4, rel=0.02)  # nearly square
    assert a.incidents == 6 and a.incidents_per_year == 12.0
    assert a.staff == 2 and a.staff_per_100_households == pytest.approx(100 * 2 / 12)  # p2 counted once
    assert a.flags == [] and a.ok
    assert b.flags == ["households 9 below 10", "population 20 below 25", f"compactness {b.compactness:.2f} below 0.2"]
    assert b.compactness < 0.05 and b.parts == 1
    assert c.parts == 2 and "not contiguous: 2 separate parts" in c.flags
    assert "households 40 above 15" in c.flags and "population unknown (target 25-100)" in c.flags
    assert c.staff_per_100_households == pytest.approx(2.5) and c.incidents_per_year == 2.0
    s = summary(rows, Targets(households=(10, 15)))
    assert s["grids"] == 3 and s["flagged"] == 2 and s["within_households_target"] == 1
    assert s["households_min"] == 9 and s["households_max"] == 40 and s["non_contiguous"] == 1
    fc = balance_geojson(units, rows)
    colours = [f["properties"]["style"]["color"] for f in fc["features"]]
    assert colours[0] != colours[1] != colours[2] and fc["features"][2]["properties"]["contiguous"] is False
    json.dumps(fc)


def test_polsby_popper_in_metres():
    r = 500.0
    disc = shapely.Point(0, 0).buffer(r, quad_segs=256)
    assert polsby_popper(disc.area, disc.length) == pytest.approx(1.0, abs=1e-3)
    assert polsby_popper(0.0, 0.0) == 0.0


@pytest.mark.parametrize("text, message", [("15-10", "the minimum 15 is above the maximum 10"),
                                           ("ten-15", "is not MIN-MAX"), ("12", "is not MIN-MAX"),
                                           ("0-0", "must be positive")])
def test_bad_ranges_are_named(text, message):
    with pytest.raises(InputError, match=message):
        parse_range(text)


def test_good_ranges():
    assert parse_range("10-15") == (10, 15) and parse_range(" 200 - 400 ") == (200, 400)
    assert parse_range("0.5-2.5", integer=False) == (0.5, 2.5) and parse_range(None) is None
    with pytest.raises(InputError, match="households target 5-3"):
        Targets(households=(5, 3))


def test_service_on_both_backends(services):
    svc = services.analysis
    units, rows, s = svc.balance(ZONE, Targets(households=(150, 300)))
    assert [r.code for r in rows] == GRIDS and [r.households for r in rows] == [100, 100, 100]
    assert all(r.flags == ["households 100 below 150"] for r in rows)
    assert [r.staff for r in rows] == [3, 3, 1]
    assert s["flagged"] == 3 and s["households_total"] == 300
    assert svc.balance(None, Targets(households=(50, 150)))[2]["flagged"] == 0
    with pytest.raises(NotFound, match="no unit NOPE"):
        svc.balance("NOPE")
    with pytest.raises(InputError, match=f"{GRIDS[0]} has no grid units under it"):
        svc.balance(GRIDS[0])


def test_incidents_per_year_come_from_the_incident_store(tmp_path, sample_dir):
    app = sample_app(tmp_path, sample_dir)
    try:
        loop = app.extensions["gridmap"].incidents
        for lon in (116.05, 116.06, 116.25):
            loop.report({"category": "exposed_rubbish", "lon": lon, "lat": 39.05})
        client = app.test_client()
        r = client.get(f"/api/v1/balance?parent={ZONE}&households=80-120")
        assert r.status_code == 200
        got = {g["code"]: g for g in r.json["grids"]}
        assert got[GRIDS[0]]["incidents"] == 2 and got[GRIDS[2]]["incidents"] == 1 and got[GRIDS[1]]["incidents"] == 0
        assert got[GRIDS[0]]["incidents_per_year"] == pytest.approx(2.0, rel=0.01)
        assert r.json["summary"]["flagged"] == 0
        assert client.get("/api/v1/balance?households=15-10").status_code == 422
        assert client.get("/api/v1/balance?parent=NOPE").status_code == 404
        assert client.get("/api/v1/balance?from=2026-13-01").status_code == 422
        geo = client.get("/api/v1/balance?households=150-300&f=geojson")
        assert geo.mimetype == "application/geo+json" and len(geo.json["features"]) == 3
    finally:
        app.extensions["gridmap"].store.close()


def test_cli_balance(tmp_path, sample_dir):
    s = Services.open(sample_store(Settings(db=str(tmp_path / "b.db")), sample_dir), create=True)
    s.store.close()
    runner = CliRunner()
    db = str(tmp_path / "b.db")
    r = runner.invoke(main, ["--db", db, "balance", "--parent", ZONE, "--households", "150-300", "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["summary"]["flagged"] == 3 and doc["grids"][0]["flags"] == ["households 100 below 150"]
    r = runner.invoke(main, ["--db", db, "balance", "--households", "50-150"])
    assert r.exit_code == 0 and "3 grids, 0 outside the targets" in r.output
    r = runner.invoke(main, ["--db", db, "balance", "--households", "15-10"])
    assert r.exit_code == 1 and "the minimum 15 is above the maximum 10" in r.output
