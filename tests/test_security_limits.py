"""Issue #15, denial of service from one request: bounded inputs, no repair unasked, a time and memory budget."""

from __future__ import annotations

import io
import time
import zipfile

import numpy as np
import pytest
import shapely

from gridmap.analysis.networks import Layer
from gridmap.budget import run_bounded
from gridmap.errors import InputError, TooSlow
from gridmap.services import Services
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

from .conftest import ZONE, fc, feat, sample_store, square, write_json
from .test_propose import ZONE_GEOM, points_in

BOWTIE = {"type": "Polygon", "coordinates": [[[116.0, 39.0], [116.01, 39.01], [116.01, 39.0], [116.0, 39.01],
                                               [116.0, 39.0]]]}


def _app(tmp_path, sample_dir, **overrides):
    from gridmap.app import create_app

    settings = Settings(db=str(tmp_path / "s.db"), **overrides)
    s = Services.open(sample_store(settings, sample_dir), create=True)
    s.store.close()
    app = create_app(settings)
    store = app.extensions["gridmap"].store
    create_user(store, "pl", "secret-pass", "planner")
    return app, {"Authorization": f"Bearer {create_token(store, 'pl')}"}


def _form(*docs, **fields):
    files = [(io.BytesIO(path.read_bytes()), path.name) for path in docs]
    return {"layer": files, "code_field": "beat", "min_layers": "1", **fields}


def _layers(tmp_path, n=2):
    a = write_json(tmp_path / "police.geojson", fc([feat(square(116.0 + 0.01 * i, 39.0, 116.01 + 0.01 * i, 39.01),
                                                         beat=f"A{i}") for i in range(n)]))
    b = write_json(tmp_path / "urban.geojson", fc([feat(square(116.0, 39.0, 116.005, 39.01), beat="B1"),
                                                   feat(square(116.005, 39.0, 116.02, 39.01), beat="B2")]))
    return a, b


def test_duplicate_code_check_is_linear():
    # the old check ran codes.count(c) per code: 60,000 codes took minutes, now milliseconds
    n = 60_000
    codes = [f"C{i}" for i in range(n - 1)] + ["C7"]
    geoms = shapely.box(np.arange(n) * 1e-4, 0, np.arange(n) * 1e-4 + 5e-5, 5e-5)
    t0 = time.perf_counter()
    with pytest.raises(InputError, match="duplicate codes C7"):
        Layer("big", codes, geoms)
    assert time.perf_counter() - t0 < 3


def test_invalid_polygons_are_refused_unless_repair_is_asked():
    with pytest.raises(InputError, match="1 invalid polygons") as exc:
        Layer("police", ["X1"], [shapely.geometry.shape(BOWTIE)])
    assert "X1: Self-intersection" in str(exc.value)
    fixed = Layer("police", ["X1"], [shapely.geometry.shape(BOWTIE)], repair=True)
    assert fixed.geoms[0].is_valid and fixed.geoms[0].area > 0


def test_networks_api_limits_and_repair(tmp_path, sample_dir):
    app, h = _app(tmp_path, sample_dir, network_max_features=3, network_max_vertices=40)
    try:
        client = app.test_client()
        a, b = _layers(tmp_path)
        r = client.post("/api/v1/networks", data=_form(a, b), headers=h, content_type="multipart/form-data")
        assert r.status_code == 200, r.json
        (tmp_path / "big").mkdir()
        big, _ = _layers(tmp_path / "big", n=4)
        r = client.post("/api/v1/networks", data=_form(big, b), headers=h, content_type="multipart/form-data")
        assert r.status_code == 413 and "network_max_features" in r.json["detail"]
        # the user's name, no temp path; Chinese first (zh_CN, the default), the English kept
        assert r.json["detail"].startswith("police.geojson 的要素数 4 超过上限 3 / police.geojson holds 4 features")
        # zipped Shapefile: the count is read from its header, before decoding the records
        import geopandas as gpd

        shp = tmp_path / "shp"
        shp.mkdir()
        gpd.GeoDataFrame({"beat": [f"Z{i}" for i in range(5)]},
                         geometry=[shapely.box(116 + i * 1e-3, 39, 116.0005 + i * 1e-3, 39.0005) for i in range(5)],
                         crs="EPSG:4326").to_file(shp / "many.shp")
        zpath = tmp_path / "many.zip"
        with zipfile.ZipFile(zpath, "w") as zf:
            for f in shp.iterdir():
                zf.write(f, f.name)
        r = client.post("/api/v1/networks", data=_form(zpath, b), headers=h, content_type="multipart/form-data")
        assert r.status_code == 413 and "5 features" in r.json["detail"]
        dense = write_json(tmp_path / "dense.geojson", fc([feat(
            {"type": "Polygon", "coordinates": [[[116.0 + 0.01 * k / 40, 39.0] for k in range(41)]
                                                + [[116.01, 39.01], [116.0, 39.01], [116.0, 39.0]]]}, beat="D1")]))
        r = client.post("/api/v1/networks", data=_form(dense, b), headers=h, content_type="multipart/form-data")
        assert r.status_code == 413 and "network_max_vertices" in r.json["detail"]
        bow = write_json(tmp_path / "bow.geojson", fc([feat(BOWTIE, beat="W1")]))
        r = client.post("/api/v1/networks", data=_form(bow, b), headers=h, content_type="multipart/form-data")
        assert r.status_code == 422 and "invalid polygons" in r.json["detail"] and "repair" in r.json["detail"]
        r = client.post("/api/v1/networks", data=_form(bow, b, repair="1"), headers=h,
                        content_type="multipart/form-data")
        assert r.status_code == 200, r.json
    finally:
        app.extensions["gridmap"].store.close()


