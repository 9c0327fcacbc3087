"""The overview map's filters: date range, category, status, zone (page, JSON twin, bad input)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from gridmap.errors import InputError
from gridmap.incidents.actors import SYSTEM
from gridmap.incidents.model import OPEN_STATUSES, STATUS_LABELS
from gridmap.maps.filters import MapFilter

from . import browser
from .conftest import GRIDS, ZONE, sample_app

CATS = ["exposed_rubbish", "illegal_parking"]


def test_parse_defaults_and_every_field():
    f = MapFilter.parse(MultiDict(), CATS, [ZONE])
    assert f == MapFilter() and f.statuses == OPEN_STATUSES and not f.active and f.open_only
    f = MapFilter.parse(MultiDict([("from", "2026-01-01"), ("to", "2026-01-31"), ("category", "illegal_parking"),
                                   ("status", "closed"), ("status", "rejected"), ("zone", ZONE)]), CATS, [ZONE])
    assert (f.start, f.end, f.categories, f.statuses, f.zone) == (
        dt.date(2026, 1, 1), dt.date(2026, 1, 31), ("illegal_parking",), ("closed", "rejected"), ZONE)
    assert f.active and not f.open_only
    assert MapFilter.parse(MultiDict([("status", "all")]), CATS, []).statuses == tuple(STATUS_LABELS)
    # the query: the `to` day counts whole, in the jurisdiction's time zone
    tz = dt.timezone(dt.timedelta(hours=8))
    q = f.query(tz)
    assert q["start"] == dt.datetime(2026, 1, 1, tzinfo=tz) and q["end"] == dt.datetime(2026, 2, 1, tzinfo=tz)
    assert q["category"] == "illegal_parking" and q["zone_code"] == ZONE and q["status"] == ["closed", "rejected"]
    # round trip through the query string
    assert MapFilter.parse(MultiDict(_flat(f.as_args())), CATS, [ZONE]) == f


@pytest.mark.parametrize("args, names", [
    ([("from", "2026-13-01")], "'from': must be a date YYYY-MM-DD, got '2026-13-01'"),
    ([("to", "yesterday")], "'to': must be a date YYYY-MM-DD, got 'yesterday'"),
    ([("from", "2026-02-01"), ("to", "2026-01-01")], "is after to="),
    ([("category", "no_such")], "category='no_such'"),
    ([("status", "lost")], "status='lost'"),
    ([("zone", "999")], "zone='999'"),
])
def test_bad_filters_name_the_parameter(args, names):
    with pytest.raises(InputError, match=names.replace("(", r"\(").replace(")", r"\)")):
        MapFilter.parse(MultiDict(args), CATS, [ZONE])


def _flat(args: dict) -> list[tuple[str, str]]:
    return [(k, x) for k, v in args.items() for x in (v if isinstance(v, list) else [v])]


@pytest.fixture
def client(tmp_path: Path, sample_dir: Path):
    """Four incidents: two categories, one closed, one reported a year ago."""
    app = browser.with_maps(sample_app(tmp_path, sample_dir))
    svc = app.extensions["gridmap"].incidents
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    ids = {}
    for key, cat, lon, at in [("rubbish", "exposed_rubbish", 116.05, now - dt.timedelta(hours=2)),
                              ("parking", "illegal_parking", 116.15, now - dt.timedelta(hours=1)),
                              ("old", "illegal_parking", 116.05, now - dt.timedelta(days=400)),
                              ("closed", "exposed_rubbish", 116.25, now - dt.timedelta(hours=3))]:
        ids[key] = svc.report({"category": cat, "lon": lon, "lat": 39.05, "description": key,
                               "reported_at": at.isoformat()}, SYSTEM).incident.id
    svc.act(ids["closed"], "reject", SYSTEM, note="not an incident")
    app.config["names"] = {iid: key for key, iid in ids.items()}  # a rejected report's text is not public
    yield app.test_client(), ids, now
    app.extensions["gridmap"].store.close()


def _ids(client, query: str) -> set[str]:
    r = client.get("/map.json" + query)
    assert r.status_code == 200, r.get_json()
    return {client.application.config["names"][i["id"]] for i in r.get_json()["incidents"]}


def test_json_twin_filters(client):
    c, ids, now = client
    assert _ids(c, "") == {"rubbish", "parking", "old"}  # open, every date
    assert _ids(c, "?category=illegal_parking") == {"parking", "old"}
    assert _ids(c, "?category=illegal_parking&category=exposed_rubbish&status=all") == {"rubbish", "parking", "old", "closed"}
    assert _ids(c, "?status=rejected") == {"closed"}
    day = now.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    assert _ids(c, f"?from={day - dt.timedelta(days=30)}") == {"rubbish", "parking"}
    assert _ids(c, f"?to={day - dt.timedelta(days=30)}") == {"old"}
    assert _ids(c, f"?zone={ZONE}&status=all") == {"rubbish", "parking", "old", "closed"}
    data = c.get("/map.json?status=all").get_json()
    assert data["filters"]["status"] == list(STATUS_LABELS) and data["counts"]["incidents"] == 4
    assert set(data["status_colours"]) == set(STATUS_LABELS)  # the legend covers the final statuses too
    # the choropleth counts what the filter shows
    by_grid = {g["code"]: g["open_incidents"] for g in data["grids"]}
    assert by_grid[GRIDS[0]] == 2 and sum(by_grid.values()) == 4


def test_page_shows_the_filter_and_refuses_bad_values(client):
    c, ids, now = client
    html = c.get("/map?category=illegal_parking&status=all").get_data(as_text=True)
    assert 'name="from"' in html and 'value="illegal_parking" selected' in html and 'value="all" selected' in html
    assert '<strong id="gm-incident-count">2</strong>' in html
    assert "/map.json?category=illegal_parking&amp;status=all" in html
    assert "已结案 closed" in html  # the legend lists the final statuses asked for
    for bad in ("?from=2026-02-30", "?status=lost", "?zone=nope"):
        r = c.get("/map.json" + bad)
        assert r.status_code == 422 and bad.split("=")[0][1:] in r.get_json()["detail"]
        page = c.get("/map" + bad)
        assert page.status_code == 422 and "text/html" in page.content_type


def test_grids_by_bbox_count_what_the_filter_selects(client):
    c, ids, now = client

    def counts(query: str) -> dict[str, int]:
        r = c.get("/map/grids.geojson?bbox=115,38,117,40&zoom=12" + query)
        assert r.status_code == 200, r.get_data(as_text=True)
        return {f["id"]: f["properties"]["o"] for f in r.get_json()["features"]}

    assert sum(counts("").values()) == 3
    assert sum(counts("&category=illegal_parking").values()) == 2
    assert sum(counts("&status=all").values()) == 4
    assert c.get("/map/grids.geojson?bbox=115,38,117,40&status=lost").status_code == 422
