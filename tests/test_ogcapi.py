"""OGC API – Features under /ogcapi: OWSLib as the client over real HTTP, and the details via the test client.

The store holds two published plans: plan 1 (the sample, in force from 2020-01-01) and plan 2
(in force from 2025-01-01: GRIDS[2] replaced by a triangular grid with a new code), plus a
few incidents with reporter details that must never be shown.
"""

from __future__ import annotations

import datetime as dt

import pytest
import requests
import shapely
import sqlalchemy as sa
from openapi_spec_validator import validate as validate_openapi
from owslib.ogcapi.features import Features
from shapely.geometry import box, shape

from gridmap import create_app
from gridmap.registry.model import Level
from gridmap.settings import Settings
from gridmap.store import schema

from .conftest import GRIDS, ZONE
from .live_server import live_server

NEW_GRID = ZONE + "004"
# Plan 2's new grid: the lower-right half of GRIDS[2]'s square (its bbox is still the whole square).
TRIANGLE = shapely.Polygon([(116.2, 39.0), (116.3, 39.0), (116.3, 39.1), (116.2, 39.0)])
SECRETS = ("13912345678", "王小明", "家门口漏水")
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"


def _second_plan(store) -> None:
    """Plan 1 in force from 2020; plan 2 (written row by row, as a publish would) from 2025."""
    t, p = schema.units, schema.plans
    with store.engine.begin() as conn:
        conn.execute(p.update().where(p.c.version == 1).values(effective_from=dt.date(2020, 1, 1)))
        conn.execute(p.insert().values(version=2, status="published", effective_from=dt.date(2025, 1, 1),
                                       created_at=dt.datetime.now(dt.timezone.utc), note="test plan 2"))
        rows = conn.execute(sa.select(t).where(t.c.plan == 1)).mappings().all()
        new = []
        for r in rows:
            row = {k: v for k, v in r.items() if k != "id"} | {"plan": 2}
            if r["code"] == GRIDS[2]:
                x0, y0, x1, y1 = TRIANGLE.bounds
                row |= {"code": NEW_GRID, "name": "三角网格", "geom_wkb": shapely.to_wkb(TRIANGLE),
                        "minx": x0, "miny": y0, "maxx": x1, "maxy": y1}
            new.append(row)
        conn.execute(t.insert(), new)


@pytest.fixture
def app(services):
    _second_plan(services.store)
    app = create_app(Settings(db=services.settings.db))
    loop = app.extensions["gridmap"].incidents
    cat = next(iter(loop.taxonomy)).code
    for i, (lon, when) in enumerate([(116.05, "2026-01-10T09:00:00+08:00"), (116.15, "2026-02-10T09:00:00+08:00"),
                                     (116.25, "2026-03-10T09:00:00+08:00")]):
        loop.report({"category": cat, "lon": lon, "lat": 39.05, "reported_at": when, "description": SECRETS[2],
                     "reporter_name": SECRETS[1], "reporter_phone": SECRETS[0]})
    yield app
    app.extensions["gridmap"].store.close()


@pytest.fixture
def client(app):
    return app.test_client()


def _codes(doc) -> list[str]:
    return [f["id"] for f in doc["features"]]


@pytest.mark.slow
# -- OWSLib over real HTTP ----------------------------------------------------------------------
def test_owslib_lists_pages_and_filters_the_stored_features(app):
    store = app.extensions["gridmap"].store
    with live_server(app) as base:
        api = Features(base + "/ogcapi/")
        assert set(api.feature_collections()) == {"county", "town", "zone", "grid", "incidents"}
        assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in api.conformance()["conformsTo"]
        # found by the service-desc link; the paths are the standard's, below the server URL (…/ogcapi)
        assert "/collections/{collectionId}/items" in api.api()["paths"]
        grid = api.collection("grid")
        assert grid["itemType"] == "feature"
        assert grid["extent"]["spatial"]["bbox"] == [[116.0, 39.0, 116.3, 39.1]]

        # page through every grid, two at a time: the pages are disjoint and together are the store
        seen, offset, pages = [], 0, 0
        while True:
            doc = api.collection_items("grid", limit=2, offset=offset)
            pages += 1
            assert doc["numberMatched"] == 3 and doc["numberReturned"] == len(doc["features"])
            seen += doc["features"]
            if not any(lk["rel"] == "next" for lk in doc["links"]):
                break
            offset += 2
        assert pages == 2
        stored = {u.code: u for u in store.units(level=Level.grid)}
        assert [f["id"] for f in seen] == sorted(stored) == [GRIDS[0], GRIDS[1], NEW_GRID]
        for f in seen:
            assert shape(f["geometry"]).equals_exact(shapely.orient_polygons(stored[f["id"]].geometry), 0)
            assert f["properties"]["parent_code"] == ZONE

        # bbox: exact geometry, not bounding boxes. This box touches the triangle's bbox only.
        corner = [116.21, 39.08, 116.24, 39.095]
        assert _codes(api.collection_items("grid", bbox=corner)) == []
        wide = [116.05, 39.02, 116.25, 39.06]
        expected = sorted(c for c, u in stored.items() if u.geometry.intersects(box(*wide)))
        assert _codes(api.collection_items("grid", bbox=wide)) == expected == [GRIDS[0], GRIDS[1], NEW_GRID]

        # datetime: the plan in force on that date
        assert _codes(api.collection_items("grid", datetime_="2021-06-01")) == GRIDS
        assert _codes(api.collection_items("grid", datetime_="2019-01-01")) == []
        assert _codes(api.collection_items("grid", datetime_="2020-01-01/2025-06-01")) == [GRIDS[0], GRIDS[1], NEW_GRID]
        assert api.collection_item("grid", NEW_GRID)["id"] == NEW_GRID
        # OWSLib's collection_item takes no parameters: GRIDS[2] is not in force now, but was in 2024
        url = f"{base}/ogcapi/collections/grid/items/{GRIDS[2]}"
        assert requests.get(url, timeout=10).status_code == 404
        assert requests.get(url + "?datetime=2024-12-31", timeout=10).json()["id"] == GRIDS[2]