def test_propose_points_are_bounded_per_method(tmp_path, sample_dir):
    app, h = _app(tmp_path, sample_dir, propose_max_points="bisect=1000,maxp=50,skater=60")
    try:
        client = app.test_client()
        pts = points_in(ZONE_GEOM, 100, seed=3).tolist()
        r = client.post("/api/v1/propose", json={"zone": ZONE, "points": pts, "grids": 3, "method": "maxp",
                                                 "households": "20-40"}, headers=h)
        assert r.status_code == 413 and "propose_max_points" in r.json["detail"] and "50" in r.json["detail"]
        r = client.post("/api/v1/propose", json={"zone": ZONE, "points": pts, "grids": 3, "method": "skater"},
                        headers=h)
        assert r.status_code == 413 and "skater" in r.json["detail"]
        r = client.post("/api/v1/propose", json={"zone": ZONE, "points": pts, "grids": 3}, headers=h)
        assert r.status_code == 200 and len(r.json["features"]) == 3
    finally:
        app.extensions["gridmap"].store.close()


def test_heavy_request_past_its_budget_answers_503(tmp_path, sample_dir):
    app, h = _app(tmp_path, sample_dir, compute_timeout_s=0.001)
    try:
        client = app.test_client()
        pts = points_in(ZONE_GEOM, 300, seed=3).tolist()
        t0 = time.perf_counter()
        r = client.post("/api/v1/propose", json={"zone": ZONE, "points": pts, "grids": 5}, headers=h)
        assert r.status_code == 503 and "compute_timeout_s" in r.json["detail"], r.json
        assert time.perf_counter() - t0 < 5
    finally:
        app.extensions["gridmap"].store.close()


def _spin(seconds):
    end = time.time() + seconds
    while time.time() < end:
        pass
    return "done"


def _hog():
    return bytearray(600 * 1024 * 1024)


def _bad():
    raise InputError("bad input from the child")


def test_run_bounded_time_memory_and_errors():
    assert run_bounded(_spin, 0.01, timeout_s=10) == "done"
    t0 = time.perf_counter()
    with pytest.raises(TooSlow, match="longer than 0.3 s"):
        run_bounded(_spin, 30, timeout_s=0.3)
    assert time.perf_counter() - t0 < 3
    with pytest.raises(TooSlow, match="memory"):
        run_bounded(_hog, timeout_s=20, memory_mb=300)
    with pytest.raises(InputError, match="bad input from the child"):
        run_bounded(_bad, timeout_s=20)


def test_extension_is_bounded(services):
    """extend hours=1e7 put due_at in year 7699 after 20 s of CPU, 1e8 was a 500: now 422 naming the limit."""
    from .test_incidents import DISPATCHER, Clock, IncidentService, Taxonomy, WorkCalendar, report, walk

    loop = IncidentService(services, Taxonomy.load(), WorkCalendar(), clock=Clock())
    i = report(loop).incident.id
    walk(loop, i, "file", "dispatch")
    for hours in (1e7, 1e8, float("inf"), 241):
        t0 = time.perf_counter()
        with pytest.raises(InputError, match="max_extension_hours"):
            loop.act(i, "extend", DISPATCHER, note="x", data={"hours": hours})
        assert time.perf_counter() - t0 < 1
    inc = loop.act(i, "extend", DISPATCHER, note="需要吊车", data={"hours": 240})
    assert inc.extended and inc.due_at.year == 2026
