"""Find the place: the gazetteer (import in any CRS, all or nothing), GET /api/v1/places, the CLI,
on both backends; the report page's search box in Chromium, by keyboard only."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from gridmap.app import create_app
from gridmap.errors import InputError
from gridmap.geo.chinacrs import wgs84_to_gcj02
from gridmap.registry.places import import_places, search
from gridmap.settings import Settings

from . import browser
from .conftest import GRIDS, fc, feat, square, write_json

# A village point in grid 2 (WGS84), and the same point as a phone app (GCJ-02) would give it.
VILLAGE = (116.155, 39.052)


def gcj_csv(tmp_path: Path) -> Path:
    x, y = wgs84_to_gcj02(*VILLAGE)
    path = tmp_path / "villages.csv"
    path.write_text(f"name,kind,lon,lat\n王家庄,village,{float(x):.7f},{float(y):.7f}\n"
                    f"李家_100%村,village,116.05,39.05\n", encoding="utf-8")
    return path


def test_a_gcj02_csv_lands_where_it_is_in_wgs84(services, tmp_path):
    got = import_places(services, gcj_csv(tmp_path), crs="GCJ-02")
    assert [p.name for p in got] == ["王家庄", "李家_100%村"] and services.store.places.count() == 2
    [hit] = search(services, "王家")
    assert hit.kind == "village" and hit.source == "villages.csv" and hit.bounds is None
    assert hit.lon == pytest.approx(VILLAGE[0], abs=1e-6) and hit.lat == pytest.approx(VILLAGE[1], abs=1e-6)
    assert services.locate(hit.lon, hit.lat).grid == GRIDS[1]


def test_polygons_give_a_point_inside_and_a_bad_row_writes_nothing(services, tmp_path):
    u = shapely.geometry.shape({"type": "Polygon", "coordinates": [[[116.0, 39.0], [116.06, 39.0], [116.06, 39.01],
                                                                      [116.01, 39.01], [116.01, 39.09], [116.0, 39.09],
                                                                      [116.0, 39.0]]]})  # an L: its centroid is outside
    path = write_json(tmp_path / "p.geojson", fc([feat(shapely.geometry.mapping(u), name="L形小区", kind="poi"),
                                                  feat(square(116.1, 39.0, 116.2, 39.1), name="")]))
    with pytest.raises(InputError) as err:
        import_places(services, path)
    assert "nothing was stored" in str(err.value) and "feature 2" in err.value.problems[0]
    assert services.store.places.count() == 0
    write_json(path, fc([feat(shapely.geometry.mapping(u), name="L形小区", kind="poi")]))
    [p] = import_places(services, path)
    assert u.covers(shapely.Point(p.lon, p.lat))


def test_search_puts_units_first_is_bounded_and_escapes_like(services, tmp_path):
    import_places(services, gcj_csv(tmp_path), crs="GCJ-02")
    names = [h.name for h in search(services, "网格", limit=20)]
    assert names == ["第1网格", "第2网格", "第3网格"]
    by_code = search(services, GRIDS[2])
    assert by_code[0].code == GRIDS[2] and by_code[0].kind == "grid" and by_code[0].bounds == (116.2, 39.0, 116.3, 39.1)
    assert [h.name for h in search(services, "_100%")] == ["李家_100%村"]  # LIKE wildcards are literal
    assert search(services, "王%") == [] and search(services, "王_") == []  # would match 王家庄 as wildcards
    assert len(search(services, "1", limit=2)) == 2
    for bad in ("", " ", "x" * 65):
        with pytest.raises(InputError, match="q:"):
            search(services, bad)
    with pytest.raises(InputError, match="limit"):
        search(services, "网格", limit=21)


def test_replace_drops_the_earlier_import_of_that_file(services, tmp_path):
    path = gcj_csv(tmp_path)
    import_places(services, path, crs="GCJ-02")
    import_places(services, path, crs="GCJ-02", replace=True)
    assert services.store.places.count() == 2
    import_places(services, path, crs="GCJ-02", dry_run=True)
    assert services.store.places.count() == 2


@pytest.mark.slow  # runs the CLI in a subprocess
def test_api_and_cli(services, tmp_path):
    from .test_cli import gm

    res = gm("places", "import", gcj_csv(tmp_path), "--crs", "GCJ-02", cwd=tmp_path, db=services.settings.db)
    assert "imported 2 places" in res.stdout
    res = gm("places", "import", gcj_csv(tmp_path), cwd=tmp_path, db=services.settings.db, check=False)
    assert res.returncode != 0 and "declares no CRS" in res.stdout + res.stderr  # a CSV needs --crs: never guessed
    assert services.store.places.count() == 2
    app = create_app(Settings(db=services.settings.db))
    try:
        c = app.test_client()
        out = c.get("/api/v1/places?q=王家").get_json()
        assert out["q"] == "王家" and out["results"][0]["name"] == "王家庄"
        assert c.get("/api/v1/places?q=网格&limit=2").get_json()["results"][1]["name"] == "第2网格"
        for bad in ("/api/v1/places", "/api/v1/places?q=", "/api/v1/places?q=a&limit=0",
                    "/api/v1/places?q=a&limit=21", "/api/v1/places?q=a&limit=abc", "/api/v1/places?q=a&limit=²",
                    "/api/v1/places?q=a%00b"):
            r = c.get(bad)
            assert r.status_code == 422 and r.get_json()["detail"], bad
    finally:
        app.extensions["gridmap"].store.close()


# -- the report page, keyboard only, in Chromium ------------------------------------------------------
@pytest.mark.slow
def test_report_page_search_by_keyboard_in_chromium(tmp_path_factory, tmp_path):
    browser.require_browser()
    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("places"))
    try:
        with live_server(app) as base, browser.chromium() as b:
            page = b.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN").new_page()
            log = browser.watch(page)
            page.goto(f"{base}/report", wait_until="load")
            page.wait_for_selector("path.leaflet-interactive")
            page.focus("#place-q")
            page.keyboard.type("神头镇驻地")
            page.keyboard.press("Enter")
            page.wait_for_selector("#place-results button")
            assert "神头镇驻地" in page.inner_text("#place-results")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            page.wait_for_function("() => document.getElementById('loc-status').textContent.includes('网格 Grid')")
            status = page.inner_text("#loc-status")
            assert "神头镇" in status
            page.fill("#place-q", "没有这个地方")
            page.keyboard.press("Enter")
            page.wait_for_function("() => document.getElementById('place-msg').textContent.includes('没有找到')")
            browser.screenshot(page, tmp_path, "report-search-desktop.png")
            assert log.problems() == []
    finally:
        app.extensions["gridmap"].store.close()


@pytest.mark.slow
def test_map_page_search_flies_to_the_town_in_chromium(tmp_path_factory, tmp_path):
    browser.require_browser()
    from gridmap.registry.model import Level

    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("mapsearch"))
    town = next(u for u in app.extensions["gridmap"].units(Level.town) if u.name == "神头镇")
    try:
        with live_server(app) as base, browser.chromium() as b:
            page = b.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN").new_page()
            log = browser.watch(page)
            page.goto(f"{base}/map", wait_until="load")
            page.wait_for_selector("path.leaflet-interactive")
            page.fill("#place-q", "神头镇")
            page.keyboard.press("Enter")
            page.wait_for_selector("#place-results button")
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            page.wait_for_function("() => window.gridmap.searchMarker() !== null")
            page.wait_for_timeout(600)  # the fly animation
            c = page.evaluate("(() => { const m = window.gridmap.searchMarker()._map.getCenter(); return [m.lng, m.lat]; })()")
            assert town.geometry.envelope.buffer(0.01).covers(shapely.Point(*c))
            browser.screenshot(page, tmp_path, "map-search-desktop.png")
            assert log.problems() == []
    finally:
        app.extensions["gridmap"].store.close()