@pytest.mark.slow
def test_owslib_reads_public_incidents_only(app):
    with live_server(app) as base:
        api = Features(base + "/ogcapi/")
        doc = api.collection_items("incidents", limit=100)
        assert doc["numberMatched"] == 3
        props = doc["features"][0]["properties"]
        assert set(props) == {"category", "status", "reported_at", "grid_code"}
        assert [f["properties"]["grid_code"] for f in doc["features"]] == [GRIDS[0], GRIDS[1], NEW_GRID]
        feb = api.collection_items("incidents", datetime_="2026-02-01/2026-02-28")
        assert [f["properties"]["grid_code"] for f in feb["features"]] == [GRIDS[1]]
        one = api.collection_item("incidents", str(doc["features"][0]["id"]))
        assert one["geometry"] == {"type": "Point", "coordinates": [116.05, 39.05]}


# -- details through the test client ------------------------------------------------------------
def test_landing_conformance_and_api_document(client):
    r = client.get("/ogcapi/")
    assert r.status_code == 200 and r.mimetype == "application/json"
    rels = {lk["rel"]: lk for lk in r.json["links"]}
    assert {"self", "service-desc", "service-doc", "conformance", "data"} <= set(rels)
    assert rels["service-desc"]["type"] == OPENAPI_JSON and rels["service-desc"]["href"].endswith("/ogcapi/api")
    assert client.get("/ogcapi").status_code == 200
    classes = client.get("/ogcapi/conformance").json["conformsTo"]
    for c in ("core", "geojson", "oas30"):
        assert f"http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/{c}" in classes
    r = client.get("/ogcapi/api")
    assert r.headers["Content-Type"] == OPENAPI_JSON
    validate_openapi(r.json)
    ogc_rules = {rule.rule for rule in client.application.url_map.iter_rules() if rule.endpoint.startswith("ogcapi.")}
    # the server is the API root, and the paths are the standard's templates below it
    [server] = r.json["servers"]
    assert server["url"].endswith("/ogcapi")
    assert "/collections/{collectionId}/items" in r.json["paths"]
    documented = {"/ogcapi" + p.replace("{collectionId}", "<collection_id>").replace("{featureId}", "<feature_id>")
                  for p in r.json["paths"]}
    assert ogc_rules - {"/ogcapi", "/ogcapi/<path:rest>"} == documented


def test_items_paging_links_and_counts(client):
    doc = client.get("/ogcapi/collections/grid/items?limit=1&offset=1&parent_code=" + ZONE).json
    assert _codes(doc) == [GRIDS[1]] and doc["numberMatched"] == 3 and doc["numberReturned"] == 1
    links = {lk["rel"]: lk["href"] for lk in doc["links"]}
    assert "offset=2" in links["next"] and "offset=0" in links["prev"] and "parent_code=" + ZONE in links["next"]
    assert dt.datetime.strptime(doc["timeStamp"], "%Y-%m-%dT%H:%M:%SZ")
    nxt = client.get(links["next"]).json
    assert _codes(nxt) == [NEW_GRID] and not any(lk["rel"] == "next" for lk in nxt["links"])
    r = client.get("/ogcapi/collections/grid/items")
    assert r.headers["Content-Type"] == "application/geo+json" and len(r.json["features"]) == 3
    # the fast GEOS-written features are exactly the registry API's GeoJSON (writers.feature)
    assert r.json["features"] == client.get("/api/v1/units?level=grid").json["features"]
    assert _codes(client.get("/ogcapi/collections/grid/items?name=第2网格").json) == [GRIDS[1]]
    assert _codes(client.get("/ogcapi/collections/zone/items").json) == [ZONE]
    assert client.get("/ogcapi/collections/grid/items?limit=20000").status_code == 200  # cut to the maximum


