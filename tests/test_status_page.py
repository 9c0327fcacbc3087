"""The resident's journey after reporting: /status/<id> (map, grid name, local times, steps in
words, rate and reopen with the token) and /my-reports, on both backends, then in Chromium:
far-away refusal -> search -> photo -> submit -> status (thumbnail once filed) -> rate."""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from shapely.ops import polylabel

from gridmap.app import create_app
from gridmap.incidents.actors import Actor
from gridmap.registry.model import Level
from gridmap.settings import Settings

from . import browser
from .pages import embedded
from .test_jurisdiction import outside_point

TZ = ZoneInfo("Asia/Shanghai")
DISPATCHER = Actor("disp", "dispatcher")
LOOP = ["file", "dispatch", "start", "handle", "verify", "close"]
SHOTS = Path("/work/meas/shots/resident")


class Clock:
    def __init__(self):
        self.now = dt.datetime(2026, 3, 2, 9, 0, tzinfo=TZ)

    def __call__(self):
        return self.now


@pytest.fixture
def app(services):
    app = create_app(Settings(db=services.settings.db))
    app.extensions["gridmap"].incidents.clock = Clock()
    yield app
    app.extensions["gridmap"].store.close()


def file_and_close(app, client) -> tuple[str, str]:
    r = client.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05,
                                                "description": "路口垃圾", "reporter_name": "王五",
                                                "reporter_phone": "13900000009"})
    assert r.status_code == 201
    loop = app.extensions["gridmap"].incidents
    for action in LOOP:
        loop.clock.now += dt.timedelta(hours=1)
        loop.act(r.json["id"], action, DISPATCHER)
    return r.json["id"], r.json["reporter_token"]


def visible_text(html: str) -> str:
    body = re.sub(r"<script.*?</script>|<style.*?</style>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", body)


def act(client, iid, **body):
    return client.post(f"/api/v1/incidents/{iid}/actions", json=body)


def test_status_page_shows_grid_name_local_times_and_steps_in_words(app):
    client = app.test_client()
    iid, _ = file_and_close(app, client)
    r = client.get(f"/status/{iid}")
    html = r.get_data(as_text=True)
    assert r.status_code == 200
    text = visible_text(html)
    assert "第2网格" in text  # the grid's name, not only its code
    assert "2026年3月2日（周一）09:00" in text  # readable local time of the report
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", text)  # no ISO stamps in what a person reads
    for words in ("已收到您的报告", "report received", "已派给网格员处理", "已办结", "closed"):
        assert words in text
    assert text.index("已收到您的报告") < text.index("report received")  # Chinese first
    assert "王五" not in html and "13900000009" not in html and "disp" not in text  # nobody's name
    data = embedded(html, "status-data")
    assert data["can_rate"] and data["can_reopen"] and not data["reopen_closed"]
    assert data["grid"]["properties"]["name"] == "第2网格" and data["grid"]["geometry"]["type"] == "Polygon"
    assert data["urls"]["act"] == f"/api/v1/incidents/{iid}/actions"
    assert "leaflet.js" in html and "status.js" in html and "http" not in "".join(re.findall(r'src="([^"]+)"', html))


def test_reporter_rates_with_a_comment_and_the_step_shows_the_stars(app):
    client = app.test_client()
    iid, token = file_and_close(app, client)
    r = act(client, iid, action="rate", rating=4, note="处理及时，谢谢", reporter_token=token)
    assert r.status_code == 200 and r.json["rating"] == 4
    events = app.extensions["gridmap"].incidents.repo.events(iid)
    assert events[-1].action == "rate" and events[-1].note == "处理及时，谢谢"
    text = visible_text(client.get(f"/status/{iid}").get_data(as_text=True))
    assert "报告人已评价：4 星" in text and "4 / 5" in text
    assert "处理及时" not in text  # comments are for the office, not the public page


def test_reopen_within_the_window_and_refused_after_it(app):
    client = app.test_client()
    loop = app.extensions["gridmap"].incidents
    iid, token = file_and_close(app, client)
    loop.clock.now += dt.timedelta(days=29)
    r = act(client, iid, action="reopen", note="还是很脏", reporter_token=token)
    assert r.status_code == 200 and r.json["status"] == "dispatched"
    for action in LOOP[2:]:
        loop.act(iid, action, DISPATCHER)
    loop.clock.now += dt.timedelta(days=30, minutes=1)  # the window is 30 days (reopen_window_days)
    html = client.get(f"/status/{iid}").get_data(as_text=True)
    data = embedded(html, "status-data")
    assert not data["can_reopen"] and data["reopen_closed"] and data["can_rate"]
    r = act(client, iid, action="reopen", note="又脏了", reporter_token=token)
    assert r.status_code == 409 and "已超过重新打开的期限" in r.json["detail"] and "reopen window" in r.json["detail"]
    assert loop.repo.get(iid).status == "closed"
    assert loop.act(iid, "reopen", DISPATCHER, note="督查发现").status == "dispatched"  # the office may


