"""OGC API – Features as GIS clients use it: GDAL's OAPIF driver (ogr2ogr/ogrinfo), gzip, rounding, HTML.

GDAL runs as a subprocess against the app on 127.0.0.1 (both store backends); a WSGI wrapper
records every request the server saw, so a test can tell a filter sent to the server from one
GDAL applied locally.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
from urllib.parse import parse_qs

import pytest

from .conftest import GRIDS, ZONE
from .live_server import live_server
from .test_ogcapi import app, client  # noqa: F401  (the same fixtures: two plans, three incidents)

needs_gdal = pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="gdal-bin is not installed (.ci/run installs it)")


class Recorder:
    """WSGI middleware: remembers (path, query) of every request."""

    def __init__(self, wsgi):
        self.wsgi, self.seen = wsgi, []

    def __call__(self, environ, start_response):
        self.seen.append((environ.get("PATH_INFO", ""), parse_qs(environ.get("QUERY_STRING", ""))))
        return self.wsgi(environ, start_response)


def _gdal(*args: str) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "GDAL_HTTP_TIMEOUT": "20", "CPL_DEBUG": "OFF"}
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)


@pytest.mark.slow
@needs_gdal
def test_ogr2ogr_where_is_sent_to_the_server(app, tmp_path):  # noqa: F811
    rec = Recorder(app.wsgi_app)
    app.wsgi_app = rec
    out = tmp_path / "grids.geojson"
    with live_server(app) as base:
        p = _gdal("ogr2ogr", "-f", "GeoJSON", str(out), f"OAPIF:{base}/ogcapi", "grid",
                  "-where", f"parent_code = '{ZONE}' AND name = '第2网格'")
    assert p.returncode == 0, p.stderr
    got = json.loads(out.read_text())
    assert [f["properties"]["code"] for f in got["features"]] == [GRIDS[1]]
    # GDAL first reads a page to learn the fields, then asks for the filtered features
    items = [q for path, q in rec.seen if path == "/ogcapi/collections/grid/items"]
    assert items[-1].get("parent_code") == [ZONE] and items[-1].get("name") == ["第2网格"], rec.seen


# -- what a GIS client gets ---------------------------------------------------------------------
NOISY = "110101001001009"  # a grid whose vertices carry float noise (as a CRS transform leaves them)


def _add_noisy_grid(store) -> None:
    """A 200-vertex ring in the plan in force, its vertices carrying float noise past 7 decimals."""
    import math

    import shapely
    import sqlalchemy as sa

    from gridmap.store import schema

    t = schema.units
    ring = [(116.2 + 0.05 + 0.04 * math.cos(a) + 1e-14, 39.05 + 0.04 * math.sin(a) + 1e-14)
            for a in (2 * math.pi * i / 200 for i in range(200))]
    # vertices GEOS's own GeoJSON writer prints as 116.25537249999999 and 39.026885299999996
    ring[43], ring[182] = (116.2553725, 39.0740892), (116.286204, 39.0268853)
    poly = shapely.Polygon(ring)
    assert poly.is_valid
    with store.engine.begin() as conn:
        plan = conn.execute(sa.select(sa.func.max(t.c.plan))).scalar()
        row = dict(conn.execute(sa.select(t).where(t.c.code == GRIDS[0], t.c.plan == plan)).mappings().one())
        x0, y0, x1, y1 = poly.bounds
        row = {k: v for k, v in row.items() if k != "id"} | {
            "code": NOISY, "name": "圆网格", "geom_wkb": shapely.to_wkb(poly), "minx": x0, "miny": y0, "maxx": x1,
            "maxy": y1}
        conn.execute(t.insert(), [row])


def test_items_are_gzipped_and_rounded(app, client):  # noqa: F811
    import re

    _add_noisy_grid(app.extensions["gridmap"].store)
    url = "/ogcapi/collections/grid/items?limit=100"
    plain = client.get(url)
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    packed = client.get(url, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    unpacked = json.loads(gzip.decompress(packed.get_data()))
    assert unpacked | {"timeStamp": None} == json.loads(plain.get_data()) | {"timeStamp": None}
    assert len(packed.get_data()) < len(plain.get_data()) / 2
    doc = json.loads(plain.get_data())
    assert NOISY in [f["id"] for f in doc["features"]]
    noise = re.compile(r"\d\.\d{8,}")  # more than 7 decimals: float noise, not survey precision
    assert not noise.search(plain.get_data(as_text=True))
    one = client.get(f"/ogcapi/collections/grid/items/{NOISY}")
    assert one.status_code == 200 and not noise.search(one.get_data(as_text=True))
    x, y = one.json["geometry"]["coordinates"][0][0]
    assert x == round(x, 7) and 116.2 < x < 116.3 and 39.0 < y < 39.1
    # still the same, valid shape
    from shapely.geometry import shape

    served = shape(one.json["geometry"])
    assert served.is_valid and len(served.exterior.coords) == 201
    assert served.centroid.distance(shape({"type": "Point", "coordinates": [116.25, 39.05]})) < 1e-3


def test_collections_link_queryables(client):  # noqa: F811
    c = client.get("/ogcapi/collections/grid").json
    rels = {lk["rel"]: lk["href"] for lk in c["links"]}
    assert rels["queryables"] == rels["http://www.opengis.net/def/rel/ogc/1.0/queryables"]
    assert rels["queryables"].endswith("/ogcapi/collections/grid/queryables")
    assert client.get(rels["queryables"]).status_code == 200


CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
EPSG_4326 = "http://www.opengis.net/def/crs/EPSG/0/4326"
EPSG_4490 = "http://www.opengis.net/def/crs/EPSG/0/4490"


def test_part_2_crs_with_content_crs(client):  # noqa: F811
    c = client.get("/ogcapi/collections/grid").json
    assert c["crs"] == [CRS84, EPSG_4326, EPSG_4490] and c["storageCrs"] == CRS84
    assert "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs" in client.get("/ogcapi/conformance").json[
        "conformsTo"]
    url = f"/ogcapi/collections/grid/items/{GRIDS[1]}"
    plain = client.get(url)
    assert plain.headers["Content-Crs"] == f"<{CRS84}>"
    lonlat = plain.json["geometry"]["coordinates"][0]
    assert all(116.0 <= x <= 116.3 and 39.0 <= y <= 39.1 for x, y in lonlat)
    for uri in (EPSG_4326, EPSG_4490):
        r = client.get(url, query_string={"crs": uri})
        assert r.status_code == 200 and r.headers["Content-Crs"] == f"<{uri}>"
        assert r.json["geometry"]["coordinates"][0] == [[y, x] for x, y in lonlat]  # latitude first
        page = client.get("/ogcapi/collections/grid/items", query_string={"crs": uri, "code": GRIDS[1]})
        assert page.headers["Content-Crs"] == f"<{uri}>"
        assert page.json["features"][0]["geometry"]["coordinates"][0] == [[y, x] for x, y in lonlat]
    inc = client.get("/ogcapi/collections/incidents/items", query_string={"crs": EPSG_4326, "limit": 1}).json
    lat, lon = inc["features"][0]["geometry"]["coordinates"]
    assert 39.0 < lat < 39.1 and 116.0 < lon < 116.3
    # bbox in a latitude-first CRS: the same box, its numbers in EPSG's order
    box84 = client.get("/ogcapi/collections/grid/items?bbox=116.12,39.02,116.18,39.08").json
    box4326 = client.get("/ogcapi/collections/grid/items", query_string={
        "bbox": "39.02,116.12,39.08,116.18", "bbox-crs": EPSG_4326}).json
    assert [f["id"] for f in box84["features"]] == [f["id"] for f in box4326["features"]] == [GRIDS[1]]
    r = client.get("/ogcapi/collections/grid/items", query_string={"crs": "http://www.opengis.net/def/crs/EPSG/0/3857"})
    assert r.status_code == 400 and "crs" in r.json["description"] and "4490" in r.json["description"]
    r = client.get("/ogcapi/collections/grid/items", query_string={"bbox": "1,2,3,4", "bbox-crs": "EPSG:3857"})
    assert r.status_code == 400 and r.json["description"].startswith("bbox-crs")


def test_html_pages_show_empty_values_empty_and_errors_as_pages(client):  # noqa: F811
    page = client.get(f"/ogcapi/collections/grid/items/{GRIDS[0]}?f=html")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.mimetype == "text/html"
    assert "valid_to" in html and "<td>None</td>" not in html and ">None<" not in html
    listing = client.get("/ogcapi/collections/grid/items?f=html").get_data(as_text=True)
    assert GRIDS[0] in listing and ">None<" not in listing
    for url, status, word in [("/ogcapi/collections/nope?f=html", 404, "nope"),
                              ("/ogcapi/collections/grid/items?f=html&limit=abc", 400, "limit"),
                              ("/ogcapi/collections/grid/items/NOPE?f=html", 404, "NOPE"),
                              ("/ogcapi/nothing?f=html", 404, "nothing")]:
        r = client.get(url)
        assert r.status_code == status and r.mimetype == "text/html", (url, r.status_code, r.mimetype)
        assert word in r.get_data(as_text=True)
    # JSON clients still get the exception document
    r = client.get("/ogcapi/collections/nope")
    assert r.status_code == 404 and r.json["code"] == "NotFound"


@pytest.mark.slow
def test_html_pages_in_a_browser(app, tmp_path):  # noqa: F811
    from .browser import chromium, require_browser

    require_browser()
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page()
        r = page.goto(f"{base}/ogcapi/collections/grid/items/{GRIDS[0]}?f=html")
        assert r.status == 200
        header = page.locator("table tr").first.locator("th").all_inner_texts()
        cells = page.locator("table tr").nth(1).locator("td").all_inner_texts()
        row = dict(zip(header, cells))
        assert row["code"] == GRIDS[0] and row["valid_to"] == "" and "None" not in cells
        page.screenshot(path=str(tmp_path / "ogc_item.png"), full_page=True)
        r = page.goto(f"{base}/ogcapi/collections/nope/items?f=html")
        assert r.status == 404 and "404" in page.locator("h1").inner_text()
        assert "nope" in page.locator("body").inner_text()
        page.screenshot(path=str(tmp_path / "ogc_404.png"), full_page=True)
    import shutil as sh
    from pathlib import Path

    shots = Path("/tmp/gridmap-standards-shots")
    shots.mkdir(exist_ok=True)
    for name in ("ogc_item.png", "ogc_404.png"):
        sh.copy(tmp_path / name, shots / name)
