"""Export (GeoJSON RFC 7946, GeoPackage via GDAL, staff CSV) and the 1+1+N check."""

from __future__ import annotations

import csv
import json

import pyogrio
import pytest
import shapely

from gridmap.errors import InputError
from gridmap.registry.model import Level

from .conftest import GRIDS, ZONE


def test_geojson_export_is_rfc7946(services, tmp_path):
    out = tmp_path / "grids.geojson"
    assert services.export(out, level=Level.grid) == 3
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert "crs" not in doc and doc["type"] == "FeatureCollection"
    f = doc["features"][0]
    assert f["id"] == GRIDS[0] and f["properties"]["name"] == "第1网格"
    assert f["properties"]["parent_code"] == ZONE and f["properties"]["households"] == 100
    ring = shapely.LinearRing(f["geometry"]["coordinates"][0])
    assert ring.is_ccw  # RFC 7946: exterior rings counter-clockwise
    # GDAL reads it back, Chinese intact
    info = pyogrio.read_info(out)
    assert info["features"] == 3
    assert "第1网格" in json.dumps(pyogrio.read_dataframe(out)["name"].tolist(), ensure_ascii=False)


def test_geopackage_export_opens_in_gdal_with_a_layer_per_level(services, tmp_path):
    out = tmp_path / "all.gpkg"
    assert services.export(out) == 6
    layers = {name for name, _ in pyogrio.list_layers(out)}
    assert layers == {"county", "town", "zone", "grid"}
    df = pyogrio.read_dataframe(out, layer="grid")
    assert df.crs.to_epsg() == 4326
    assert sorted(df["code"]) == GRIDS
    assert list(df.sort_values("code")["name"]) == ["第1网格", "第2网格", "第3网格"]
    assert df.geometry.is_valid.all()
    assert abs(df.geometry.iloc[0].area - 0.01) < 1e-9


def test_export_refuses_unknown_format_and_leaves_no_file(services, tmp_path):
    with pytest.raises(InputError, match=".geojson or .gpkg"):
        services.export(tmp_path / "x.kml")
    with pytest.raises(InputError, match="does not exist"):
        services.export(tmp_path / "missing" / "x.geojson")
    assert not [p for p in tmp_path.iterdir() if "x." in p.name or p.name == "missing"]


def test_failed_export_keeps_the_previous_file(services, tmp_path, monkeypatch):
    outdir = tmp_path / "out"
    outdir.mkdir()
    out = outdir / "grids.geojson"
    out.write_text("previous")
    import gridmap.io.writers as w

    def half_write(doc, fh, **kw):
        fh.write('{"type": "FeatureCollection", "features": [')
        raise OSError("disk full")

    monkeypatch.setattr(w.json, "dump", half_write)
    with pytest.raises(OSError):
        services.export(out, level=Level.grid)
    assert out.read_text() == "previous"
    assert [p.name for p in outdir.iterdir()] == ["grids.geojson"]  # no temp file left


def test_staff_csv_export(services, tmp_path):
    out = tmp_path / "staff.csv"
    assert services.export_staff(out) == 9
    with open(out, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    leader = next(r for r in rows if r["unit_code"] == GRIDS[1] and r["role"] == "leader")
    assert leader["name"] == "刘洋" and leader["phone"] == "13800000004" and leader["role_zh"] == "网格长"
    assert leader["unit_name"] == "第2网格"


def test_team_check_lists_grids_breaking_1_1_n(services):
    problems = {p.code: p for p in services.team_problems()}
    # grid 1 is complete; grid 2 has leader+instructor+worker; grid 3 has only a leader
    assert GRIDS[0] not in problems and GRIDS[1] not in problems
    assert "0 instructors" in problems[GRIDS[2]].problem and "no workers" in problems[GRIDS[2]].problem
    assert ZONE not in problems  # has secretary and director


def test_staff_file_errors_name_rows(services, tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("person_id,name,phone,unit_code,role\n"
                 f"Q1,甲,138000,{GRIDS[0]},leader\n"
                 f"Q2,乙,abc,{GRIDS[0]},worker\n"
                 f"Q3,丙,13800000009,{GRIDS[0]},mayor\n"
                 f"Q4,丁,13800000010,999,worker\n"
                 f"Q5,戊,13800000011,{ZONE},leader\n", encoding="utf-8")
    before = services.store.info().counts
    with pytest.raises(InputError) as err:
        services.import_staff(p)
    msg = str(err.value)
    assert "row 3 (Q2): phone 'abc' is not a phone number" in msg
    assert "row 4 (Q3): unknown role 'mayor'" in msg
    assert "row 5 (Q4): unit '999' is not in the store" in msg
    assert f"row 6 (Q5): role leader belongs to a grid/micro, but {ZONE} is a zone" in msg
    assert services.store.info().counts == before


def test_staff_missing_columns(services, tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("id,name\n1,x\n")
    with pytest.raises(InputError, match="lacks column"):
        services.import_staff(p)


def test_replace_staff_of_a_unit(services, tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("person_id,name,phone,unit_code,role\n"
                 f"P6,杨磊,13800000006,{GRIDS[2]},leader\n"
                 f"P2,李娜,13800000002,{GRIDS[2]},instructor\n"
                 f"P9,孙强,13800000009,{GRIDS[2]},worker\n", encoding="utf-8")
    services.import_staff(p, replace=True)
    assert GRIDS[2] not in {x.code for x in services.team_problems()}