def test_reopen_window_is_a_setting(services):
    app = create_app(Settings(db=services.settings.db, reopen_window_days=1))
    app.extensions["gridmap"].incidents.clock = Clock()
    try:
        client = app.test_client()
        iid, token = file_and_close(app, client)
        app.extensions["gridmap"].incidents.clock.now += dt.timedelta(days=2)
        assert act(client, iid, action="reopen", note="x", reporter_token=token).status_code == 409
    finally:
        app.extensions["gridmap"].store.close()


def test_status_page_of_an_open_report_in_the_town_queue(app):
    client = app.test_client()
    r = client.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": 116.15, "lat": 38.997})
    html = client.get(f"/status/{r.json['id']}").get_data(as_text=True)
    assert "街道受理" in visible_text(html)
    data = embedded(html, "status-data")
    assert data["grid"] is None and not data["can_rate"] and not data["can_reopen"]
    assert client.get("/status/999999").status_code == 404


def test_my_reports_page_is_self_contained(app):
    html = app.test_client().get("/my-reports").get_data(as_text=True)
    assert "我的报事 My reports" in html and "my-reports.js" in html and "my-reports-store.js" in html
    urls = embedded(html, "mine-data")
    assert urls == {"incident": "/api/v1/incidents/", "status": "/status/"}


# -- in Chromium: report, follow the link, rate, reopen, my reports --------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    browser.require_browser()
    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("status"))
    with live_server(app) as base:
        yield base, app
    app.extensions["gridmap"].store.close()


def camera_photo(tmp_path) -> Path:
    """A phone camera's JPEG: 1200 x 900 as the sensor reads it, EXIF orientation 6 (held upright),
    the GPS position of the shot and the camera's make."""
    from PIL import ImageDraw

    img = Image.new("RGB", (1200, 900), (120, 160, 200))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 600, 1200, 900), fill=(90, 90, 90))  # the road
    draw.rectangle((700, 380, 900, 640), fill=(40, 120, 60))  # an overflowing bin
    draw.ellipse((650, 300, 980, 420), fill=(150, 110, 60))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 26.0, 10.5), 3: "E", 4: (116.0, 18.0, 2.25)})
    path = tmp_path / "IMG_2026.jpg"
    img.save(path, "JPEG", exif=exif, quality=90)
    with Image.open(path) as sent:
        assert sent.getexif().get_ifd(0x8825)  # the GPS position really is in the file sent
    return path


def shot(page, tmp_path, name):
    path = browser.screenshot(page, tmp_path, name)
    if SHOTS.parent.is_dir():
        SHOTS.mkdir(exist_ok=True)
        shutil.copy(path, SHOTS / name)


