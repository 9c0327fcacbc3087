"""The main pages in each language (issue #12, "Chinese first"): with Accept-Language: en a page's text
is English (Chinese only in the data: unit, place, people and category names, a resident's words); with
zh-CN its title and heading start in Chinese and the English is kept beside it. Flask test client over
the sample store, signed in as the roles that open each page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gridmap.incidents.intake import SOURCES  # stored values ("随手拍", "热线"), shown as they are
from gridmap.web.auth import create_user

from . import pages
from .conftest import GRIDS, sample_app

CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]+")
DESCRIPTION = "垃圾堆在路口"
# (path, user to sign in as or None): pages whose whole interface is in the catalogs
ENGLISH_CLEAN = [("/login", None), ("/report", None), ("/my-reports", None), ("/board", "disp"),
                 ("/planner/compare?b=1", "plan"), ("/no-such-page", None), ("/planner", "disp"),
                 ("/account/totp", "disp")]
# pages that still show some Chinese-only labels on an English page (the dashboard's, the planner's and the grid
# page's figures, status names on the map, the status page's dates): their titles and headings are checked
PAGES = ENGLISH_CLEAN + [("/", None), ("/map", None), (f"/grids/{GRIDS[0]}", None), ("/status/{id}", None),
                         ("/dashboard", "disp"), ("/planner", "plan")]


@pytest.fixture
def app(tmp_path: Path, sample_dir: Path):
    app = sample_app(tmp_path, sample_dir)
    c = app.test_client()
    r = c.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": 116.05, "lat": 39.05,
                                          "description": DESCRIPTION})
    assert r.status_code == 201, r.get_json()
    app.config["incident_id"] = r.get_json()["id"]
    store = app.extensions["gridmap"].store
    for user, role in (("disp", "dispatcher"), ("plan", "planner")):
        create_user(store, user, "password123", role)
    yield app
    store.close()


def _data_words(app) -> set[str]:
    """Chinese that is data, not the interface: names of units, people, categories and statuses' own words."""
    s = app.extensions["gridmap"]
    words = {u.name for u in s.store.units()} | {p.name for p in s.store.people()} | {DESCRIPTION}
    words |= {c.name for c in s.incidents.taxonomy} | {c.group for c in s.incidents.taxonomy} | set(SOURCES)
    return {w for w in words if w}


def _get(app, path: str, user: str | None, lang: str):
    c = app.test_client()
    h = {"Accept-Language": lang}
    if user:
        pages.login(c, user)
    return c.get(path.format(id=app.config["incident_id"]), headers=h)


def _visible(html: str) -> str:
    """The page's readable text: no scripts, styles or tags."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


@pytest.mark.parametrize("path, user", ENGLISH_CLEAN)
def test_a_page_in_english_has_no_chinese_but_its_data(app, path, user):
    r = _get(app, path, user, "en-US,en;q=0.9")
    html = r.get_data(as_text=True)
    assert '<html lang="en">' in html
    data = " ".join(_data_words(app))
    leftovers = sorted({w for w in CJK.findall(_visible(html)) if w not in data})
    assert leftovers == [], f"{path}: Chinese on an English page"


@pytest.mark.parametrize("path, user", PAGES)
def test_a_page_in_chinese_puts_chinese_first_in_its_title_and_heading(app, path, user):
    html = _get(app, path, user, "zh-CN,zh;q=0.9").get_data(as_text=True)
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1).strip()
    h1 = _visible(re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S).group(1)).strip()
    for text in (title, h1):
        first = re.search(r"[A-Za-z\u4e00-\u9fff]", text.replace("gridmap", ""))
        assert first and CJK.match(first.group(0)), f"{path}: {text!r} does not start in Chinese"


@pytest.mark.slow
def test_board_report_and_403_in_chromium_in_both_languages(tmp_path, sample_dir):
    """A person's view: the report page, the board and the planner's 403 in a Chinese and an English browser,
    at desk and phone sizes (screenshots kept in /tmp/gridmap-map-check); the scripts speak the page's language."""
    from . import browser
    from .live_server import live_server

    browser.require_browser()
    app = sample_app(tmp_path, sample_dir)
    store = app.extensions["gridmap"].store
    create_user(store, "disp", "password123", "dispatcher")
    c = app.test_client()
    assert c.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": 116.05, "lat": 39.05,
                                             "description": DESCRIPTION}).status_code == 201
    try:
        with live_server(app) as base, browser.chromium() as chrome:
            for locale in ("zh-CN", "en-US"):
                for w, h in ((1400, 900), (390, 844)):
                    ctx = chrome.new_context(locale=locale, viewport={"width": w, "height": h})
                    page = ctx.new_page()
                    log = browser.watch(page)
                    page.goto(f"{base}/report", wait_until="load")
                    page.click("#submit")  # no place chosen: report.js says so, in the page's language
                    said = page.inner_text('[data-error-for="location"]')
                    browser.screenshot(page, tmp_path, f"i18n_report_{locale}_{w}.png", full_page=False)
                    h1 = page.inner_text("h1")
                    if locale == "en-US":
                        assert h1 == "Report a problem" and said == "Tap the map (or use your location) first."
                    else:
                        assert h1 == "我要报事 Report a problem" and said.startswith("请先在地图上点选位置")
                    page.goto(f"{base}/login?next=/board")
                    page.fill("input[name=username]", "disp")
                    page.fill("input[name=password]", "password123")
                    page.click("button[type=submit]")
                    page.wait_for_url(f"{base}/board")
                    page.wait_for_selector(".leaflet-interactive", state="attached")
                    page.wait_for_timeout(500)
                    browser.screenshot(page, tmp_path, f"i18n_board_{locale}_{w}.png", full_page=False)
                    text = page.inner_text("main")
                    if locale == "en-US":
                        assert page.inner_text("h1") == "Dispatch board" and "reported" in text
                        assert not CJK.search(page.inner_text("nav.gm-nav"))
                    else:
                        assert page.inner_text("h1") == "调度台 Dispatch board" and "已上报" in text
                    page.goto(f"{base}/planner", wait_until="load")
                    browser.screenshot(page, tmp_path, f"i18n_403_{locale}_{w}.png", full_page=False)
                    heading = page.inner_text("h1")
                    assert heading == ("This page needs planner rights" if locale == "en-US" else "需要规划员权限")
                    assert log.problems_except("403") == []
                    ctx.close()
    finally:
        store.close()
