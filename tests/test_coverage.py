"""Coverage check: hand-made gaps, overlaps, outside pieces, invalid, multi-part and sliver children.

Expected areas are geodesic (pyproj.Geod on WGS84), computed independently of the check.
"""

from __future__ import annotations

import json

import pytest
import shapely
from click.testing import CliRunner

from gridmap.analysis.coverage import check_coverage, map_layer, problems_geojson, problems_json
from gridmap.cli import main
from gridmap.errors import InputError, NotFound
from gridmap.geo.crs import area_perimeter_m
from gridmap.geo.frame import MetricFrame
from gridmap.registry.model import Level, Unit
from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import BOX, GRIDS, TOWN, ZONE, sample_app, sample_store

PARENT = Unit("Z", "zone", Level.zone, shapely.box(*BOX))  # 116.0-116.3 x 39.0-39.1


def grid(code: str, geom) -> Unit:
    return Unit(code, code, Level.grid, geom, parent_code="Z")


def geodesic(geom) -> float:
    return area_perimeter_m(geom)[0]


def by_kind(problems, kind):
    return [p for p in problems if p.kind == kind]


def test_metric_frame_areas_are_geodesic_m2():
    box = shapely.box(116.0, 39.0, 116.1, 39.1)
    frame = MetricFrame.around([box])
    from gridmap.geo.shapes import frame_area_m2 as area_m2

    assert area_m2(frame, box) == pytest.approx(geodesic(box), rel=1e-6)
    assert area_m2(frame, box) == pytest.approx(96_101_812, rel=1e-4)  # 0.1° x 0.1° at 39°N: 96 km², not 0.01 "deg²"


def test_exact_tiling_has_no_problems_and_shared_edges_are_not_overlaps():
    kids = [grid(c, shapely.box(116.0 + 0.1 * i, 39.0, 116.1 + 0.1 * i, 39.1)) for i, c in enumerate("ABC")]
    assert check_coverage(PARENT, kids) == []


def test_gap_overlap_and_outside_with_areas_and_codes():
    a = shapely.box(116.0, 39.0, 116.1, 39.1)
    b = shapely.box(116.09, 39.0, 116.2, 39.1)  # overlaps A on 116.09-116.1
    c = shapely.box(116.21, 39.0, 116.31, 39.1)  # gap 116.2-116.21, outside 116.3-116.31
    problems = check_coverage(PARENT, [grid("A", a), grid("B", b), grid("C", c)])
    assert sorted(p.kind for p in problems) == ["gap", "outside", "overlap"]
    (ov,) = by_kind(problems, "overlap")
    assert ov.codes == ["A", "B"]
    assert ov.area_m2 == pytest.approx(geodesic(shapely.box(116.09, 39.0, 116.1, 39.1)), rel=1e-5)
    assert 116.09 <= ov.lon <= 116.1 and 39.0 <= ov.lat <= 39.1
    (gap,) = by_kind(problems, "gap")
    assert gap.codes == ["Z", "B", "C"]
    assert gap.area_m2 == pytest.approx(geodesic(shapely.box(116.2, 39.0, 116.21, 39.1)), rel=1e-5)
    assert 116.2 <= gap.lon <= 116.21
    (out,) = by_kind(problems, "outside")
    assert out.codes == ["C", "Z"]
    assert out.area_m2 == pytest.approx(geodesic(shapely.box(116.3, 39.0, 116.31, 39.1)), rel=1e-5)
    # the JSON has m² and a lon/lat location; the GeoJSON has the shapes, in lon/lat
    rows = problems_json(problems)
    assert {r["kind"] for r in rows} == {"gap", "overlap", "outside"} and all("location" in r for r in rows)
    fc = problems_geojson(problems)
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 3
    shape = shapely.geometry.shape(next(f for f in fc["features"] if f["properties"]["kind"] == "gap")["geometry"])
    assert shapely.equals_exact(shapely.normalize(shape), shapely.normalize(shapely.box(116.2, 39.0, 116.21, 39.1)), 1e-9)
    json.dumps(fc)