@pytest.mark.slow
@pytest.mark.parametrize("device", ["phone", "desktop"])
def test_resident_journey_in_chromium(demo, tmp_path, device):
    base, app = demo
    loop = app.extensions["gridmap"].incidents
    grid = app.extensions["gridmap"].units(Level.grid)[12]
    p = polylabel(grid.geometry, 1e-6)
    size = {"phone": {"width": 390, "height": 844}, "desktop": {"width": 1400, "height": 900}}[device]
    extra = {"is_mobile": True, "has_touch": True} if device == "phone" else {}
    with browser.chromium() as b:
        ctx = b.new_context(viewport=size, locale="zh-CN", **extra)
        page = ctx.new_page()
        log = browser.watch(page)
        before = len(loop.repo.query(limit=100000))
        page.goto(f"{base}/report", wait_until="load")
        page.wait_for_selector("path.leaflet-interactive")
        page.select_option("#category", "exposed_rubbish")
        page.fill("#description", "垃圾桶满溢")
        # far away: a tap outside the district is refused, and so is sending it; nothing is stored
        x, y = browser.map_point(page, "window.gridmap.reportMap", *outside_point(app.extensions["gridmap"]))
        page.touchscreen.tap(x, y) if device == "phone" else page.mouse.click(x, y)
        page.wait_for_function("() => document.getElementById('loc-status').textContent.includes('辖区')")
        page.click("#submit")
        err = page.wait_for_selector('[data-error-for="location"]:not(:empty)')
        assert "辖区" in err.inner_text() and page.is_hidden("#report-done")
        assert len(loop.repo.query(limit=100000)) == before
        # search: the grid by its code, then the point inside it
        page.fill("#place-q", grid.code)
        page.click("#place-go")
        page.click(f'#place-results button:has-text("{grid.code}")')
        page.wait_for_function(f"() => document.getElementById('loc-status').textContent.includes('{grid.code}')")
        x, y = browser.map_point(page, "window.gridmap.reportMap", p.x, p.y)
        page.touchscreen.tap(x, y) if device == "phone" else page.mouse.click(x, y)
        page.wait_for_function(f"() => document.getElementById('loc-status').textContent.includes('{grid.code}')")
        # a photo over photo_max_bytes is refused by the page before anything is sent
        big = tmp_path / "huge.jpg"
        big.write_bytes(b"\xff\xd8\xff" + bytes(11 * 1024 * 1024))
        page.set_input_files("#photo", str(big))
        assert "照片过大" in page.inner_text('[data-error-for="photo"]') and "10 MB" in page.inner_text('[data-error-for="photo"]')
        # the photo: a camera JPEG carrying its GPS position, previewed before sending
        page.set_input_files("#photo", str(camera_photo(tmp_path)))
        assert page.inner_text('[data-error-for="photo"]') == ""
        page.wait_for_function("() => { const i = document.getElementById('photo-preview-img');"
                               " return i.complete && i.naturalWidth > 0; }")
        assert page.is_visible("#photo-preview") and "IMG_2026.jpg · " in page.inner_text("#photo-name")
        assert page.inner_text("#form-errors") == ""  # the far-away refusal went with the far-away place
        page.locator("#photo").scroll_into_view_if_needed()
        shot(page, tmp_path, f"report-{device}.png")
        page.click("#submit")
        page.wait_for_selector("#report-done:not([hidden])")
        assert page.is_hidden("#photo-preview")  # cleared with the form
        assert page.is_visible("#done-kept")
        iid = page.inner_text("#done-id").lstrip("#")
        token = page.inner_text("#done-token")
        shot(page, tmp_path, f"report-done-{device}.png")
        kept = json.loads(page.evaluate("localStorage.getItem('gridmap.myReports')"))
        assert kept[0]["id"] == iid and kept[0]["token"] == token

        # the link after submitting carries the token; the status page keeps it and drops it from the address
        page.click("#done-status")
        page.wait_for_selector("#status-map path.leaflet-interactive")
        assert "#token" not in page.url and page.url.endswith(f"/status/{iid}")
        assert grid.name in page.inner_text("#grid-name")
        assert "已收到您的报告" in page.inner_text("#steps")
        assert page.is_visible("#token-known") and page.is_visible("#not-yet") and page.is_hidden("#rate-form")
        assert page.is_visible("#photo-withheld") and page.locator("#photo-thumb").count() == 0  # public once filed
        stored = loop.repo.get(iid).extra["photo"]
        assert (stored["width"], stored["height"]) == (900, 1200)  # the camera's orientation applied
        shot(page, tmp_path, f"status-open-{device}.png")

        for action in LOOP:  # the office works the case
            loop.act(iid, action, DISPATCHER)
        # a fresh tab from "my reports": the browser still has the token
        page.goto(f"{base}/my-reports", wait_until="load")
        row = page.wait_for_selector(f'li[data-id="{iid}"] .gm-badge:has-text("已结案")')
        assert row is not None and "垃圾" in page.inner_text(f'li[data-id="{iid}"]')
        shot(page, tmp_path, f"my-reports-{device}.png")
        page.click(f'li[data-id="{iid}"] a')
        page.wait_for_selector("#rate-form:not([hidden])")
        assert page.is_visible("#reopen-form")
        # filed and closed: the thumbnail is on the status page, and its full size has no GPS
        page.wait_for_function("() => { const i = document.getElementById('photo-thumb');"
                               " return i && i.complete && i.naturalWidth > 0; }")
        assert page.evaluate("() => document.getElementById('photo-thumb').naturalHeight") == 320
        full = page.request.get(page.get_attribute("#photo-link", "href"))
        assert full.ok and full.headers["content-type"] == "image/jpeg"
        shown = Image.open(io.BytesIO(full.body()))
        assert shown.size == (900, 1200) and len(shown.getexif()) == 0 and b"GPS" not in full.body()
        shot(page, tmp_path, f"status-closed-{device}.png")
        page.check('input[name="rating"][value="2"]')
        page.fill("#rate-note", "慢了一点")
        with page.expect_navigation():
            page.click("#rate-submit")
        page.wait_for_selector("#rating")  # the page reloads with the rating
        assert loop.repo.get(iid).rating == 2
        assert "报告人已评价：2 星" in page.inner_text("#steps")
        page.fill("#reopen-note", "垃圾又堆起来了")
        with page.expect_navigation():
            page.click("#reopen-submit")
        assert "已派遣" in page.inner_text("#status-label")
        assert loop.repo.get(iid).status == "dispatched" and loop.repo.get(iid).reopen_count == 1
        assert "报告人重新打开" in page.inner_text("#steps")
        shot(page, tmp_path, f"status-reopened-{device}.png")
        assert log.problems_except("422") == [], log.problems()

        # another browser without the token sees the status but cannot act, until it is typed in
        other = b.new_context(viewport=size, **extra).new_page()
        other.goto(f"{base}/status/{iid}", wait_until="load")
        assert other.is_visible("#token-ask") and other.is_hidden("#rate-form")
        other.fill("#token-input", "wrong-token")
        other.click("#token-save")
        assert other.is_visible("#token-known")
