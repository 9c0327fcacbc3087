"""Maps: vendored assets, the pure folium builders (rendered HTML), the map pages, and a real browser."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import folium
import pytest
import shapely
from folium import plugins

from gridmap import maps
from gridmap.incidents.model import Incident
from gridmap.maps.layers import display_geojson, safe
from gridmap.registry.model import Level, Person, Role, Unit
from gridmap.web import compress, maps_pages

from . import browser
from .conftest import GRIDS, ZONE, sample_app

VENDOR = maps_pages.STATIC_DIR / "vendor"
EVIL_NAME = "<img src=x onerror=alert(1)>"
EVIL_TEXT = "</script><script>alert(2)</script> ${alert(3)} `tick` back\\slash"
URL = re.compile(r"https?://[^\s\"'<>)]+")


# -- fixtures ------------------------------------------------------------------------------------
def square(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(x0, y0, x1, y1)


def unit(code: str, name: str, level: Level, geom, parent: str | None = None, households: int | None = 100) -> Unit:
    return Unit(code, name, level, geom, parent_code=parent, households=households)


@pytest.fixture
def model():
    """Three 0.1° grids in one zone, a team with phones, three open incidents (one hostile)."""
    zone = unit(ZONE, "第一管区", Level.zone, square(116.0, 39.0, 116.3, 39.1))
    grids = [unit(GRIDS[0], "第1网格", Level.grid, square(116.0, 39.0, 116.1, 39.1), ZONE),
             unit(GRIDS[1], EVIL_NAME, Level.grid, square(116.1, 39.0, 116.2, 39.1), ZONE, households=50),
             unit(GRIDS[2], "第3网格", Level.grid, square(116.2, 39.0, 116.3, 39.1), ZONE, households=None)]
    people = [Person("P1", "张伟", "13800000001"), Person("P2", "李娜", "13800000002"),
              Person("P3", "王芳", "13800000003"), Person("P9", EVIL_TEXT, "13800000009")]
    roles = [Role("P3", GRIDS[0], "worker"), Role("P1", GRIDS[0], "leader"), Role("P2", GRIDS[0], "instructor"),
             Role("P9", GRIDS[1], "worker")]
    t = dt.datetime(2026, 5, 1, 2, 0, tzinfo=dt.timezone.utc)
    incidents = [Incident("1", "illegal_parking", 116.05, 39.05, t, status="dispatched", description="乱停车",
                          grid_code=GRIDS[0]),
                 Incident("2", "illegal_parking", 116.15, 39.05, t, status="filed", description=EVIL_TEXT,
                          grid_code=GRIDS[1]),
                 Incident("3", "road_damage", 116.151, 39.051, t, status="in_progress", grid_code=GRIDS[1])]
    return {"zones": [zone], "grids": grids, "incidents": incidents,
            "staff_by_grid": maps.staff_by_unit(people, roles)}


def has(html: str, text: str) -> bool:
    """`text` is in the page: as is, or inside a JSON string (non-ASCII and, from Jinja, <>&' as \\u escapes)."""
    from jinja2.utils import htmlsafe_json_dumps

    return any(form in html for form in (text, json.dumps(text)[1:-1], str(htmlsafe_json_dumps(text))[1:-1]))


def incident_rows(html: str) -> list:
    """The incident rows a page hands to gridmap.incidentLayer."""
    found = re.search(r"gridmap\.incidentLayer\((\[.*?\]), \{", html)
    assert found, "no incident layer"
    return json.loads(found.group(1))


def embedded_grids(html: str) -> dict:
    """{grid code: polygons of rings of (lon, lat)} from the grid data a page embeds."""
    found = re.search(r'<script type="application/json" id="[^"]+_data">(.*?)</script>', html, flags=re.S)
    assert found, "no embedded grid data"
    return {f["id"]: maps.geo.decode_polygons(json.dumps(f["g"])) for f in json.loads(found.group(1))["features"]}


def overview_html(model, show_phones: bool = False, static_url: str = "/static/", **kw) -> str:
    m = maps.overview_map(**model, show_phones=show_phones, static_url=static_url, **kw)
    return m.get_root().render()


# -- vendored assets -----------------------------------------------------------------------------
def test_vendored_files_match_their_manifest():
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    on_disk = {p.relative_to(VENDOR).as_posix() for p in VENDOR.rglob("*") if p.is_file()}
    assert on_disk == set(manifest["files"]) | {"README.md", "manifest.json"}
    for rel, sha in manifest["files"].items():
        assert hashlib.sha256((VENDOR / rel).read_bytes()).hexdigest() == sha, rel
    assert all((VENDOR / f).joinpath("LICENSE").is_file() for f in {p["folder"] for p in manifest["packages"]})
    total = sum((VENDOR / rel).stat().st_size for rel in manifest["files"])
    assert total < 3_000_000


def test_every_mapped_asset_and_css_reference_is_vendored():
    manifest = json.loads((VENDOR / "manifest.json").read_text())
    for name, rel in maps.ASSETS.items():
        assert (maps_pages.STATIC_DIR / rel).is_file(), name
    for css in VENDOR.rglob("*.css"):
        for ref in re.findall(r"url\(['\"]?([^'\")]+)['\"]?\)", css.read_text(encoding="utf-8")):
            if ref.startswith(("data:", "#")) or ref in manifest["omitted_fallbacks"]:
                continue
            assert (css.parent / ref).resolve().is_file(), f"{css.name} refers to missing {ref}"


# -- the builders --------------------------------------------------------------------------------
def test_overview_has_every_layer_and_legend(model):
    html = overview_html(model)
    for name in ("网格 Grids", "管区 Zones", "网格名称 Grid labels", "在办事件 Open incidents", "热力图 Heat map",
                 "事件/百户 Incidents per 100 households"):
        assert has(html, name), name
    assert "L.control.layers" in html and "gridmap.incidentLayer" in html and "L.heatLayer" in html
    assert len(incident_rows(html)) == 3  # drawn as awesome markers, clustered, by static/js/gridmap-map.js
    assert '"maxZoom": 19' in html and "L.tileLayer" not in html  # plain background, no tiles
    assert "gm-legend" in html and "gm-grid" in html and "gm-grid-label" in html
    assert has(html, "第1网格")


def test_rendered_html_loads_nothing_from_outside(model):
    html = overview_html(model)
    assert URL.findall(html) == []
    srcs = re.findall(r'<(?:script src|link rel="stylesheet" href)="([^"]+)"', html)
    assert srcs and all(s.startswith("/static/vendor/") or s == "/static/js/gridmap-map.js" for s in srcs)
    assert "bootstrap" not in html and "glyphicons" not in html
    absolute = overview_html(model, static_url="http://127.0.0.1:5000/static/")
    assert {u for u in URL.findall(absolute) if not u.startswith("http://127.0.0.1:5000/static/")} == set()


def test_assets_are_replaced_per_instance_not_per_class(model):
    before = (list(folium.Map.default_js), list(plugins.MarkerCluster.default_css))
    overview_html(model)
    assert (folium.Map.default_js, plugins.MarkerCluster.default_css) == before
    assert "cdn.jsdelivr.net" in folium.Map(tiles=None).get_root().render()  # folium itself untouched


def test_an_unvendored_plugin_is_refused():
    m = folium.Map(tiles=None)
    plugins.Fullscreen().add_to(m)
    with pytest.raises(ValueError, match="not vendored"):
        maps.localise(m, "/static/")
    m2 = maps.localise(folium.Map(tiles=None), "/static/")
    plugins.Fullscreen().add_to(m2)  # added after localise: render_parts will not send it to a CDN
    with pytest.raises(RuntimeError, match="outside the app"):
        maps.render_parts(m2)


def test_safe_escapes_html_and_template_literals():
    assert safe("<b a='1'>&</b>") == "&lt;b a=&#x27;1&#x27;&gt;&amp;&lt;/b&gt;"
    assert safe("${x} `y` \\z") == "&#36;&#123;x&#125; &#96;y&#96; &#92;z"
    assert safe("{{ 7*7 }}") == "&#123;&#123; 7*7 &#125;&#125;"  # folium re-reads its output as Jinja
    assert safe(None) == "" and safe(3) == "3"


@pytest.mark.parametrize("show_phones", [False, True])
def test_user_text_appears_only_escaped(model, show_phones):
    html = overview_html(model, show_phones=show_phones)
    grid = maps.grid_map(model["grids"][1], model["grids"][::2], model["incidents"], static_url="/static/")
    for page in (html, grid.get_root().render()):
        assert "<img" not in page and "onerror=alert(1)>" not in page
        assert "${alert" not in page and "alert(2)</script>" not in page and "`tick`" not in page
        assert page.count("<script") == page.count("</script>")  # nothing broke out of a script
        assert has(page, "&lt;img src=x onerror=alert(1)&gt;")
    assert has(html, "&lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt; &#36;&#123;alert(3)&#125; &#96;tick&#96; "
                     "back&#92;slash")


def test_popup_lists_the_team_and_phones_only_when_allowed(model):
    public, signed_in = overview_html(model), overview_html(model, show_phones=True)
    for name in ("张伟", "李娜", "王芳"):
        assert has(public, name)
    assert "13800000001" not in public and "13800000001" in signed_in
    team = [s.role for s in model["staff_by_grid"][GRIDS[0]]]
    assert team == ["leader", "instructor", "worker"]  # 1+1+N order


def test_choropleth_rates_classes_and_legend(model):
    stats = maps.choropleth(model["grids"], model["incidents"])
    assert stats.counts == {GRIDS[0]: 1, GRIDS[1]: 2, GRIDS[2]: 0}
    assert stats.rates == {GRIDS[0]: 1.0, GRIDS[1]: 4.0, GRIDS[2]: None}
    assert stats.klass(GRIDS[2]) is None and stats.colour(GRIDS[2]) == maps.data.NO_DATA
    assert 0 < stats.klass(GRIDS[0]) < stats.klass(GRIDS[1])
    labels = [label for _, label in stats.legend()]
    assert labels[0] == "0" and labels[-1].startswith("无户数")
    zero = maps.choropleth(model["grids"], [])
    assert {zero.klass(g.code) for g in model["grids"][:2]} == {0}


def test_geometry_is_simplified_and_rounded():
    wiggly = shapely.Polygon([(116.0 + i * 1e-4, 39.0 + (i % 2) * 1e-7) for i in range(101)]
                             + [(116.01, 39.01), (116.0, 39.01)])
    geom = display_geojson(wiggly)
    ring = geom["coordinates"][0]
    assert len(ring) < 10
    assert all(len(repr(c).split(".")[1]) <= 6 for xy in ring for c in xy)


def test_neighbours_share_an_edge_or_vertex(model):
    a, b, c = model["grids"]
    far = unit("X", "far", Level.grid, square(117.0, 39.0, 117.1, 39.1))
    assert [u.code for u in maps.neighbours_of(b, [a, b, c, far])] == [a.code, c.code]
    assert [u.code for u in maps.neighbours_of(a, [a, b, c, far])] == [b.code]


def test_grid_map_shows_the_grid_its_neighbours_and_incidents(model):
    a, b, c = model["grids"]
    html = maps.grid_map(b, [a, c], model["incidents"][1:], static_url="/static/",
                         grid_href=lambda code: f"/grids/{code}").get_root().render()
    assert has(html, "本网格 This grid") and has(html, "相邻网格 Neighbours")
    assert f"/grids/{a.code}" in html and URL.findall(html) == []
    # the incidents: one client-side layer drawn from a JSON array (a row per incident)
    rows = json.loads(re.search(r"gridmap\.incidentLayer\((\[.*?\]), \{", html).group(1))
    assert sorted(r[3] for r in rows) == sorted(str(i.id) for i in model["incidents"][1:])


def test_empty_store_and_lonely_grid_still_render(model):
    empty = maps.overview_map([], [], [], {}, show_phones=False, static_url="/static/").get_root().render()
    assert "gridmap.incidentLayer" in empty and URL.findall(empty) == []
    lonely = maps.grid_map(model["grids"][0], [], [], static_url="/static/").get_root().render()
    assert has(lonely, "本网格 This grid") and not has(lonely, "相邻网格 Neighbours")


def test_basemap_is_optional_and_attributed(model):
    html = overview_html(model, basemap="http://tiles.local/{z}/{x}/{y}.png", basemap_attr="© 本地底图")
    assert "L.tileLayer" in html and "tiles.local" in html
    assert URL.findall(html) == ["http://tiles.local/{z}/{x}/{y}.png"]


# -- the pages -----------------------------------------------------------------------------------
@pytest.fixture
def client(tmp_path: Path, sample_dir: Path):
    """The app over a SQLite store holding the sample hierarchy, its staff, and one hostile report."""
    app = browser.with_maps(sample_app(tmp_path, sample_dir))
    c = app.test_client()
    r = c.post("/api/v1/incidents", json={"category": "illegal_parking", "lon": 116.05, "lat": 39.05,
                                          "description": EVIL_TEXT, "reporter_phone": "13999999999"})
    assert r.status_code == 201, r.get_json()
    from gridmap.incidents.actors import SYSTEM

    app.extensions["gridmap"].incidents.act(r.get_json()["id"], "file", SYSTEM)  # filed: its text is public
    yield c
    app.extensions["gridmap"].store.close()


def _token(client) -> dict:
    from gridmap.web.auth import create_token, create_user

    store = client.application.extensions["gridmap"].store
    create_user(store, "disp", "password123", "dispatcher")
    return {"Authorization": f"Bearer {create_token(store, 'disp')}"}


def test_map_page_and_its_json_twin(client):
    page = client.get("/map")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "folium-map" in html and "/map.json" in html and URL.findall(html) == []
    assert "alert(2)</script>" not in html and "13999999999" not in html
    data = client.get("/map.json").get_json()
    assert data["counts"] == {"zones": 1, "grids": 3, "incidents": 1, "open_incidents": 1}
    first = next(g for g in data["grids"] if g["code"] == GRIDS[0])
    assert first["open_incidents"] == 1 and first["per_100_households"] == 1.0
    assert [s["name"] for s in first["staff"]] == ["张伟", "李娜", "王芳"]
    assert all("phone" not in s for g in data["grids"] for s in g["staff"])
    assert data["incidents"][0]["description"] == EVIL_TEXT and "reporter_phone" not in data["incidents"][0]


def test_phones_are_shown_to_signed_in_users_only(client):
    headers = _token(client)
    data = client.get("/map.json", headers=headers).get_json()
    assert {s["phone"] for g in data["grids"] for s in g["staff"]} >= {"13800000001"}
    assert "13800000001" in client.get("/map", headers=headers).get_data(as_text=True)
    assert "13800000001" not in client.get("/map").get_data(as_text=True)
    assert "13800000001" in client.get(f"/grids/{GRIDS[0]}", headers=headers).get_data(as_text=True)
    assert "13800000001" not in client.get(f"/grids/{GRIDS[0]}").get_data(as_text=True)


def test_grid_page_and_its_json_twin(client):
    html = client.get(f"/grids/{GRIDS[0]}").get_data(as_text=True)
    assert "第1网格" in html and "张伟" in html and "第一管区" in html and URL.findall(html) == []
    assert "&lt;/script&gt;&lt;script&gt;alert(2)" in html  # the incident table, escaped by Jinja
    data = client.get(f"/grids/{GRIDS[0]}.json").get_json()
    assert data["grid"]["code"] == GRIDS[0] and data["zone"]["code"] == ZONE
    assert [n["code"] for n in data["neighbours"]] == [GRIDS[1]]
    assert [s["role"] for s in data["staff"]] == ["leader", "instructor", "worker"]
    assert len(data["incidents"]) == 1
    assert client.get("/grids/nope").status_code == 404
    assert client.get(f"/grids/{ZONE}").status_code == 404


def test_static_assets_are_served(client):
    r = client.get("/static/vendor/leaflet/leaflet.js")
    assert r.status_code == 200 and b"Leaflet" in r.data[:400]
    r.close()


# -- in a real browser ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    """The demo app on 127.0.0.1, with one grid's team joined by a hostile name."""
    browser.require_browser()
    from .live_server import live_server

    tmp = tmp_path_factory.mktemp("demo")
    app = browser.demo_app(tmp)
    s = app.extensions["gridmap"]
    grid = s.units(Level.grid)[5]
    s.store.add_staff([Person("PX1", EVIL_NAME + "${alert(3)}", "13700000000")], [Role("PX1", grid.code, "worker")])
    with live_server(app) as base:
        yield base, app, grid
    s.store.close()


def _map_js(page, expr: str):
    """Evaluate `expr` with `m` bound to the page's Leaflet map."""
    return page.evaluate(f"() => {{ const m = window[document.querySelector('.folium-map').id]; return {expr}; }}")


@pytest.mark.slow
def test_overview_in_chromium(demo_server, tmp_path):
    base, app, grid = demo_server
    team = [p.name for p in app.extensions["gridmap"].store.people()
            if p.person_id in {r.person_id for r in app.extensions["gridmap"].store.roles(unit_code=grid.code)}]
    with browser.chromium() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        log = browser.watch(page)
        page.goto(base + "/map", wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('path.gm-grid').length >= 100", timeout=15000)
        page.wait_for_selector(".marker-cluster, .awesome-marker")
        assert page.locator("path.gm-grid").count() >= 100
        assert page.locator(".gm-legend").count() == 2
        browser.screenshot(page, tmp_path, "map-overview.png")

        page.get_by_text("在办事件 Open incidents", exact=True).first.click()  # markers off: click the grid
        page.get_by_text("热力图 Heat map", exact=True).click()  # heat on
        p = grid.geometry.representative_point()
        _map_js(page, f"m.setView([{p.y}, {p.x}], 14, {{animate: false}})")
        page.wait_for_timeout(300)
        x, y = browser.map_point(page, "window[document.querySelector('.folium-map').id]", p.x, p.y)
        page.mouse.click(x, y)
        popup = page.wait_for_selector(".leaflet-popup-content")
        text = popup.inner_text()
        assert grid.code in text and all(name in text for name in team)
        assert EVIL_NAME + "${alert(3)}" in text  # shown as text, not run
        assert page.locator(".leaflet-heatmap-layer").count() == 1
        page.wait_for_timeout(400)  # the popup fades in
        browser.screenshot(page, tmp_path, "map-popup.png")
        assert log.problems() == []


@pytest.mark.slow
def test_grid_page_in_chromium(demo_server, tmp_path):
    base, app, grid = demo_server
    with browser.chromium() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        log = browser.watch(page)
        page.goto(f"{base}/grids/{grid.code}", wait_until="load")
        page.wait_for_selector("path.gm-grid")
        assert page.locator("path.gm-grid").count() >= 3  # the grid and its neighbours
        assert grid.name in page.inner_text("h1")
        assert EVIL_NAME + "${alert(3)}" in page.inner_text("table.gm-team")
        page.wait_for_timeout(300)
        browser.screenshot(page, tmp_path, "map-grid.png")
        assert log.problems() == []


# -- large stores: grids by bounding box -----------------------------------------------------------
def _bbox(client, box, zoom=14, **headers):
    return client.get(f"/map/grids.geojson?bbox={','.join(map(str, box))}&zoom={zoom}", headers=headers)


def test_bbox_endpoint_returns_only_the_grids_intersecting_the_box(client):
    fc = _bbox(client, (116.02, 39.02, 116.08, 39.08)).get_json()
    assert fc["type"] == "FeatureCollection" and [f["id"] for f in fc["features"]] == [GRIDS[0]]
    assert fc["truncated"] is False and fc["matched"] == 1 and fc["frame"] == "WGS84"
    fc = _bbox(client, (116.15, 38.9, 116.25, 39.05)).get_json()
    assert [f["id"] for f in fc["features"]] == GRIDS[1:]
    assert _bbox(client, (117.0, 40.0, 117.1, 40.1)).get_json()["features"] == []
    f = _bbox(client, (116.0, 39.0, 116.3, 39.1)).get_json()["features"][0]
    assert f["geometry"]["type"] == "Polygon" and f["properties"]["n"] == "第1网格"
    assert f["properties"]["o"] == 1 and f["properties"]["lp"] == [39.05, 116.05]
    assert "t" not in f["properties"]  # teams (and phones) come from /grids/<code>.json, by permission
    r = _bbox(client, (116.0, 39.0, 116.3, 39.1))
    assert r.mimetype == "application/geo+json" and "13800000001" not in r.get_data(as_text=True)


def test_bbox_endpoint_limits_the_count_and_refuses_bad_input(client, monkeypatch):
    monkeypatch.setattr(maps_pages, "BBOX_MAX_GRIDS", 2)
    fc = _bbox(client, (116.0, 39.0, 116.3, 39.1)).get_json()
    assert fc["truncated"] is True and fc["matched"] == 3 and fc["features"] == []
    for bad in ("1,2,3", "116.3,39,116,39.1", "a,b,c,d", "0,0,200,1", "nan,0,1,1"):
        r = client.get(f"/map/grids.geojson?bbox={bad}")
        assert r.status_code == 422 and "bbox" in r.get_json()["detail"], bad
    assert client.get("/map/grids.geojson?bbox=116,39,116.1,39.1&zoom=99").status_code == 422


def test_simplification_follows_the_zoom():
    wiggly = shapely.Polygon([(116.0 + i * 1e-4, 39.0 + (i % 2) * 3e-5) for i in range(201)]
                             + [(116.02, 39.02), (116.0, 39.02)])
    catalog = maps.GridCatalog([unit("W", "w", Level.grid, wiggly)])
    coarse, fine = (json.loads(catalog.served([0], maps.WGS84, z)[0]) for z in (10, 18))
    assert len(coarse["coordinates"][0]) < 10 < len(fine["coordinates"][0])
    assert maps.geo.tolerance_for_zoom(10) == pytest.approx(0.5 * 360 / 256 / 1024)
    assert maps.geo.decimals_for(maps.geo.tolerance_for_zoom(10)) == 5 and maps.geo.decimals_for(1e-5) == 6
    ring = [tuple(c) for c in display_geojson(wiggly)["coordinates"][0]]  # what the folium layers embed
    assert maps.geo.decode_polygons(catalog.embedded(maps.WGS84)[0]) == [[ring[:-1]]]  # the same, encoded


def test_large_store_page_embeds_no_grids_and_loads_them_by_bbox(client, monkeypatch):
    _embed_limit(monkeypatch, client.application, 2)
    html = client.get("/map").get_data(as_text=True)
    assert "/map/grids.geojson" in html and "loaded for the part of the map in view" not in html
    assert "grids load for the part of the map in view" in html
    assert not has(html, "第1网格") and "[116.1,39.0]" not in html and "[116.1, 39.0]" not in html  # no grids
    assert URL.findall(html) == []


def test_map_pages_are_gzipped_for_clients_that_accept_it(client, monkeypatch):
    plain = client.get("/map")
    packed = client.get("/map", headers={"Accept-Encoding": "gzip, deflate"})
    assert "Content-Encoding" not in plain.headers
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    import gzip

    html = gzip.decompress(packed.data).decode()
    assert html.startswith("<!doctype html>") and "folium-map" in html and len(packed.data) < len(plain.data) / 2.5
    assert "Content-Encoding" not in client.get("/map/grids.geojson?bbox=116,39,116.3,39.1",
                                                headers={"Accept-Encoding": "gzip"}).headers  # too small to pay
    monkeypatch.setattr(compress, "GZIP_MIN_BYTES", 100)
    js = client.get("/map/grids.geojson?bbox=116,39,116.3,39.1", headers={"Accept-Encoding": "gzip"})
    assert js.headers["Content-Encoding"] == "gzip" and json.loads(gzip.decompress(js.data))["matched"] == 3


# -- a GCJ-02 basemap ------------------------------------------------------------------------------
class _WithBasemap:
    """The app's settings plus basemap fields (until Settings declares them)."""

    def __init__(self, base, **extra):
        self._base = base
        self.__dict__.update(extra)

    def __getattr__(self, name):
        return getattr(self._base, name)


def test_gcj02_basemap_shifts_every_overlay_by_the_chinacrs_offset(model):
    from gridmap.geo.chinacrs import wgs84_to_gcj02

    gx, gy = (float(v) for v in wgs84_to_gcj02(116.0, 39.0))
    assert 0.004 < gx - 116.0 < 0.008 and 0.0005 < gy - 39.0 < 0.003  # a few hundred metres
    moved = maps.geo.display_units(model["grids"][:1], maps.GCJ02)[0]
    assert moved.geometry.exterior.coords[0] == pytest.approx((gx, gy), abs=1e-12) or \
        (gx, gy) in [pytest.approx(c, abs=1e-12) for c in moved.geometry.exterior.coords]
    inc = maps.geo.display_incidents(model["incidents"][:1], maps.GCJ02)[0]
    ix, iy = (float(v) for v in wgs84_to_gcj02(116.05, 39.05))
    assert (inc.lon, inc.lat) == pytest.approx((ix, iy), abs=1e-12)
    assert maps.geo.display_units(model["grids"][:1], maps.WGS84)[0] is model["grids"][0]
    html = overview_html(model, basemap="http://tiles.local/{z}/{x}/{y}.png", basemap_crs="GCJ-02")
    assert f"[{round(iy, 3)},{round(ix, 3)}," in html  # the incident marker, shifted (rounded for the public)
    assert (round(gx, 6), round(gy, 6)) in embedded_grids(html)[GRIDS[0]][0][0]  # a grid vertex, shifted
    assert (116.0, 39.0) not in embedded_grids(html)[GRIDS[0]][0][0] and "[39.05,116.05," not in html


def test_gcj02_bbox_is_read_and_answered_in_gcj02(client):
    from gridmap.geo.chinacrs import wgs84_to_gcj02

    s = client.application.extensions["gridmap"]
    s.settings = _WithBasemap(s.settings, basemap_url="http://tiles.local/{z}/{x}/{y}.png", basemap_crs="GCJ-02",
                              basemap_attr="© 高德")
    cx, cy = (float(v) for v in wgs84_to_gcj02(116.05, 39.05))  # G1's centre, as the map shows it
    fc = _bbox(client, (cx - 0.01, cy - 0.01, cx + 0.01, cy + 0.01)).get_json()
    assert [f["id"] for f in fc["features"]] == [GRIDS[0]] and fc["frame"] == "GCJ-02"
    gx, gy = (round(float(v), 6) for v in wgs84_to_gcj02(116.0, 39.0))
    assert [gx, gy] in fc["features"][0]["geometry"]["coordinates"][0]
    assert fc["features"][0]["properties"]["lp"] == [round(cy, 6), round(cx, 6)]
    html = client.get("/map").get_data(as_text=True)
    assert (gx, gy) in embedded_grids(html)[GRIDS[0]][0][0] and has(html, "http://tiles.local/{z}/{x}/{y}.png") and has(html, "© 高德")
    data = client.get("/map.json").get_json()  # the JSON twin stays in WGS84: it is data
    assert data["incidents"][0]["lon"] == 116.05
    grid_html = client.get(f"/grids/{GRIDS[0]}").get_data(as_text=True)
    assert f"[{gx}, {gy}]" in grid_html or f"[{gx},{gy}]" in grid_html


# -- every page ------------------------------------------------------------------------------------
def test_no_page_refers_to_anything_outside_the_app(client):
    """No http(s):// URL in any HTML page, for the public and for a signed-in user."""
    from gridmap.app import create_app

    from .test_dashboard import with_dashboard

    headers = _token(client)  # a user in the store, then a second app over it with the dashboard
    app = with_dashboard(browser.with_maps(create_app(client.application.extensions["gridmap"].settings)))
    client = app.test_client()
    paths = {f"/grids/{GRIDS[0]}", "/dashboard", "/map", "/"}
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.arguments and not rule.rule.startswith(("/static", "/api", "/open311")):
            paths.add(rule.rule)
    checked = 0
    for path in sorted(paths):
        for h in ({}, headers):
            r = client.get(path, headers=h)
            if r.status_code == 200 and r.mimetype == "text/html":
                assert URL.findall(r.get_data(as_text=True)) == [], path
                checked += 1
    assert checked >= 8 and {"/dashboard", "/map"} <= paths


@pytest.mark.slow
def test_large_store_overview_in_chromium_loads_grids_by_bbox(demo_server, tmp_path, monkeypatch):
    base, app, grid = demo_server
    _embed_limit(monkeypatch, app, 50)  # the demo's 100 grids count as "large"
    team = {p.name for p in app.extensions["gridmap"].store.people()
            if p.person_id in {r.person_id for r in app.extensions["gridmap"].store.roles(unit_code=grid.code)}}
    with browser.chromium() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        log = browser.watch(page)
        with page.expect_response(lambda r: "/map/grids.geojson?bbox=" in r.url) as first:
            page.goto(base + "/map", wait_until="load")
        assert first.value.headers.get("content-encoding") == "gzip"
        page.wait_for_function("() => window.gridmapDrawn", timeout=15000)  # drawn on a canvas: no <path> per grid
        assert _map_js(page, "Object.values(m._layers).filter(l => l._gmGrid).length") == 100
        page.get_by_text("在办事件 Open incidents", exact=True).first.click()  # markers off: click the grid
        p = grid.geometry.representative_point()
        # a view set while Leaflet still animates an earlier move is undone when that animation ends
        # (the map was seen back at zoom 10.5, no labels): set it again until it holds
        for _ in range(5):
            _map_js(page, f"(m.setView([{p.y}, {p.x}], 14, {{animate: false}}), 0)")
            page.wait_for_timeout(500)
            if _map_js(page, "m.getZoom()") == 14:
                break
        assert _map_js(page, "m.getZoom()") == 14
        page.wait_for_function("() => document.querySelectorAll('.gm-grid-label').length >= 1")  # labels from zoom 13 on
        page.wait_for_timeout(300)
        x, y = browser.map_point(page, "window[document.querySelector('.folium-map').id]", p.x, p.y)
        page.mouse.click(x, y)
        page.wait_for_function("() => document.querySelector('.leaflet-popup-content') && "
                               "!document.querySelector('.leaflet-popup-content').innerText.includes('…')")
        text = page.inner_text(".leaflet-popup-content")
        assert grid.code in text and all(n in text for n in team)
        assert EVIL_NAME + "${alert(3)}" in text  # fetched from /grids/<code>.json, escaped in the page
        page.wait_for_timeout(400)
        browser.screenshot(page, tmp_path, "map-bbox-popup.png")
        # a bbox fetch the map superseded (it moved again) is aborted on purpose (gridmap-map.js)
        assert [q for q in log.problems() if not ("/map/grids.geojson?bbox=" in q and "ERR_ABORTED" in q)] == []


def _embed_limit(monkeypatch, app, n: int) -> None:
    """Set the app's map_embed_max_grids setting for one test."""
    import dataclasses

    svc = app.extensions["gridmap"]
    monkeypatch.setattr(svc, "settings", dataclasses.replace(svc.settings, map_embed_max_grids=n))


@pytest.mark.slow
def test_overview_filters_in_chromium(demo_server, tmp_path):
    base, app, grid = demo_server
    repo = app.extensions["gridmap"].incidents.repo
    zone = grid.parent_code
    every = repo.query(zone_code=zone)
    assert every, "the demo has incidents in this zone"
    category = every[0].category
    expected = len([i for i in every if i.category == category])  # every status, this zone, this category
    with browser.chromium() as b:
        page = b.new_page(viewport={"width": 1280, "height": 900})
        log = browser.watch(page)
        page.goto(base + "/map", wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('path.gm-grid').length >= 100", timeout=15000)
        page.select_option("select[name=category]", category)
        page.select_option("select[name=status]", "all")
        page.select_option("select[name=zone]", zone)
        with page.expect_navigation():
            page.click(".gm-filters button[type=submit]")
        assert f"category={category}" in page.url and f"zone={zone}" in page.url
        page.wait_for_function("() => document.querySelectorAll('path.gm-grid').length >= 100", timeout=15000)
        assert page.inner_text("#gm-incident-count") == str(expected)
        # the map is framed on the zone: the zone's grids fill the view
        inside = _map_js(page, f"m.getBounds().contains([{grid.geometry.centroid.y}, {grid.geometry.centroid.x}])")
        assert inside
        assert "已结案 closed" in page.inner_text(".gm-legend >> nth=1") or "已结案 closed" in page.content()
        page.wait_for_timeout(300)
        browser.screenshot(page, tmp_path, "map-overview-filtered.png")
        assert log.problems() == []
