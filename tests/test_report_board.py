"""The residents' report page (/report) and the dispatcher's board (/board, /board.json).

Flask test-client tests over the three-grid sample store, then end to end in headless Debian
Chromium over the demo store with no internet: report from a phone, then file and dispatch
the report from the board. Screenshots go to the test's tmp dir and /tmp/gridmap-board-check/.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from pathlib import Path

import pytest
from shapely.ops import polylabel

from gridmap.incidents.actors import STAFF_ACTIONS, Actor
from gridmap.registry.model import Level
from gridmap.web.auth import create_token, create_user

from . import browser, pages
from .conftest import GRIDS, sample_app
from .pages import embedded

XSS = "<img src=x onerror=alert(1)> </script><script>alert(2)</script> ${alert(3)}"
URL = re.compile(r"https?://[^\s\"'<>)]+")
IN = {GRIDS[0]: (116.05, 39.05), GRIDS[1]: (116.15, 39.05), GRIDS[2]: (116.25, 39.05)}


def with_pages(app):
    """The app with the report and board blueprints (until create_app registers them)."""
    from gridmap.web import board, report_page

    browser.with_maps(app)
    for bp in (report_page.bp, board.bp):
        if bp.name not in app.blueprints:
            app.register_blueprint(bp)
    return app


def login(client, username: str, password: str = "password123", next_: str = "/board"):
    return pages.login(client, username, password, next_)


# -- fixtures ------------------------------------------------------------------------------------
@pytest.fixture
def app(tmp_path: Path, sample_dir: Path):
    """The sample store (three grids, staff) with one hostile report in each grid."""
    app = with_pages(sample_app(tmp_path, sample_dir))
    c = app.test_client()
    for code, (lon, lat) in IN.items():
        r = c.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": lon, "lat": lat,
                                              "description": f"{code} {XSS}", "reporter_phone": "13999999999"})
        assert r.status_code == 201, r.get_json()
    store = app.extensions["gridmap"].store
    create_user(store, "disp", "password123", "dispatcher")
    create_user(store, "plan", "password123", "planner")
    create_user(store, "p5", "password123", "staff", person_id="P5")  # worker of GRIDS[1]
    yield app
    store.close()


@pytest.fixture
def client(app):
    return app.test_client()


def ids_by_grid(app) -> dict[str, str]:
    return {i.grid_code: i.id for i in app.extensions["gridmap"].incidents.repo.query()}


# -- /report ---------------------------------------------------------------------------------------
def test_report_page_is_self_contained(client):
    r = client.get("/report")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert URL.findall(html) == []  # nothing from the internet (all links are relative to the app)
    assert '<script src="/static/vendor/leaflet/leaflet.js">' in html
    assert 'href="/static/vendor/leaflet/leaflet.css"' in html and '<script src="/static/js/report.js">' in html
    assert re.search(r'<meta name="csrf-token" content="[^"]+">', html)
    assert '<optgroup label="市容环境">' in html and ">暴露垃圾</option>" in html  # grouped, Chinese names
    data = embedded(html, "report-data")
    assert data["grid"] is None and data["urls"]["units"] == "/api/v1/units?level=grid"
    assert data["urls"]["report"] == "/api/v1/incidents" and data["urls"]["status"] == "/status/"
    for path in ("/static/js/report.js", "/static/js/board.js"):
        got = client.get(path)
        assert got.status_code == 200 and URL.findall(got.get_data(as_text=True)) == []
        got.close()


def test_report_page_opens_on_the_printed_grid(client):
    html = client.get(f"/report?grid={GRIDS[1]}").get_data(as_text=True)
    data = embedded(html, "report-data")
    assert data["grid"]["code"] == GRIDS[1] and data["grid"]["name"] == "第2网格"
    assert data["grid"]["bounds"] == [[39.0, 116.1], [39.1, 116.2]]  # Leaflet order: [[S, W], [N, E]]
    shown = {f["properties"]["code"]: f["properties"]["focus"] for f in data["features"]["features"]}
    assert shown == {GRIDS[1]: True, GRIDS[0]: False, GRIDS[2]: False}  # the grid and its neighbours
    assert "第2网格" in html and URL.findall(html) == []


def test_report_page_with_an_unknown_or_hostile_grid_code(client):
    r = client.get("/report", query_string={"grid": "<script>alert(1)</script>"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and 'id="missing-grid"' in html
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert embedded(html, "report-data")["grid"] is None
    zone = client.get(f"/report?grid={GRIDS[0][:-3]}").get_data(as_text=True)  # a zone is not a grid
    assert 'id="missing-grid"' in zone


def test_report_body_as_the_page_sends_it(client, app):
    """report.js posts this JSON; the answer carries what the page shows."""
    r = client.post("/api/v1/incidents", json={"category": "garbage_overflow", "description": XSS, "source": "web",
                                               "lon": 116.05, "lat": 39.05}, headers={"X-CSRFToken": ""})
    assert r.status_code == 201
    out = r.get_json()
    # the public view withholds the text until a dispatcher files it (incidents/privacy.py); the page shows
    # the acknowledgement instead
    assert out["grid_code"] == GRIDS[0] and out["reporter_token"] and out["description"] == ""
    assert out["acknowledgement"]["text"].startswith(f"已收到您的报事 #{out['id']}")
    assert out["status_url"].endswith(f"/status/{out['id']}")
    bad = client.post("/api/v1/incidents", json={"category": "garbage_overflow", "lon": 116.05, "lat": 39.05,
                                                 "reporter_phone": "<img src=x>"})
    assert bad.status_code == 422 and "\n  - reporter_phone: " in bad.get_json()["detail"]  # one line per field


def test_a_signed_in_reporter_needs_the_pages_csrf_token(client):
    login(client, "disp", next_="/report")
    token = pages.csrf(client.get("/report").get_data(as_text=True))  # the page's <meta name="csrf-token">
    body = {"category": "garbage_overflow", "lon": 116.05, "lat": 39.05, "source": "web"}
    assert client.post("/api/v1/incidents", json=body).status_code == 403
    assert client.post("/api/v1/incidents", json=body, headers={"X-CSRFToken": token}).status_code == 201


# -- /board ----------------------------------------------------------------------------------------
def test_board_sends_the_public_to_login(client):
    r = client.get("/board")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/board"
    r = client.get("/board?queue=new")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/board")
    r = client.get("/board.json")
    assert r.status_code == 401 and r.is_json and r.get_json()["status"] == 401


def test_dispatcher_sees_the_queue(client, app):
    assert login(client, "disp").headers["Location"] == "/board"
    r = client.get("/board")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert URL.findall(html) == [] and '<script src="/static/js/board.js">' in html
    for code, iid in ids_by_grid(app).items():
        assert f'id="inc-{iid}"' in html and code in html
    assert "<img src=x" not in html and "alert(2)</script>" not in html  # escaped by Jinja...
    assert "&lt;img src=x onerror=alert(1)&gt; &lt;/script&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in html
    assert html.count("<script") == html.count("</script>")  # ...and nothing broke out of the JSON
    assert 'data-action="file"' in html and "13999999999" in html  # dispatchers see the reporter
    data = embedded(html, "board-data")
    assert data == json.loads(json.dumps(client.get("/board.json").get_json())) | {"as_of": data["as_of"]}


def test_board_json(client, app):
    login(client, "disp")
    data = client.get("/board.json").get_json()
    zipped = client.get("/board.json", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert json.loads(gzip.decompress(zipped.data))["counts"] == data["counts"]
    assert data["actor"] == {"name": "disp", "role": "dispatcher", "can_act": True, "units": None}
    assert data["counts"] == {"new": 3, "active": 0, "handled": 0, "overdue": 0, "escalated": 0, "all": 3}
    assert data["queue"] == "all" and data["total"] == data["shown"] == 3
    row = data["incidents"][0]
    assert row["queue"] == "new" and row["flags"] == ["new"] and row["status"] == "reported"
    assert row["buttons"] == ["file", "reject", "merge", "escalate"] and row["version"] == 1
    assert row["description"].endswith(XSS) and row["grid_name"] and row["status_url"] == f"/status/{row['id']}"
    specs = data["action_specs"]
    assert [f["name"] for f in specs["transfer"]["fields"]] == ["grid_code", "note"]
    assert [f["name"] for f in specs["escalate"]["fields"]] == ["level", "department"]
    assert specs["file"] == {"label": "立案", "fields": []} and "rate" not in specs
    assert client.get("/board.json?queue=overdue").get_json()["incidents"] == []
    assert client.get("/board.json?queue=nope").status_code == 422
    # the same data with an API token, no session
    token = create_token(app.extensions["gridmap"].store, "disp")
    assert app.test_client().get("/board.json", headers={"Authorization": f"Bearer {token}"}).get_json()["total"] == 3


def test_board_actions_move_rows_between_queues(client, app):
    login(client, "disp")
    csrf = pages.csrf(client.get("/board").get_data(as_text=True))
    ids = ids_by_grid(app)
    iid = ids[GRIDS[0]]

    def act(action, version, **body):
        return client.post(f"/api/v1/incidents/{iid}/actions", json={"action": action, "version": version, **body},
                           headers={"X-CSRFToken": csrf})

    assert client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "file", "version": 1}).status_code == 403
    assert act("file", 1).status_code == 200
    stale = act("dispatch", 1)
    assert stale.status_code == 409 and "version" in stale.get_json()["detail"]
    assert act("dispatch", 2).status_code == 200
    row = client.get(f"/board.json?id={iid}").get_json()["incidents"][0]
    assert row["status"] == "dispatched" and row["queues"] == ["active", "all"] and "start" in row["buttons"]
    assert client.get("/board.json").get_json()["counts"]["new"] == 2
    assert act("escalate", 3, level="zone").status_code == 200
    data = client.get("/board.json?queue=escalated").get_json()
    assert [r["id"] for r in data["incidents"]] == [iid] and "escalated" in data["incidents"][0]["flags"]
    # past its time limit it is overdue (and shown first among the non-new)
    svc = app.extensions["gridmap"].incidents
    svc.clock = lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=30)
    data = client.get("/board.json").get_json()
    assert data["counts"] == {"new": 2, "active": 1, "handled": 0, "overdue": 1, "escalated": 1, "all": 3}
    late = next(r for r in data["incidents"] if r["id"] == iid)
    assert late["queues"] == ["active", "overdue", "escalated", "all"] and late["flags"] == ["overdue", "escalated"]
    assert [r["id"] for r in client.get("/board.json?queue=overdue").get_json()["incidents"]] == [iid]
    assert 'class="gm-due gm-late"' in client.get("/board").get_data(as_text=True)


def test_staff_see_only_their_grids(client, app):
    login(client, "p5")
    data = client.get("/board.json").get_json()
    assert data["actor"]["units"] == [GRIDS[1]] and data["actor"]["can_act"]
    assert [r["grid_code"] for r in data["incidents"]] == [GRIDS[1]]
    assert all(set(r["buttons"]) <= STAFF_ACTIONS for r in data["incidents"])
    assert data["incidents"][0]["buttons"] == ["escalate"]
    html = client.get("/board").get_data(as_text=True)
    ids = ids_by_grid(app)
    assert f'id="inc-{ids[GRIDS[1]]}"' in html and f'id="inc-{ids[GRIDS[0]]}"' not in html
    assert f"{GRIDS[0]} &lt;img" not in html
    assert client.get(f"/board.json?id={ids[GRIDS[0]]}").status_code == 403


def test_planner_reads_only(client):
    login(client, "plan")
    data = client.get("/board.json").get_json()
    assert data["actor"]["can_act"] is False and data["total"] == 3
    assert all(r["buttons"] == [] for r in data["incidents"])
    html = client.get("/board").get_data(as_text=True)
    assert "Read-only" in html and "data-action=" not in html


# -- in a real browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    browser.require_browser()
    from .live_server import live_server

    app = with_pages(browser.demo_app(tmp_path_factory.mktemp("board")))
    create_user(app.extensions["gridmap"].store, "dispatcher1", "password123", "dispatcher")
    with live_server(app) as base:
        yield base, app
    app.extensions["gridmap"].store.close()


@pytest.mark.slow
def test_report_then_dispatch_in_chromium(demo, tmp_path):
    base, app = demo
    grid = app.extensions["gridmap"].units(Level.grid)[7]
    p = polylabel(grid.geometry, 1e-6)  # the point farthest from the edges: a tap a few pixels off still lands inside
    svc = app.extensions["gridmap"].incidents
    with browser.chromium() as b:
        # -- a resident on a phone, from the QR code of the printed map
        phone = b.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True, locale="zh-CN")
        page = phone.new_page()
        log = browser.watch(page)
        page.goto(f"{base}/report?grid={grid.code}", wait_until="load")
        page.wait_for_selector("path.leaflet-interactive")
        assert grid.code in page.inner_text("#focus-grid")
        page.click("#use-location")  # no permission granted: a clear message, and the map still works
        page.wait_for_function("() => document.getElementById('geo-msg').textContent.length > 0")
        assert "点选" in page.inner_text("#geo-msg")
        page.click("#submit")  # no location yet: the page says so, nothing is sent
        assert "Tap the map" in page.inner_text('[data-error-for="location"]')

        page.touchscreen.tap(*browser.map_point(page, "window.gridmap.reportMap", p.x, p.y))
        page.wait_for_function(f"() => document.getElementById('loc-status').textContent.includes('{grid.code}')")
        page.select_option("#category", "exposed_rubbish")
        assert page.inner_text("#category-hint")  # the category's description
        page.fill("#description", XSS)
        page.fill("#reporter_phone", "<img src=x onerror=alert(1)>")
        page.click("#submit")
        err = page.wait_for_selector('[data-error-for="reporter_phone"]:not(:empty)')
        assert "<img src=x onerror=alert(1)>" in err.inner_text() and "is not a phone number" in err.inner_text()
        page.fill("#reporter_phone", "13912345678")
        browser.screenshot(page, tmp_path, "report-form.png")
        page.click("#submit")
        page.wait_for_selector("#report-done:not([hidden])")
        assert grid.code in page.inner_text("#done-grid") and grid.name in page.inner_text("#done-grid")
        iid = page.inner_text("#done-id").lstrip("#")
        assert page.get_attribute("#done-status", "href").startswith(f"/status/{iid}#token=")
        assert len(page.inner_text("#done-token")) > 10
        page.wait_for_timeout(400)
        browser.screenshot(page, tmp_path, "report-done.png")
        assert log.problems_except("422") == [] and log.dialogs == []
        assert len([f for f in log.failed if "HTTP 422" in f]) == 1
        inc = svc.repo.get(iid)
        assert (inc.grid_code, inc.description, inc.source, inc.status) == (grid.code, XSS, "web", "reported")

        # the phone's own location, when allowed
        located = b.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                geolocation={"latitude": p.y, "longitude": p.x}, permissions=["geolocation"])
        page2 = located.new_page()
        page2.goto(f"{base}/report", wait_until="load")
        page2.wait_for_selector("path.leaflet-interactive")
        page2.click("#use-location")
        page2.wait_for_function(f"() => document.getElementById('loc-status').textContent.includes('{grid.code}')")
        assert page2.locator(".leaflet-marker-icon").count() == 1
        located.close()
        phone.close()

        # -- a dispatcher at a desk
        desk = b.new_context(viewport={"width": 1440, "height": 900})
        page = desk.new_page()
        log = browser.watch(page)
        page.goto(f"{base}/board", wait_until="load")
        assert "/login?next=/board" in page.url
        page.fill('input[name="username"]', "dispatcher1")
        page.fill('input[name="password"]', "password123")
        page.click('button[type="submit"]')
        page.wait_for_url(f"{base}/board")
        page.wait_for_selector(".leaflet-interactive")
        page.wait_for_timeout(300)
        browser.screenshot(page, tmp_path, "board.png", full_page=False)
        row = page.locator(f'tr.gm-row[data-id="{iid}"]')
        assert row.count() == 1
        assert grid.code in row.locator(".c-grid").inner_text()
        assert row.locator(".c-desc .gm-desc").inner_text() == XSS  # shown as text, nothing ran
        assert row.locator("img").count() == 0
        row.locator(".c-category").click()  # select the row: the map shows its marker
        page.wait_for_selector(".leaflet-popup-content")
        assert f"#{iid}" in page.inner_text(".leaflet-popup-content")
        row.locator('button[data-action="file"]').click()
        page.wait_for_function(f"() => document.querySelector('tr[data-id=\"{iid}\"] .c-status').textContent.includes('已立案')")
        row.locator('button[data-action="dispatch"]').click()  # the form offers the grid's people, the router's pick first
        page.wait_for_function(f"() => !document.querySelector('tr[data-id=\"{iid}\"] select[name=assignee]').disabled")
        row.locator("form.gm-actform button[type=submit]").click()
        page.wait_for_function(f"() => document.querySelector('tr[data-id=\"{iid}\"] .c-status').textContent.includes('已派遣')")
        assert row.locator(".c-flags .moved").count() == 0  # still in "all", the tab shown (nothing leaves sight)
        assert svc.repo.get(iid).status == "dispatched"

        # someone else changes it meanwhile: the page's version is stale, the server says so (409)
        svc.act(iid, "escalate", Actor("other", "dispatcher"), data={"level": "zone"})
        row.locator('button[data-action="start"]').click()
        page.wait_for_function(f"() => document.querySelector('tr[data-id=\"{iid}\"] .gm-msg.bad')")
        assert "reload" in row.locator(".gm-msg").inner_text()
        assert "已升级" in row.locator(".c-flags").inner_text()  # the row was reloaded
        row.locator('button[data-action="transfer"]').click()  # an action that needs input
        row.locator('input[name="grid_code"]').fill("nope")
        row.locator('input[name="note"]').fill("测试")
        row.locator("form.gm-actform button[type=submit]").click()
        page.wait_for_function(f"() => document.querySelector('tr[data-id=\"{iid}\"] .gm-msg').textContent.includes('grid_code')")
        row.locator('button[data-action="start"]').click()
        page.wait_for_function(f"() => document.querySelector('tr[data-id=\"{iid}\"] .c-status').textContent.includes('处置中')")
        assert row.locator("form.gm-actform").count() == 0  # the transfer form closed on success
        page.wait_for_timeout(400)
        browser.screenshot(page, tmp_path, "board-actions.png", full_page=False)
        assert log.problems_except("409", "422") == [] and log.dialogs == [] and log.outside == []
        desk.close()
