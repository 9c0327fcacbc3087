"""Reports from outside the jurisdiction are refused (422, Chinese first), on both backends.

Inside the county but far from every grid still goes to the town queue. The county outline is
built once per plan in force (Services.jurisdiction), not per report. The report page in
Chromium: a tap on the grey area outside the district is refused in Chinese.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import shapely

from gridmap.app import create_app
from gridmap.errors import InputError
from gridmap.geo import jurisdiction as jmod
from gridmap.incidents.service import IncidentService
from gridmap.incidents.taxonomy import Taxonomy
from gridmap.incidents.workhours import WorkCalendar
from gridmap.registry.model import Level
from gridmap.services import Services
from gridmap.settings import Settings

from . import browser
from .conftest import BOX, COUNTY, TOWN, fc, feat, load_sample, square, write_json

NOW = dt.datetime(2026, 3, 2, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
FAR = [(120.0, 30.0), (-180.0, 90.0), (116.15, 38.97)]  # Hangzhou; a pole; 1.1 km south of the (wide) county


@pytest.fixture
def wide_county(sample_dir: Path) -> Path:
    """The sample, but the county and its town reach 0.02° (2.2 km) south of the grids: room for a town queue."""
    big = square(BOX[0], BOX[1] - 0.02, BOX[2], BOX[3])
    write_json(sample_dir / "county.geojson", fc([feat(big, code=COUNTY, name="东城区")]))
    write_json(sample_dir / "towns.geojson", fc([feat(big, code=TOWN, name="东华门街道", parent_code=COUNTY)]))
    return sample_dir


@pytest.fixture
def loop(db_url: str, wide_county: Path):
    s = load_sample(Services.open(Settings(db=db_url), create=True), wide_county)
    yield IncidentService(s, Taxonomy.load(), WorkCalendar(), clock=lambda: NOW)
    s.store.close()


def report(loop, lon, lat, **kw):
    return loop.report({"category": "exposed_rubbish", "lon": lon, "lat": lat, "description": "垃圾", **kw})


@pytest.mark.parametrize("lon,lat", FAR)
def test_a_report_from_outside_the_county_is_refused_and_nothing_is_stored(loop, lon, lat):
    with pytest.raises(InputError) as err:
        report(loop, lon, lat)
    assert err.value.http_status == 422
    text = str(err.value)
    assert "不在东城区辖区内" in text and "outside 东城区" in text and "nothing was stored" in text
    assert text.index("不在") < text.index("outside")  # Chinese first, English kept
    assert err.value.problems[0].startswith("location: ")
    assert loop.repo.query() == []


def test_how_far_outside_is_named(loop):
    with pytest.raises(InputError) as err:
        report(loop, 120.0, 30.0)
    km = float(err.value.problems[0].split("约 ")[1].split(" km")[0].replace(",", ""))
    from pyproj import Geod

    nearest_corner = Geod(ellps="WGS84").inv(120.0, 30.0, BOX[2], BOX[1] - 0.02)[2] / 1000  # the county's SE corner
    assert km == pytest.approx(nearest_corner, abs=1)


def test_inside_the_county_but_far_from_every_grid_goes_to_the_town_queue(loop):
    inc = report(loop, 116.15, 38.99).incident  # 1.1 km south of the grids, inside the wide county
    assert (inc.grid_code, inc.assignment, inc.town_code) == (None, "town_queue", TOWN)


def test_just_outside_within_the_tolerance_is_taken(loop):
    inc = report(loop, 116.15, 38.978).incident  # ~220 m south of the county line: within 500 m
    assert inc.assignment == "town_queue" and inc.town_code == TOWN


def test_gcj02_point_is_checked_after_conversion(loop):
    from gridmap.geo.chinacrs import wgs84_to_gcj02

    x, y = wgs84_to_gcj02(116.15, 39.05)
    assert report(loop, float(x), float(y), crs="GCJ-02").incident.grid_code is not None


def test_the_outline_is_built_once_per_plan(loop, monkeypatch, wide_county):
    built = []
    real = jmod.Jurisdiction.build.__func__
    monkeypatch.setattr(jmod.Jurisdiction, "build", classmethod(lambda cls, *a: built.append(a) or real(cls, *a)))
    s = loop.services
    s.refresh()
    for i in range(5):
        report(loop, 116.05 + i * 0.01, 39.05)
        with pytest.raises(InputError):
            report(loop, 120.0, 30.0)
    assert len(built) == 1
    first = s.jurisdiction
    assert s.jurisdiction is first
    # a new plan in force (an import refreshes the services): rebuilt once, for that plan
    from gridmap.registry.validate import ImportSpec

    s.import_units(wide_county / "grids.geojson", ImportSpec(Level.grid, parent_field="parent_code", replace=True))
    report(loop, 116.05, 39.05)
    assert len(built) == 2 and s.jurisdiction is not first


# -- over HTTP: the API, Open311, locate ---------------------------------------------------------
@pytest.fixture
def client(loop):
    app = create_app(Settings(db=loop.services.settings.db))
    yield app.test_client()
    app.extensions["gridmap"].store.close()


@pytest.mark.parametrize("lon,lat", FAR)
def test_api_refuses_with_422_naming_the_problem(client, lon, lat):
    r = client.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": lon, "lat": lat})
    assert r.status_code == 422
    assert "不在东城区辖区内" in r.get_json()["detail"] and "outside 东城区" in r.get_json()["detail"]
    assert client.get("/api/v1/incidents/1").status_code == 404


def test_open311_refuses_with_the_specs_400(client):
    """Open311 answers bad input with 400 and its error list (GeoReport v2), naming the problem."""
    r = client.post("/open311/v2/requests.json", data={"service_code": "exposed_rubbish", "lat": "30", "long": "120"})
    assert r.status_code == 400
    [err] = r.get_json()
    assert err["code"] == 400 and "不在东城区辖区内" in err["description"]
    assert client.get("/open311/v2/requests.json").get_json() == []


def test_locate_tells_the_page_whether_a_point_is_in_the_jurisdiction(client):
    assert client.get("/api/v1/locate?lon=116.15&lat=39.05").get_json()["in_jurisdiction"] is True
    assert client.get("/api/v1/locate?lon=116.15&lat=38.99").get_json()["in_jurisdiction"] is True
    assert client.get("/api/v1/locate?lon=120&lat=30").get_json()["in_jurisdiction"] is False


# -- the report page in Chromium ---------------------------------------------------------------------
def outside_point(services: Services) -> tuple[float, float]:
    """A point in the grids' bounding box (so on screen) but at least 3 km outside the county."""
    county = shapely.union_all([u.geometry for u in services.units(Level.county)])
    x0, y0, x1, y1 = shapely.union_all([u.geometry for u in services.units(Level.grid)]).bounds
    for fx in (0.02, 0.98, 0.1, 0.9):
        for fy in (0.02, 0.98, 0.1, 0.9):
            lon, lat = x0 + fx * (x1 - x0), y0 + fy * (y1 - y0)
            if services.jurisdiction.distance_outside_m(lon, lat) > 3000 and not county.covers(shapely.Point(lon, lat)):
                return lon, lat
    raise AssertionError("no corner of the demo's bounding box is outside the county")


