"""The leaders' dashboard: hotspot and early-warning rules on hand-computed data, the page and its
JSON twin on the demo store as of 2026-11-01, sign-in, and the page in a real browser."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from gridmap.incidents.model import Incident
from gridmap.maps import data as mdata

from . import browser

TZ = dt.timezone(dt.timedelta(hours=8))
AS_OF = dt.datetime(2026, 11, 1, tzinfo=TZ)
URL = re.compile(r"https?://[^\s\"'<>)]+")
SHOTS = Path("/tmp/gridmap-dash-check")
_ids = iter(range(1, 10**6))


def inc(grid: str | None, days_before: float, status: str = "closed", merged_into: str | None = None) -> Incident:
    """An incident in `grid` reported `days_before` days before AS_OF."""
    return Incident(str(next(_ids)), "illegal_parking", 116.5, 37.4, AS_OF - dt.timedelta(days=days_before),
                    status=status, grid_code=grid, merged_into=merged_into)


def weekly(grid: str, counts: list[int]) -> list[Incident]:
    """counts[k] incidents in week k before AS_OF (k = 0: the last 7 days), mid-week."""
    return [inc(grid, 7 * k + 3.5) for k, n in enumerate(counts) for _ in range(n)]


# -- the rules, by hand --------------------------------------------------------------------------
def test_window_counts_are_half_open_and_skip_what_is_not_an_incident():
    items = [inc("A", 0), inc("A", 0.0001), inc("A", 7), inc("A", 6.9999), inc("A", 14), inc("A", 21),
             inc("A", 21.0001), inc("A", 1, status="rejected"), inc("A", 1, status="merged"),
             inc("A", 1, merged_into="9"), inc(None, 1), inc("B", 2, status="reported")]
    counts = mdata.window_counts(items, AS_OF, dt.timedelta(days=7), 3)
    # window 0 = [as_of-7d, as_of): 0.0001, 6.9999 and exactly 7 days before (as_of itself is out);
    # window 1 = [as_of-14d, as_of-7d): exactly 14; window 2: exactly 21; 21.0001 is before the span
    assert counts == {"A": [3, 1, 1], "B": [1, 0, 0]}
    with pytest.raises(ValueError):
        mdata.window_counts(items, AS_OF.replace(tzinfo=None), dt.timedelta(days=7), 3)


def test_early_warning_is_mean_plus_three_population_sd():
    # baseline weeks (newest first) 1,0,2,1,0,1,1,2: mean 1.0; deviations 0,-1,1,0,-1,0,0,1 -> squares sum 4,
    # variance 4/8 = 0.5, sd = 0.70711; threshold = 1 + 3 * 0.70711 = 3.12132.
    base = [1, 0, 2, 1, 0, 1, 1, 2]
    items = weekly("G4", [4, *base]) + weekly("G3", [3, *base])
    # a quiet grid (all zeros: sd 0, threshold 0) warns only from min_count = 3 on
    items += weekly("Q2", [2] + [0] * 8) + weekly("Q3", [3] + [0] * 8)
    warns = mdata.early_warnings(items, AS_OF)
    assert [w.grid_code for w in warns] == ["Q3", "G4"]  # by count - threshold: 3.0, then 0.879
    q3, g4 = warns
    assert (q3.count, q3.mean, q3.sd, q3.threshold) == (3, 0.0, 0.0, 0.0)
    assert g4.count == 4 and g4.mean == 1.0 and g4.history == tuple(base)
    assert g4.sd == pytest.approx(0.5 ** 0.5) and g4.threshold == pytest.approx(3.1213203)
    assert mdata.early_warnings(items, AS_OF, min_count=5) == []
    # sigmas 2: G4's threshold 2.414 (excess 1.586), G3 now warns too (3 > 2.414, excess 0.586)
    assert [w.grid_code for w in mdata.early_warnings(items, AS_OF, sigmas=2.0)] == ["Q3", "G4", "G3"]


def test_hotspots_compare_the_last_30_days_with_the_mean_of_the_90_before():
    def monthly(grid: str, counts: list[int]) -> list[Incident]:
        return [inc(grid, 30 * k + 15) for k, n in enumerate(counts) for _ in range(n)]

    items = (monthly("A", [14, 5, 8, 8])     # baseline 7, excess 7, ratio 2
             + monthly("B", [9, 3, 8, 1])    # baseline 4, excess 5, ratio 2.25
             + monthly("C", [3, 0, 0, 0])    # baseline 0: new, excess 3
             + monthly("D", [10, 7, 7, 7])   # ratio 1.43 < 1.5: no
             + monthly("E", [2, 0, 0, 0])    # fewer than 3: no
             + monthly("F", [3, 1, 0, 0]))   # baseline 1/3, excess 2.67, ratio 9
    spots = mdata.hotspots(items, AS_OF)
    assert [h.grid_code for h in spots] == ["A", "B", "C", "F"]
    a, b, c, f = spots
    assert (a.count, a.baseline, a.excess, a.ratio, a.history) == (14, 7.0, 7.0, 2.0, (5, 8, 8))
    assert (b.baseline, b.ratio) == (4.0, 2.25)
    assert c.ratio is None and c.excess == 3.0
    assert f.ratio == pytest.approx(9.0) and f.excess == pytest.approx(8 / 3)
    assert [h.grid_code for h in mdata.hotspots(items, AS_OF, top=2)] == ["A", "B"]
    assert "D" in [h.grid_code for h in mdata.hotspots(items, AS_OF, min_ratio=1.4)]


# -- the page and its JSON twin on the demo store -------------------------------------------------
def with_dashboard(app):
    """The app with the dashboard blueprint (until create_app registers it)."""
    from gridmap.web import dashboard

    if "dashboard" not in app.blueprints:
        app.register_blueprint(dashboard.bp)
    return app


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from gridmap.web.auth import create_token, create_user

    app = with_dashboard(browser.demo_app(tmp_path_factory.mktemp("dash")))
    store = app.extensions["gridmap"].store
    create_user(store, "leader", "password123", "dispatcher")
    yield app, {"Authorization": f"Bearer {create_token(store, 'leader')}"}
    store.close()


def test_dashboard_needs_a_signed_in_user(demo):
    app, headers = demo
    c = app.test_client()
    r = c.get("/dashboard?as_of=2026-11-01")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/dashboard?as_of%3D2026-11-01"
    assert c.get("/dashboard").headers["Location"] == "/login?next=/dashboard"
    r = c.get("/dashboard.json")
    assert r.status_code == 401 and r.get_json()["status"] == 401
    assert c.get("/dashboard.json", headers=headers).status_code == 200


def test_dashboard_json_on_the_demo_as_of_2026_11_01(demo):
    app, headers = demo
    data = app.test_client().get("/dashboard.json?as_of=2026-11-01", headers=headers).get_json()
    assert data["as_of"] == "2026-11-01T00:00:00+08:00"
    assert data["period"] == {"from": "2025-11-01T00:00:00+08:00", "to": "2026-11-01T00:00:00+08:00"}
    zones = data["zones"]
    assert len(zones) == 34 and all(z["rank"] is not None for z in zones)
    assert [z["rank"] for z in zones] == sorted(z["rank"] for z in zones) and zones[0]["rank"] == 1
    assert data["flagged"] == ["371403106001"]  # 滋镇第一管区, as geodata/README.md says
    flagged = next(z for z in zones if z["flag_lowest_satisfaction"])
    assert flagged["name"] == "滋镇第一管区" and flagged["satisfaction"] == min(
        z["satisfaction"] for z in zones if z["satisfaction"] is not None)
    d = data["district"]
    assert d["count"] == 3000 and round(d["closure_rate"], 2) == 0.92 and round(d["on_time_rate"], 2) == 0.84
    spots = data["hotspots"]["grids"]
    assert 0 < len(spots) <= 10 and spots[0]["grid_code"] == "371403101002003" and spots[0]["count"] == 14
    assert all(h["count"] >= 3 for h in spots) and [h["excess"] for h in spots] == sorted(
        (h["excess"] for h in spots), reverse=True)
    assert [w["grid_code"] for w in data["warnings"]["grids"]] == ["371403104001002"]
    w = data["warnings"]["grids"][0]
    assert w["count"] == 3 and w["history"] == [0, 1, 0, 1, 0, 0, 0, 0] and w["threshold"] == 1.55


def test_dashboard_period_and_bad_input(demo):
    app, headers = demo
    c = app.test_client()
    data = c.get("/dashboard.json?as_of=2026-11-01&from=2026-05-01&to=2026-08-01", headers=headers).get_json()
    assert data["period"]["from"].startswith("2026-05-01") and data["district"]["count"] < 1500
    assert c.get("/dashboard.json?as_of=yesterday", headers=headers).status_code == 422
    assert c.get("/dashboard.json?from=2026-08-01&to=2026-05-01", headers=headers).status_code == 422


def test_dashboard_page_shows_ranking_hotspots_warnings_and_nothing_external(demo):
    app, headers = demo
    r = app.test_client().get("/dashboard?as_of=2026-11-01", headers=headers)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert "滋镇第一管区" in html and "db-flag" in html and "满意度最低" in html
    assert "郑家寨镇第二管区第3网格" in html and "徽王庄镇第一管区第2网格" in html
    assert "热点 Hotspots" in html and "gm-hotspot" in html and "gm-warning" in html
    assert URL.findall(html) == []
    gz = app.test_client().get("/dashboard?as_of=2026-11-01", headers=headers | {"Accept-Encoding": "gzip"})
    assert gz.headers.get("Content-Encoding") == "gzip" and len(gz.data) < len(r.data) / 3


# -- in a real browser ---------------------------------------------------------------------------
@pytest.mark.slow
def test_dashboard_in_chromium(demo, tmp_path):
    browser.require_browser()
    from .live_server import live_server

    app, _ = demo
    with live_server(app) as base, browser.chromium() as b:
        page = b.new_page(viewport={"width": 1366, "height": 900})
        log = browser.watch(page)
        page.goto(base + "/dashboard?as_of=2026-11-01", wait_until="load")
        assert "/login" in page.url  # the public is sent to sign in first
        page.fill("input[name=username]", "leader")
        page.fill("input[name=password]", "password123")
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard?as_of=2026-11-01")
        page.wait_for_function("() => document.querySelectorAll('path.gm-grid').length >= 100", timeout=15000)
        page.wait_for_selector("path.gm-hotspot")
        page.wait_for_selector("path.gm-warning")
        assert page.locator("table.db-zones tbody tr").count() == 34
        assert "滋镇第一管区" in page.inner_text("tr.db-flag")
        assert page.locator("table.db-hotspots tbody tr").count() >= 5
        assert "徽王庄镇第一管区第2网格" in page.inner_text(".db-warn")
        page.wait_for_timeout(500)
        shot = browser.screenshot(page, tmp_path, "dashboard.png")
        SHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, SHOTS / "dashboard.png")
        page.locator(".gm-frame").screenshot(path=str(SHOTS / "dashboard-map.png"))
        assert log.problems() == []


def test_dashboard_of_a_large_store_loads_grids_by_bbox(demo, monkeypatch):

    import dataclasses

    app, headers = demo
    svc = app.extensions["gridmap"]
    monkeypatch.setattr(svc, "settings", dataclasses.replace(svc.settings, map_embed_max_grids=50))
    html = app.test_client().get("/dashboard?as_of=2026-11-01", headers=headers).get_data(as_text=True)
    page = re.sub(r'<script type="application/json" id="i18n">.*?</script>', "", html)  # the scripts' words
    assert "/map/grids.geojson" in html and 'type="application/json"' not in page
    assert "gm-hotspot" in html and "郑家寨镇第二管区第3网格" in html  # the marked grids are still drawn
