"""多网合一: overlap report and merged layer on two known layers; files, CLI and API."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import shapely
from click.testing import CliRunner

from gridmap.analysis.networks import Layer, merge_layers, overlap_report
from gridmap.cli import main
from gridmap.errors import InputError
from gridmap.geo.crs import area_perimeter_m
from gridmap.web.auth import create_token, create_user

from .conftest import fc, feat, sample_app, square, write_json

# police: two beats side by side; urban: one unit on the western half of A1, one over the rest
A1, A2 = shapely.box(116.0, 39.0, 116.01, 39.01), shapely.box(116.01, 39.0, 116.02, 39.01)
B1, B2 = shapely.box(116.0, 39.0, 116.005, 39.01), shapely.box(116.005, 39.0, 116.02, 39.01)
POLICE = Layer("police", ["A1", "A2"], [A1, A2])
URBAN = Layer("urban", ["B1", "B2"], [B1, B2])


def m2(g) -> float:
    return area_perimeter_m(g)[0]


def covered(report, layer, code, other):
    row = next(g for g in report["grids"] if g["layer"] == layer and g["code"] == code)
    return {c["code"]: (c["area_m2"], c["pct"]) for c in row["covered_by"][other]}


def test_overlap_report_on_two_known_layers():
    rep = overlap_report([POLICE, URBAN])
    a1 = covered(rep, "police", "A1", "urban")
    assert set(a1) == {"B1", "B2"}
    assert a1["B1"][0] == pytest.approx(m2(B1), rel=1e-5) and a1["B1"][1] == pytest.approx(50.0, abs=0.01)
    assert a1["B2"][1] == pytest.approx(50.0, abs=0.01)
    assert covered(rep, "police", "A2", "urban") == {"B2": (pytest.approx(m2(A2), rel=1e-5), 100.0)}
    b2 = covered(rep, "urban", "B2", "police")
    assert b2["A1"][1] == pytest.approx(100 / 3, abs=0.01) and b2["A2"][1] == pytest.approx(200 / 3, abs=0.01)
    pairs = {(p["layer"], p["other"]): p for p in rep["pairs"]}
    assert pairs[("police", "urban")]["within_one_95"] == 1  # A2 lies in B2; A1 is split
    assert pairs[("urban", "police")]["within_one_95"] == 1  # B1 lies in A1; B2 spans both
    assert pairs[("police", "urban")]["uncovered_m2"] == 0
    json.dumps(rep)


def test_merge_keeps_lines_drawn_by_enough_layers():
    one = merge_layers([POLICE, URBAN], min_layers=1)
    assert len(one.units) == 3  # every line: B1, A1 minus B1, A2
    areas = sorted(u.area_m2 for u in one.units)
    assert areas == pytest.approx(sorted([m2(B1), m2(shapely.box(116.005, 39.0, 116.01, 39.01)), m2(A2)]), rel=1e-4)
    both = merge_layers([POLICE, URBAN], min_layers=2)
    assert len(both.units) == 1  # no inner line is drawn by both layers
    assert both.units[0].area_m2 == pytest.approx(m2(shapely.box(116.0, 39.0, 116.02, 39.01)), rel=1e-4)
    for merged in (one, both):
        geoms = [u.geometry for u in merged.units]
        assert shapely.symmetric_difference(shapely.union_all(geoms), shapely.box(116.0, 39.0, 116.02, 39.01)).area < 1e-12


def test_near_coincident_lines_are_one_line():
    d = 0.00002  # the urban layer draws the beat boundary about 1.7 m further east
    urban = Layer("urban", ["U1", "U2", "U3"], [shapely.box(116.0, 39.0, 116.01 + d, 39.01),
                                                shapely.box(116.01 + d, 39.0, 116.02, 39.005),
                                                shapely.box(116.01 + d, 39.005, 116.02, 39.01)])
    merged = merge_layers([POLICE, urban], min_layers=2, snap_m=5.0)
    assert merged.stats["small_or_thin_dissolved"] == 1 and len(merged.units) == 2
    assert [u.properties["main"] for u in merged.units] == [{"police": "A1", "urban": "U1"},
                                                           {"police": "A2", "urban": "U2"}]
    assert [u.code for u in merged.units] == ["M001", "M002"]
    assert sum(u.area_m2 for u in merged.units) == pytest.approx(m2(shapely.box(116.0, 39.0, 116.02, 39.01)), rel=1e-6)
    # with no snap tolerance and no minimum area the 1.7 m strip is a grid of its own
    strip = merge_layers([POLICE, urban], min_layers=1, snap_m=0, min_area_m2=0)
    assert len(strip.units) == 4 and min(u.area_m2 for u in strip.units) == pytest.approx(
        m2(shapely.box(116.01, 39.0, 116.01 + d, 39.01)), rel=1e-3)


def test_bad_layers():
    with pytest.raises(InputError, match="at least two layers"):
        overlap_report([POLICE])
    with pytest.raises(InputError, match="duplicate codes A1"):
        Layer("x", ["A1", "A1"], [A1, A2])
    with pytest.raises(InputError, match="grids without a polygon: L"):
        Layer("x", ["L"], [shapely.LineString([(0, 0), (1, 1)])])
    with pytest.raises(InputError, match="min_layers must be between 1 and 2"):
        merge_layers([POLICE, URBAN], min_layers=3)


def _layer_files(tmp_path):
    p = write_json(tmp_path / "police.geojson", fc([feat(square(116.0, 39.0, 116.01, 39.01), beat="A1"),
                                                    feat(square(116.01, 39.0, 116.02, 39.01), beat="A2")]))
    u = write_json(tmp_path / "urban.geojson", fc([feat(square(116.0, 39.0, 116.005, 39.01), beat="B1"),
                                                   feat(square(116.005, 39.0, 116.02, 39.01), beat="B2")]))
    return p, u


def test_files_and_cli(tmp_path, services):
    p, u = _layer_files(tmp_path)
    report, merged = services.analysis.networks([p, u], code_field="beat", min_layers=1)
    assert len(merged.units) == 3 and report["layers"][0]["name"] == "police"
    bad = tmp_path / "broken.geojson"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="broken.geojson is not valid GeoJSON"):
        services.analysis.networks([p, bad], code_field="beat")
    with pytest.raises(InputError, match="has no column 'code'"):
        services.analysis.networks([p, u])


def test_cli_networks(tmp_path):
    p, u = _layer_files(tmp_path)
    out = tmp_path / "merged.geojson"
    runner = CliRunner()
    db = str(tmp_path / "n.db")
    r = runner.invoke(main, ["--db", db, "networks", str(p), str(u), "--code-field", "beat", "--min-layers", "1",
                             "--json", "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    assert doc["merge"]["grids_out"] == 3 and len(doc["grids"]) == 4
    assert len(json.loads(out.read_text())["features"]) == 3
    r = runner.invoke(main, ["--db", db, "networks", str(p), str(u), "--code-field", "beat"])
    assert r.exit_code == 0 and "police in urban: 1/2 grids lie ≥95% in one grid" in r.output
    r = runner.invoke(main, ["--db", db, "networks", str(p), str(tmp_path / "missing.geojson"), "--code-field", "beat"])
    assert r.exit_code == 1 and "missing.geojson: no such file" in r.output


def test_api_networks(tmp_path, sample_dir):
    app = sample_app(tmp_path, sample_dir)
    try:
        client = app.test_client()
        store = app.extensions["gridmap"].store
        create_user(store, "pl", "secret-pass", "planner")
        h = {"Authorization": f"Bearer {create_token(store, 'pl')}"}
        p, u = _layer_files(tmp_path)

        def form(*paths):
            return {"layer": [(io.BytesIO(x.read_bytes()), x.name) for x in paths], "code_field": "beat", "min_layers": "1"}

        assert client.post("/api/v1/networks", data=form(p, u), content_type="multipart/form-data").status_code == 401
        r = client.post("/api/v1/networks", data=form(p, u), headers=h, content_type="multipart/form-data")
        assert r.status_code == 200, r.json
        assert r.json["merge"]["grids_out"] == 3 and len(r.json["merged"]["features"]) == 3
        assert {g["layer"] for g in r.json["report"]["grids"]} == {"police", "urban"}
        r = client.post("/api/v1/networks", data=form(p), headers=h, content_type="multipart/form-data")
        assert r.status_code == 422 and "at least two grid layers" in r.json["detail"]
        bad = tmp_path / "bad.geojson"
        bad.write_text("[1, 2", encoding="utf-8")
        r = client.post("/api/v1/networks", data=form(p, bad), headers=h, content_type="multipart/form-data")
        assert r.status_code == 422 and "bad.geojson is not valid GeoJSON" in r.json["detail"]
    finally:
        app.extensions["gridmap"].store.close()


def test_more_than_999_merged_grids_get_wider_codes():
    from gridmap.analysis.networks import _codes

    n = np.arange(1200)  # 30 rows of 40 squares, north to south
    geoms = shapely.box(116.0 + 0.001 * (n % 40), 39.0 - 0.001 * (n // 40), 116.001 + 0.001 * (n % 40),
                        39.001 - 0.001 * (n // 40))
    codes = _codes(geoms, None, "M")
    assert len(set(codes)) == 1200 and codes[0] == "M0001" and codes[1199] == "M1200"
    with pytest.raises(InputError, match="more than 999 children under 110101001"):
        _codes(geoms, "110101001", "M")