def test_bbox_forms(client):
    def codes(bbox):
        return _codes(client.get(f"/ogcapi/collections/grid/items?bbox={bbox}").json)

    assert codes("116.05,39.02,0,116.15,39.06,100") == [GRIDS[0], GRIDS[1]]  # 6 numbers: heights ignored
    assert codes("116.2,39.0,116.2,39.1") == [GRIDS[1], NEW_GRID]  # a shared edge touches both
    assert codes("170,39.0,116.01,39.1") == [GRIDS[0]]  # across the antimeridian: 170..180 and -180..116.01
    assert codes("-10,39.0,10,39.1") == []


def test_read_only_methods_are_405_json(client):
    for url in ("/ogcapi/collections", "/ogcapi/collections/grid/items", "/ogcapi/"):
        r = client.post(url, json={})
        assert r.status_code == 405 and r.json["code"] == "MethodNotAllowed" and "GET" in r.headers["Allow"], url


@pytest.mark.parametrize("query, parameter", [
    ("bbox=1,2,3", "bbox"), ("bbox=a,b,c,d", "bbox"), ("bbox=116,40,117,39", "bbox"), ("bbox=0,0,0,nan", "bbox"),
    ("bbox=116,39,117,95", "bbox"), ("limit=0", "limit"), ("limit=ten", "limit"), ("offset=-1", "offset"),
    ("datetime=yesterday", "datetime"), ("datetime=2026-02-30", "datetime"), ("datetime=../..", "datetime"),
    ("datetime=2026-03-01/2026-02-01", "datetime"), ("bbox-crs=EPSG:3857", "bbox-crs"), ("colour=red", "colour"),
    ("f=xml", "f"),
])
def test_bad_parameters_are_400_naming_the_parameter(client, query, parameter):
    r = client.get("/ogcapi/collections/grid/items?" + query)
    assert r.status_code == 400 and r.mimetype == "application/json"
    assert r.json["code"] == "InvalidParameterValue" and r.json["description"].startswith(parameter + ":")


def test_unknown_collection_or_feature_is_404_json(client):
    for url in ("/ogcapi/collections/roads", "/ogcapi/collections/roads/items", "/ogcapi/collections/micro/items",
                f"/ogcapi/collections/grid/items/{GRIDS[2]}", "/ogcapi/collections/incidents/items/999",
                "/ogcapi/collections/incidents/items/abc", "/ogcapi/collections/incidents/items/²",
                "/ogcapi/nothing/here"):
        r = client.get(url)
        assert r.status_code == 404 and r.mimetype == "application/json", url
        assert r.json["code"] == "NotFound"


def test_incidents_never_show_reporter_or_description(client):
    for url in ("/ogcapi/collections/incidents/items?limit=100", "/ogcapi/collections/incidents/items?f=html",
                "/ogcapi/collections/incidents/items/1", "/ogcapi/collections/incidents"):
        text = client.get(url).get_data(as_text=True)
        assert not any(s in text for s in SECRETS), url
    ext = client.get("/ogcapi/collections/incidents").json["extent"]
    assert ext["spatial"]["bbox"] == [[116.05, 39.05, 116.25, 39.05]]
    assert ext["temporal"]["interval"] == [["2026-01-10T09:00:00+08:00", "2026-03-10T09:00:00+08:00"]]


def test_html_pages_escape_text(client, services):
    with services.store.engine.begin() as conn:
        conn.execute(schema.units.update().where(schema.units.c.code == GRIDS[0])
                     .values(name="<script>alert(1)</script>"))
    r = client.get("/ogcapi/collections/grid/items?f=html")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;alert(1)" in page
    assert client.get("/ogcapi/", headers={"Accept": "text/html,application/xhtml+xml"}).mimetype == "text/html"
    for url in ("/ogcapi/?f=html", "/ogcapi/collections?f=html", "/ogcapi/api?f=html", "/ogcapi/conformance?f=html",
                f"/ogcapi/collections/grid/items/{GRIDS[0]}?f=html"):
        assert client.get(url).mimetype == "text/html", url


def test_incident_bbox_answers_on_the_public_point_only(app):
    """A bbox on incidents filters by the rounded position the public sees (3 decimals), so
    narrowing boxes cannot locate a report more exactly than that (issue #12, one privacy policy)."""
    loop = app.extensions["gridmap"].incidents
    cat = next(iter(loop.taxonomy)).code
    new = loop.report({"category": cat, "lon": 116.0504, "lat": 39.0504, "description": "x"}).incident
    c = app.test_client()

    def ids(bbox: str) -> set[str]:
        return {str(f["id"]) for f in c.get(f"/ogcapi/collections/incidents/items?bbox={bbox}&limit=100").json["features"]}

    # the exact point is inside this box, its public point (116.050, 39.050) is not: not found
    assert new.id not in ids("116.0503,39.0503,116.0506,39.0506")
    # the public point is inside this box, the exact one is not: found, as the public sees it
    assert new.id in ids("116.0495,39.0495,116.0502,39.0502")
    doc = c.get(f"/ogcapi/collections/incidents/items/{new.id}").json
    assert doc["geometry"]["coordinates"] == [116.05, 39.05]