def test_tolerance_hides_digitising_noise_only():
    # a 1e-5° (about 0.86 m) wide gap along a 0.1° edge: about 9,600 m² in all
    a = shapely.box(116.0, 39.0, 116.15, 39.1)
    b = shapely.box(116.15001, 39.0, 116.3, 39.1)
    expected = geodesic(shapely.box(116.15, 39.0, 116.15001, 39.1))
    (gap,) = check_coverage(PARENT, [grid("A", a), grid("B", b)], tolerance_m2=10)
    assert gap.area_m2 == pytest.approx(expected, rel=1e-4)
    assert check_coverage(PARENT, [grid("A", a), grid("B", b)], tolerance_m2=expected * 1.01) == []


def test_invalid_geometry_is_reported_with_its_location():
    bowtie = shapely.Polygon([(116.25, 39.02), (116.27, 39.04), (116.27, 39.02), (116.25, 39.04)])
    rest = shapely.difference(PARENT.geometry, shapely.box(116.25, 39.02, 116.27, 39.04))
    problems = check_coverage(PARENT, [grid("A", rest), grid("X", bowtie)])
    (bad,) = by_kind(problems, "invalid")
    assert bad.codes == ["X"] and "Self-intersection" in bad.detail
    assert (bad.lon, bad.lat) == pytest.approx((116.26, 39.03))
    assert not by_kind(problems, "multipart")  # the repaired bow-tie is reported once
    # the bow-tie's two triangles leave the rest of its square uncovered
    assert sum(p.area_m2 for p in by_kind(problems, "gap")) == pytest.approx(
        geodesic(shapely.box(116.25, 39.02, 116.27, 39.04)) / 2, rel=1e-3)


def test_multipart_and_sliver():
    left = shapely.box(116.0, 39.0, 116.1, 39.1)
    far = shapely.box(116.2, 39.0, 116.3, 39.1)
    middle = shapely.box(116.1, 39.0, 116.2, 39.1)
    tiny = shapely.box(116.15, 39.05, 116.15005, 39.05005)  # about 4.3 m x 5.6 m = 24 m²
    kids = [grid("M", shapely.MultiPolygon([left, far])), grid("N", shapely.difference(middle, tiny)),
            grid("S", tiny)]
    problems = check_coverage(PARENT, kids, sliver_m2=100)
    (multi,) = by_kind(problems, "multipart")
    assert multi.codes == ["M"] and multi.area_m2 == pytest.approx(geodesic(far), rel=1e-3)
    assert "2 separate parts" in multi.detail
    (sliver,) = by_kind(problems, "sliver")
    assert sliver.codes == ["S"] and sliver.area_m2 == pytest.approx(geodesic(tiny), rel=1e-3)
    assert not by_kind(check_coverage(PARENT, kids, sliver_m2=10), "sliver")
    assert {p.kind for p in problems} == {"multipart", "sliver"}


def test_child_holding_another_is_an_overlap():
    inner = shapely.box(116.1, 39.02, 116.12, 39.04)
    problems = check_coverage(PARENT, [grid("BIG", PARENT.geometry), grid("IN", inner)])
    (ov,) = problems
    assert ov.kind == "overlap" and ov.codes == ["BIG", "IN"]
    assert ov.area_m2 == pytest.approx(geodesic(inner), rel=1e-5)


def test_identical_twins_overlap_and_an_empty_child_is_invalid():
    half = shapely.box(116.0, 39.0, 116.15, 39.1)
    rest = shapely.box(116.15, 39.0, 116.3, 39.1)
    problems = check_coverage(PARENT, [grid("A", half), grid("B", half), grid("C", rest), grid("E", shapely.Polygon())])
    assert [(p.kind, p.codes) for p in problems] == [("invalid", ["E"]), ("overlap", ["A", "B"])]
    assert problems[1].area_m2 == pytest.approx(geodesic(half), rel=1e-5)
    empty = problems[0].to_dict()
    assert empty["detail"] == "empty geometry" and empty["location"] is not None  # placed at its parent
    json.dumps(problems_json(problems), allow_nan=False)


def test_no_children_is_a_clear_error():
    with pytest.raises(InputError, match="Z has no children"):
        check_coverage(PARENT, [])


def test_map_layer_is_styled_geojson():
    c = shapely.box(116.21, 39.0, 116.3, 39.1)
    fc = map_layer(check_coverage(PARENT, [grid("A", shapely.box(116.0, 39.0, 116.2, 39.1)), grid("C", c)]))
    (f,) = fc["features"]
    assert f["properties"]["style"]["color"] == fc["legend"]["gap"] and "gap: Z, A, C" in f["properties"]["tooltip"]


