"""The overview map beyond its marker threshold (maps/aggregates.py, store/mapagg.py): counts per
map cell and per grid made by the database on SQLite and PostGIS, /map and /map.json bounded in
size whatever the history holds, and what Chromium draws."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from gridmap.incidents.model import Event
from gridmap.settings import Settings
from gridmap.store.mapagg import MapAggregates

from . import browser
from .conftest import GRIDS, ZONE, sample_store
from .test_metrics import SH, inc

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def _history(n: int, seed: int = 1) -> list:
    rnd = random.Random(seed)
    out = []
    for k in range(n):
        st = rnd.choice(["filed", "dispatched", "closed"])
        at = NOW - dt.timedelta(hours=rnd.randrange(1, 2000))
        out.append(replace(inc(f"m{k}", "A", "w1", rnd.choice(["exposed_rubbish", "illegal_parking"]),
                               at.astimezone(SH), st), id="", extra={}, grid_code=GRIDS[k % 3], zone_code=ZONE,
                           lon=round(116.02 + 0.26 * rnd.random(), 6), lat=round(39.01 + 0.08 * rnd.random(), 6)))
    return out


def _add(store, incs) -> None:
    store.incidents.add_many([(i, Event("", i.reported_at, "test", "import", None, i.status), None) for i in incs])


def test_counts_per_grid_and_cell_equal_python(empty_services) -> None:
    incs = _history(400)
    _add(empty_services.store, incs)
    agg = MapAggregates(empty_services.store)
    open_ = [i for i in incs if i.status != "closed"]
    q = {"status": ["filed", "dispatched"]}
    assert agg.count(**q) == len(open_)
    assert agg.per_grid(**q) == Counter(i.grid_code for i in open_)
    cells = agg.cells(0.05, **q)
    want = Counter((int(i.lon // 0.05), int(i.lat // 0.05)) for i in open_)
    assert sorted(c[2] for c in cells) == sorted(want.values()) and sum(c[2] for c in cells) == len(open_)
    assert agg.count(status=["closed"], category=["illegal_parking"]) == sum(
        1 for i in incs if i.status == "closed" and i.category == "illegal_parking")


def _app(tmp_path: Path, sample_dir: Path, n: int, threshold: int = 50):
    from gridmap.app import create_app
    from gridmap.services import Services

    settings = Settings(db=str(tmp_path / f"m{n}.db"), map_max_markers=threshold)
    s = Services.open(sample_store(settings, sample_dir), create=True)
    _add(s.store, _history(n))
    s.store.close()
    return browser.with_maps(create_app(settings))


def test_map_json_aggregates_beyond_the_threshold_and_stays_small(tmp_path: Path, sample_dir: Path) -> None:
    sizes = {}
    for n in (30, 400, 2000):
        app = _app(tmp_path, sample_dir, n)
        c = app.test_client()
        data = c.get("/map.json").get_json()
        n_open = data["counts"]["incidents"]
        if n == 30:  # under the threshold: one row per incident, as before
            assert "incident_cells" not in data and len(data["incidents"]) == n_open
        else:
            cells = data["incident_cells"]
            assert data["incidents"] == [] and cells["aggregated"] and cells["total"] == n_open
            assert sum(x["count"] for x in cells["cells"]) == n_open
            assert sum(g["open_incidents"] for g in data["grids"]) == n_open  # choropleth from SQL counts
            sizes[n] = len(c.get("/map.json").get_data())
            html = c.get("/map").get_data(as_text=True)
            assert "gridmap.aggregateLayer(" in html and "gridmap.incidentLayer(" not in html
            assert f'<strong id="gm-incident-count">{n_open}</strong>' in html
        app.extensions["gridmap"].store.close()
    # five times the incidents, about the same bytes: bounded by the cells, not the history
    assert sizes[2000] < sizes[400] * 1.5


@pytest.mark.slow
def test_chromium_draws_cell_bubbles(tmp_path: Path, sample_dir: Path) -> None:
    browser.require_browser()
    from .live_server import live_server

    app = _app(tmp_path, sample_dir, 1500)
    app_total = app.test_client().get("/map.json").get_json()["counts"]["incidents"]
    with live_server(app) as base, browser.chromium() as b:
        for w, h in ((1400, 900), (390, 844)):
            page = b.new_page(viewport={"width": w, "height": h})
            log = browser.watch(page)
            # the cells load in chunks and the bubbles re-merge while they do; bubbles being faded out by
            # markercluster's animation (opacity 0) are not drawn any more. On a loaded machine the map
            # can re-cluster once more after a first settled look: wait until it stays settled
            shown = ("[...document.querySelectorAll('.leaflet-marker-icon.marker-cluster')]"
                     ".filter(e => Number(getComputedStyle(e).opacity) > 0.5).map(e => e.querySelector('span').textContent)")
            anim = "() => !!document.querySelector('.leaflet-cluster-anim')"
            page.goto(base + "/map")
            page.wait_for_function("() => document.querySelectorAll('.leaflet-marker-icon.marker-cluster').length > 0")
            texts: list = []
            for _ in range(60):  # bounded: 30 s; settled = no animation and the same bubbles half a second apart
                before = page.evaluate(f"() => {shown}")
                page.wait_for_timeout(500)
                texts = page.evaluate(f"() => {shown}")
                if texts == before and not page.evaluate(anim) and sum(int(t) for t in texts) == app_total:
                    break
            assert texts and all(t.isdigit() for t in texts)
            # merged bubbles show sums: together they count every incident drawn
            assert sum(int(t) for t in texts) == app_total
            assert "按约 1 公里方格" in page.content()
            browser.screenshot(page, tmp_path, f"map-aggregated-{w}x{h}.png", full_page=False)
            assert not log.problems(), log.problems()
            page.close()
    app.extensions["gridmap"].store.close()


def test_grid_page_shows_one_page_of_open_incidents(tmp_path: Path, sample_dir: Path, monkeypatch) -> None:
    from gridmap.web import maps_pages

    monkeypatch.setattr(maps_pages, "GRID_PAGE_INCIDENTS", 5)
    app = _app(tmp_path, sample_dir, 90)
    c = app.test_client()
    one = c.get(f"/grids/{GRIDS[0]}.json").get_json()
    total = one["open_page"]["total"]
    assert total == one["grid"]["open_incidents"] > 10 and len(one["incidents"]) == 5
    two = c.get(f"/grids/{GRIDS[0]}.json?page=2").get_json()
    ids = [i["id"] for i in one["incidents"] + two["incidents"]]
    assert len(set(ids)) == 10 and two["open_page"]["first"] == 6
    html = c.get(f"/grids/{GRIDS[0]}").get_data(as_text=True)
    assert f"共 {total} 件" in html and "?page=2" in html
    r = c.get(f"/grids/{GRIDS[0]}.json?page=abc")
    assert r.status_code == 422 and "page" in r.get_json()["detail"]
    app.extensions["gridmap"].store.close()
