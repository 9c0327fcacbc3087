"""The dashboard's trend (12 months), breakdowns by category and by town, from SQL on both
backends, checked against counts made by hand in Python; and the one-screen wall view (大屏):
who may open it, that it reloads itself, its JSON twin, a bad refresh refused."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from gridmap.incidents import trends
from gridmap.incidents.model import Event, Incident
from gridmap.incidents.taxonomy import Taxonomy
from gridmap.web.auth import create_user

from . import pages
from .conftest import sample_app
from .test_metrics import SH

AS_OF = dt.datetime(2024, 11, 15, 12, tzinfo=SH)
TOWNS = {"T1": "一镇", "T2": "二镇"}


def history(n: int = 400, seed: int = 7) -> list[Incident]:
    """Incidents from 2023-09 to 2024-11-15 over two towns and four categories (one month left empty)."""
    rnd = random.Random(seed)
    cats = [c.code for c in Taxonomy.load()][:4]
    out = []
    start = dt.datetime(2023, 9, 1, tzinfo=SH)
    span = (AS_OF - start).total_seconds()
    while len(out) < n:
        at = start + dt.timedelta(seconds=rnd.random() * span)
        if at.year == 2024 and at.month == 6:
            continue  # June 2024: nothing, and still a row with count 0
        closed = rnd.random() < 0.6
        out.append(Incident(id="", category=rnd.choice(cats), lon=116.0, lat=39.0, reported_at=at,
                            status="closed" if closed else "dispatched", grid_code="G", zone_code="Z",
                            town_code=rnd.choice([*TOWNS, None]), due_at=at + dt.timedelta(days=3),
                            closed_at=at + dt.timedelta(days=rnd.choice([1, 5])) if closed else None))
    return out


def store(services, incidents: list[Incident]) -> None:
    services.store.incidents.add_many([(replace(i, extra={}), Event("", i.reported_at, "test", "import", None,
                                                                     i.status), None) for i in incidents])


def test_trend_and_breakdowns_equal_hand_counts(empty_services):
    incs = history()
    store(empty_services, incs)
    repo = empty_services.store.incidents
    rows = trends.trend(repo, AS_OF, SH)
    want = Counter(f"{i.reported_at.astimezone(SH):%Y-%m}" for i in incs)
    assert [r["month"] for r in rows] == ["2023-12", *[f"2024-{m:02d}" for m in range(1, 12)]]
    assert [r["count"] for r in rows] == [want.get(r["month"], 0) for r in rows]
    june = next(r for r in rows if r["month"] == "2024-06")
    assert june["count"] == 0 and june["closure_rate"] is None
    start, end = dt.datetime(2024, 1, 1, tzinfo=SH), AS_OF
    inside = [i for i in incs if start <= i.reported_at < end]
    b = trends.breakdown(repo, "town", start, end, AS_OF, SH, TOWNS)
    got = {r["code"]: r["count"] for r in b["rows"]}
    assert got == Counter(i.town_code for i in inside) and b["total"] == len(inside)
    assert {r["name"] for r in b["rows"]} == {"一镇", "二镇", "—"}
    assert [r["count"] for r in b["rows"]] == sorted(got.values(), reverse=True)
    c = trends.breakdown(repo, "category", start, end, AS_OF, SH, {}, limit=2)
    by_cat = Counter(i.category for i in inside)
    assert [r["count"] for r in c["rows"]] == sorted(by_cat.values(), reverse=True)[:2]
    assert c["other"] == {"groups": 2, "count": sum(sorted(by_cat.values(), reverse=True)[2:]),
                          "share": pytest.approx(sum(sorted(by_cat.values(), reverse=True)[2:]) / len(inside), abs=1e-4)}


def test_month_start_walks_back_over_a_year():
    t = dt.datetime(2024, 2, 29, 13, tzinfo=SH)
    assert trends.month_start(t, 3) == dt.datetime(2023, 11, 1, tzinfo=SH)
    assert trends.month_start(t, -1) == dt.datetime(2024, 3, 1, tzinfo=SH)
    december = dt.datetime(2026, 12, 2, 7, tzinfo=SH)  # the next month of December is January
    assert trends.month_start(december, -1) == dt.datetime(2027, 1, 1, tzinfo=SH)
    assert trends.month_start(december, 11) == dt.datetime(2026, 1, 1, tzinfo=SH)


# -- pages ----------------------------------------------------------------------------------------
@pytest.fixture
def app(tmp_path: Path, sample_dir: Path):
    app = sample_app(tmp_path, sample_dir)
    s = app.extensions["gridmap"]
    store(s, history(120))
    for user, role in (("lead", "leader"), ("p5", "staff")):
        create_user(s.store, user, "password123", role, person_id="P5" if role == "staff" else None)
    yield app
    s.store.close()


def test_the_dashboard_shows_trend_categories_and_towns(app):
    c = app.test_client()
    pages.login(c, "lead")
    r = c.get("/dashboard?as_of=2024-11-15")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    assert "近12个月" in html and "按类别 By category" in html and "按镇街 By town" in html
    assert html.count('<rect x=') == 12 and 'href="/dashboard/wall?as_of=2024-11-15"' in html
    data = c.get("/dashboard.json?as_of=2024-11-15").get_json()
    assert len(data["trend"]) == 12 and data["trend"][-1]["month"] == "2024-11"
    assert data["categories"]["total"] == data["towns"]["total"] == data["district"]["count"]


def test_the_wall_view_reloads_itself_and_has_a_json_twin(app):
    c = app.test_client()
    assert c.get("/dashboard/wall").headers["Location"].startswith("/login?next=/dashboard/wall")
    assert c.get("/dashboard/wall.json").status_code == 401
    pages.login(c, "p5")
    r = c.get("/dashboard/wall?as_of=2024-11-15&refresh=60")
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and '<meta http-equiv="refresh" content="60">' in html
    assert "大屏" in html and "按镇街" in html and html.count('<rect x=') == 12
    data = c.get("/dashboard/wall.json?as_of=2024-11-15").get_json()
    assert data["district"]["count"] == data["categories"]["total"]
    assert data["trend"][0]["month"] == "2023-12" and data["trend"][-1]["month"] == "2024-11"
    r = c.get("/dashboard/wall?refresh=5")
    assert r.status_code == 422 and "30–3600" in r.get_data(as_text=True)
    assert '<meta http-equiv="refresh" content="300">' in c.get("/dashboard/wall").get_data(as_text=True)


def test_as_of_at_midnight_on_the_first_ends_the_trend_with_the_month_before(empty_services):
    store(empty_services, history(60))
    rows = trends.trend(empty_services.store.incidents, dt.datetime(2024, 11, 1, tzinfo=SH), SH)
    assert rows[0]["month"] == "2023-11" and rows[-1]["month"] == "2024-10"
