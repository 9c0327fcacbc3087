"""The planner page (/planner, /planner.json): guarding, the JSON twin, and a planner's session in Chromium.

Flask test-client tests over the three-grid sample store (G1 [116.0,116.1], G2 [116.1,116.2],
G3 [116.2,116.3] x [39.0,39.1], 100 households each), then end to end in headless Debian
Chromium over the demo store with no internet: create a draft, split a grid by drawing a line
with mouse clicks, undo, review the impact and publish; the store is checked through the
services after every step. Screenshots go to the test's tmp dir and /tmp/gridmap-map-check/.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
import shapely
from shapely.ops import polylabel

from gridmap.model import Level
from gridmap.plans import PlanService
from gridmap.web.auth import create_user
from gridmap.web.planner_page import classify, default_households

from . import browser
from .conftest import GRIDS, sample_app

XSS = "<img src=x onerror=alert(1)> </script><script>alert(2)</script>"
URL = re.compile(r"https?://[^\s\"'<>)]+")


def embedded(html: str, element_id: str) -> dict:
    m = re.search(rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S)
    assert m, element_id
    return json.loads(m.group(1))


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m
    return m.group(1)


def login(client, username: str, password: str = "password123", next_: str = "/planner"):
    token = _csrf(client.get("/login").get_data(as_text=True))
    return client.post(f"/login?next={next_}", data={"username": username, "password": password, "csrf_token": token})


def plans_of(app) -> PlanService:
    return PlanService(app.extensions["gridmap"], app.extensions["gridmap.incidents"])


@pytest.fixture
def app(tmp_path: Path, sample_dir: Path):
    app = sample_app(tmp_path, sample_dir)
    store = app.extensions["gridmap"].store
    for name, role in (("plan", "planner"), ("boss", "admin"), ("disp", "dispatcher")):
        create_user(store, name, "password123", role)
    yield app
    store.close()


@pytest.fixture
def client(app):
    return app.test_client()


# -- pure helpers ------------------------------------------------------------------------------------
def test_classify_against_the_households_range():
    rng = (10, 15)
    assert [classify(v, rng) for v in (9, 10, 12, 15, 16, None)] == ["under", "within", "within", "within", "over", "unknown"]
    assert classify(12, None) == "unknown"


def test_default_target_is_the_median_plus_or_minus_a_quarter():
    assert default_households([100, 100, 100]) == (75, 125)
    assert default_households([200, 400, 1000, None]) == (300, 500)
    assert default_households([None]) is None and default_households([]) is None


# -- guarding ---------------------------------------------------------------------------------------
def test_the_public_and_other_roles_are_sent_to_login(client):
    r = client.get("/planner")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/planner"
    r = client.get("/planner?plan=2")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/planner")
    assert client.get("/planner.json").status_code == 401
    login(client, "disp")
    r = client.get("/planner")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = client.get("/planner.json")
    assert r.status_code == 403 and "planner" in r.get_json()["detail"]


@pytest.mark.parametrize("user", ["plan", "boss"])
def test_planners_and_admins_get_the_page(client, user):
    assert login(client, user).headers["Location"] == "/planner"
    r = client.get("/planner")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert URL.findall(html) == []  # nothing from the internet
    for asset in ("vendor/leaflet/leaflet.js", "vendor/leaflet-draw/leaflet.draw.js", "vendor/leaflet-draw/leaflet.draw.css",
                  "js/planner.js"):
        assert f"/static/{asset}" in html
        r = client.get(f"/static/{asset}")
        assert r.status_code == 200 and len(r.data) > 1000
        r.close()
    assert 'id="no-plan"' in html  # no draft yet: the page offers to make one
    assert '<a href="/planner">规划 Planner</a>' in html  # the header link


# -- the JSON twin ----------------------------------------------------------------------------------
def test_json_twin_lists_plans_and_picks_the_newest_draft(client, app):
    login(client, "plan")
    out = client.get("/planner.json").get_json()
    assert [p["status"] for p in out["plans"]] == ["published"] and out["plans"][0]["in_force"]
    assert out["plan"] is None and out["balance"]["grids"] == []
    ps = plans_of(app)
    first = ps.create(note="one").version
    second = ps.create(note=XSS).version
    out = client.get("/planner.json").get_json()
    assert [p["version"] for p in out["plans"]] == [1, first, second]
    assert out["plan"]["version"] == second and out["plan"]["editable"] and not out["plan"]["in_force"]
    assert out["urls"]["edits"] == f"/api/v1/plans/{second}/edits"
    assert out["urls"]["units"] == f"/api/v1/plans/{second}/units"
    out = client.get(f"/planner.json?plan={first}").get_json()
    assert out["plan"]["version"] == first
    out = client.get("/planner.json?plan=1").get_json()
    assert out["plan"]["status"] == "published" and not out["plan"]["editable"] and out["plan"]["in_force"]
    r = client.get("/planner.json?plan=99")
    assert r.status_code == 404 and r.get_json()["status"] == 404
    r = client.get("/planner.json?plan=x")
    assert r.status_code == 422 and "plan" in r.get_json()["detail"]
    html = client.get("/planner").get_data(as_text=True)
    assert XSS not in html and "&lt;img src=x" in html  # the note is escaped in the plan picker
    assert embedded(html, "planner-data")["plan"]["note"] == XSS  # and intact (as JSON) for the script


def test_balance_follows_the_target_and_the_edits(client, app):
    login(client, "plan")
    ps = plans_of(app)
    n = ps.create().version
    out = client.get(f"/planner.json?plan={n}").get_json()
    assert out["targets"] == {"households": [75, 125], "default": True, "rule": "min <= households <= max"}
    assert out["balance"]["counts"] == {"under": 0, "within": 3, "over": 0, "unknown": 0}
    out = client.get(f"/planner.json?plan={n}&households=120-200").get_json()
    assert out["targets"]["households"] == [120, 200] and not out["targets"]["default"]
    assert out["balance"]["counts"]["under"] == 3
    # split G1 in two halves (50 + 50 households) and merge G2 into G3 (200): two under, one over
    ps.edit(n, "split", {"code": GRIDS[0], "line": {"type": "LineString", "coordinates": [[116.05, 38.9], [116.05, 39.2]]}})
    ps.edit(n, "merge", {"codes": [GRIDS[2], GRIDS[1]]})
    out = client.get(f"/planner.json?plan={n}&households=60-150").get_json()
    by_code = {g["code"]: g for g in out["balance"]["grids"]}
    assert len(by_code) == 3 and GRIDS[1] not in by_code
    assert by_code[GRIDS[0]]["households"] == 50 and by_code[GRIDS[0]]["balance"] == "under"
    assert by_code[GRIDS[2]]["households"] == 200 and by_code[GRIDS[2]]["balance"] == "over"
    assert out["balance"]["counts"] == {"under": 2, "within": 0, "over": 1, "unknown": 0}
    assert out["plan"]["rev"] == 2 and out["plan"]["edits"] == 2
    assert client.get(f"/planner.json?plan={n}&households=15-10").status_code == 422


def test_page_embeds_the_same_data_as_its_twin(client, app):
    login(client, "plan")
    n = plans_of(app).create().version
    html = client.get(f"/planner?plan={n}&households=90-110").get_data(as_text=True)
    page = embedded(html, "planner-data")
    twin = client.get(f"/planner.json?plan={n}&households=90-110").get_json()
    assert page == {k: v for k, v in twin.items() if k != "urls"}
    assert embedded(html, "planner-urls") == twin["urls"]
    assert 'id="publish" class="gm-danger" disabled' in html  # publishing waits for the impact report
    assert 'id="force-label" hidden' in html