@pytest.mark.slow
def test_tapping_outside_the_district_in_chromium_is_refused_in_chinese(tmp_path_factory, tmp_path):
    browser.require_browser()
    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("juris"))
    s = app.extensions["gridmap"]
    svc = app.extensions["gridmap"].incidents
    before = len(svc.repo.query(limit=100000))
    lon, lat = outside_point(s)
    with live_server(app) as base, browser.chromium() as b:
        page = b.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                             locale="zh-CN").new_page()
        log = browser.watch(page)
        page.goto(f"{base}/report", wait_until="load")
        page.wait_for_selector("path.leaflet-interactive")
        page.touchscreen.tap(*browser.map_point(page, "window.gridmap.reportMap", lon, lat))
        page.wait_for_function("() => document.getElementById('loc-status').textContent.includes('辖区')")
        assert "不在本辖区内" in page.inner_text("#loc-status")
        page.select_option("#category", "exposed_rubbish")
        page.fill("#description", "辖区外")
        page.click("#submit")
        err = page.wait_for_selector('[data-error-for="location"]:not(:empty)')
        assert "不在" in err.inner_text() and "辖区" in err.inner_text() and "outside" in err.inner_text()
        assert "未提交" in page.inner_text("#form-errors")
        assert page.is_hidden("#report-done")
        browser.screenshot(page, tmp_path, "report-outside-phone.png")
        assert log.problems_except("422") == []
    assert len(svc.repo.query(limit=100000)) == before
    s.store.close()