# -- service, CLI and API over a real store ------------------------------------------------------------
def _shrink_g3(services):
    """Make G3 0.01° narrower in the store: a gap of known area opens inside the zone."""
    g3 = services.store.unit(GRIDS[2])
    g3.geometry = shapely.box(116.2, 39.0, 116.29, 39.1)
    services.store.add_units([g3], replace=True)
    return geodesic(shapely.box(116.29, 39.0, 116.3, 39.1))


def test_service_on_both_backends(services):
    svc = services.analysis
    assert svc.coverage(ZONE) == [] and svc.coverage() == []
    expected = _shrink_g3(services)
    problems = svc.coverage(ZONE)
    assert [(p.kind, p.codes) for p in problems] == [("gap", [ZONE, GRIDS[2]])]
    assert problems[0].area_m2 == pytest.approx(expected, rel=1e-5)
    assert [p.kind for p in svc.coverage()] == ["gap"]  # every parent: county, town, zone
    assert svc.coverage(TOWN) == []
    with pytest.raises(NotFound, match="no unit NOPE"):
        svc.coverage("NOPE")
    with pytest.raises(InputError, match=f"{GRIDS[0]} \\(grid\\) has no children"):
        svc.coverage(GRIDS[0])


@pytest.fixture
def sqlite_services(tmp_path, sample_dir):
    """The sample store on SQLite (in-process CLI runs leave their store to the garbage collector)."""
    s = Services.open(sample_store(Settings(db=str(tmp_path / "cli.db")), sample_dir), create=True)
    yield s
    s.store.close()


def test_cli_check_coverage(sqlite_services, tmp_path):
    services = sqlite_services
    db = services.settings.db
    runner = CliRunner()
    ok = runner.invoke(main, ["--db", db, "check", "--coverage", ZONE, "--json"])
    assert ok.exit_code == 0 and json.loads(ok.output) == []
    _shrink_g3(services)
    out = tmp_path / "problems.geojson"
    r = runner.invoke(main, ["--db", db, "check", "--coverage", ZONE, "--json", "--geojson", str(out)])
    assert r.exit_code == 1
    (row,) = json.loads(r.output)
    assert row["kind"] == "gap" and row["codes"] == [ZONE, GRIDS[2]] and row["area_m2"] > 9_000_000
    assert json.loads(out.read_text())["features"][0]["properties"]["kind"] == "gap"
    r = runner.invoke(main, ["--db", db, "check", "--coverage"])  # every parent, text
    assert r.exit_code == 1 and "gap" in r.output and "coverage problems under every parent" in r.output
    r = runner.invoke(main, ["--db", db, "check", "--coverage", "NOPE"])
    assert r.exit_code == 1 and "no unit NOPE" in r.output
    team = runner.invoke(main, ["--db", db, "check"])  # the 1+1+N check is unchanged
    assert team.exit_code == 1 and "1 units break their team rule" in team.output


def test_api_coverage(tmp_path, sample_dir):
    app = sample_app(tmp_path, sample_dir)
    try:
        client = app.test_client()
        r = client.get(f"/api/v1/coverage?parent={ZONE}")
        assert r.status_code == 200 and r.json == {"plan": None, "parent": ZONE, "count": 0, "problems": []}
        _shrink_g3(app.extensions["gridmap"])
        r = client.get(f"/api/v1/coverage?parent={ZONE}")
        assert r.json["count"] == 1 and r.json["problems"][0]["kind"] == "gap"
        r = client.get(f"/api/v1/coverage?parent={ZONE}&f=geojson")
        assert r.mimetype == "application/geo+json" and r.json["features"][0]["geometry"]["type"] == "Polygon"
        assert "style" in client.get("/api/v1/coverage?f=map").json["features"][0]["properties"]
        assert client.get("/api/v1/coverage?parent=NOPE").status_code == 404
        assert client.get(f"/api/v1/coverage?parent={GRIDS[0]}").status_code == 422
        assert client.get(f"/api/v1/coverage?parent={ZONE}&f=xml").status_code == 422
        assert client.get(f"/api/v1/coverage?parent={ZONE}&plan=x").status_code == 422
    finally:
        app.extensions["gridmap"].store.close()
