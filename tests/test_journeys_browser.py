"""Issue #12's journeys end to end in headless Debian Chromium over the demo store, no internet:
a leader reads the board, the dashboard and its wall view (大屏) without acting and without reporters' data; a grid
worker signs in on a phone (390x844) and the top bar fits, with who is signed in and a
sign-out; a role opening a page it may not gets a page saying so; the public following a patrol
PDF link gets a sign-in page. Screenshots at 1400x900 and 390x844: the test's tmp dir,
/tmp/gridmap-map-check/ and /work/meas/shots/journeys/ when that folder exists.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from gridmap.web.auth import create_user

from . import browser

SHOTS = Path("/work/meas/shots/journeys")
pytestmark = pytest.mark.slow
DESK = {"width": 1400, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    browser.require_browser()
    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("journeys"))
    store = app.extensions["gridmap"].store
    create_user(store, "leader1", "password123", "leader")
    worker = next(r for r in store.roles() if r.role == "worker")
    create_user(store, "worker1", "password123", "staff", person_id=worker.person_id)
    with live_server(app) as base:
        yield base, app
    store.close()


def shot(page, tmp_path: Path, name: str, full_page: bool = False) -> None:
    path = browser.screenshot(page, tmp_path, name, full_page=full_page)
    if SHOTS.is_dir():
        shutil.copy(path, SHOTS / name)


def sign_in(page, base: str, user: str, next_: str) -> None:
    page.goto(f"{base}{next_}", wait_until="load")
    page.fill('input[name="username"]', user)
    page.fill('input[name="password"]', "password123")
    page.click('button[type="submit"]')
    page.wait_for_url(f"**{next_.split('?')[0]}*")


def bar_problems(page) -> list[str]:
    """The top bar reaches past the window, scrolls sideways, or a link of it is cut off."""
    return page.evaluate("""() => {
        const w = window.innerWidth, out = [], bar = document.querySelector('header');
        if (document.documentElement.scrollWidth > w + 1) out.push('page ' + document.documentElement.scrollWidth);
        if (bar.scrollWidth > bar.clientWidth + 1) out.push('bar scrolls ' + bar.scrollWidth + ' > ' + bar.clientWidth);
        for (const a of bar.querySelectorAll('a, button')) {
          const r = a.getBoundingClientRect();
          if (r.left < 0 || r.right > w + 1) out.push(a.textContent.trim() + ' ' + r.left + '..' + r.right);
        }
        return out; }""")


def test_a_leader_reads_without_acting(demo, tmp_path):
    base, app = demo
    with browser.chromium() as b:
        for size, tag in ((DESK, "desk"), (PHONE, "phone")):
            ctx = b.new_context(viewport=size, locale="zh-CN")
            page = ctx.new_page()
            log = browser.watch(page)
            sign_in(page, base, "leader1", "/board?queue=all")
            page.wait_for_selector("#queue tr.gm-row")
            assert "只读" in page.inner_text("main")
            assert page.locator("#queue button").count() == 0  # no action buttons at all
            phones = page.evaluate("() => document.querySelectorAll('#queue .gm-who').length")
            assert phones == 0  # no reporter's name or phone on any row
            assert "leader1" in page.inner_text("header") and "退出" in page.inner_text("header")
            assert page.locator('header a[href="/planner"]').count() == 0
            assert bar_problems(page) == []
            shot(page, tmp_path, f"journeys-leader-board-{tag}.png")
            page.goto(f"{base}/dashboard?as_of=2026-11-01", wait_until="load")
            page.wait_for_selector(".db-kpis")
            assert page.locator(".tr-chart rect").count() == 12  # the trend of the last 12 months
            shot(page, tmp_path, f"journeys-leader-dashboard-{tag}.png", full_page=True)
            page.goto(f"{base}/dashboard/wall?as_of=2026-11-01", wait_until="load")
            assert page.locator('meta[http-equiv="refresh"]').get_attribute("content") == "300"
            if tag == "desk":  # one screen: nothing below the fold on a 1400x900 display
                assert page.evaluate("() => document.documentElement.scrollHeight") <= DESK["height"] + 1
            assert page.evaluate("() => document.documentElement.scrollWidth") <= size["width"] + 1
            shot(page, tmp_path, f"journeys-wall-{tag}.png", full_page=True)
            assert log.problems() == []
            ctx.close()


def test_staff_on_a_phone_and_the_permission_page(demo, tmp_path):
    base, _ = demo
    with browser.chromium() as b:
        ctx = b.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
        page = ctx.new_page()
        log = browser.watch(page)
        page.goto(f"{base}/map", wait_until="load")
        assert bar_problems(page) == []  # the public bar: 登录 on screen
        assert page.locator('header a:has-text("登录")').is_visible()
        shot(page, tmp_path, "journeys-public-map-phone.png")
        sign_in(page, base, "worker1", "/board")
        page.wait_for_selector("#queue")
        assert bar_problems(page) == []
        header = page.inner_text("header")
        assert "worker1" in header and "退出" in header and "规划" not in header
        shot(page, tmp_path, "journeys-staff-board-phone.png")
        page.goto(f"{base}/planner", wait_until="load")
        assert "需要规划员权限" in page.inner_text("main") and "worker1" in page.inner_text("main")
        assert page.locator('input[name="password"]').count() == 0
        shot(page, tmp_path, "journeys-permission-phone.png")
        page.set_viewport_size(DESK)
        shot(page, tmp_path, "journeys-permission-desk.png")
        page.click('header button:has-text("退出")')
        page.wait_for_load_state("load")
        assert page.locator('header a:has-text("登录")').count() == 1
        assert log.problems_except("403") == []
        ctx.close()


def test_the_public_patrol_pdf_link_and_the_skip_link(demo, tmp_path):
    base, app = demo
    code = next(u.code for u in app.extensions["gridmap"].units() if u.level.value == "grid")
    with browser.chromium() as b:
        for size, tag in ((DESK, "desk"), (PHONE, "phone")):
            ctx = b.new_context(viewport=size, locale="zh-CN")
            page = ctx.new_page()
            page.goto(f"{base}/grids/{code}/patrol.pdf", wait_until="load")
            assert "请先登录" in page.inner_text("main")
            shot(page, tmp_path, f"journeys-patrol-public-{tag}.png")
            page.keyboard.press("Tab")  # the first tab stop is the skip link, shown when focused
            assert page.evaluate("() => document.activeElement.getAttribute('href')") == "#main"
            page.keyboard.press("Enter")
            assert page.evaluate("() => document.activeElement.id") == "main"
            href = page.get_attribute('main a:has-text("登录")', "href")
            assert href.startswith("/login?next=") and f"/grids/{code}/patrol.pdf" in href  # comes back here
            ctx.close()


UNLABELLED = """() => Array.from(document.querySelectorAll('input,select,textarea,button'))
    .filter(e => e.type !== 'hidden' && e.offsetParent !== null && !(e.labels && e.labels.length)
            && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') && !e.title
            && !(e.tagName === 'BUTTON' && e.textContent.trim()))
    .map(e => e.outerHTML.slice(0, 120))"""


def test_keyboard_grid_shapes_are_not_tab_stops_and_controls_have_labels(demo, tmp_path):
    base, app = demo
    code = next(u.code for u in app.extensions["gridmap"].units() if u.level.value == "grid")
    with browser.chromium() as b:
        page = b.new_page(viewport=DESK)
        for path in ("/report", "/map", f"/grids/{code}"):
            page.goto(f"{base}{path}", wait_until="load")
            page.wait_for_selector("path.leaflet-interactive")
            focused = []
            for _ in range(30):
                page.keyboard.press("Tab")
                focused.append(page.evaluate("""() => { const e = document.activeElement;
                    return e.tagName + ' ' + (e.getAttribute('class') || ''); }"""))
            assert not [f for f in focused if f.startswith("path ") or "gm-label" in f or "gm-grid-label" in f], \
                (path, focused)
            assert focused[0].startswith("A gm-skip"), path
            assert page.evaluate(UNLABELLED) == [], path
        sign_in(page, base, "leader1", "/board")
        for path in ("/board", "/dashboard?as_of=2026-11-01"):
            page.goto(f"{base}{path}", wait_until="load")
            assert page.evaluate(UNLABELLED) == [], path
