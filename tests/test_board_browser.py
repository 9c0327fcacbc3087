"""The dispatcher's board end to end in headless Debian Chromium, over the demo store (3,000
incidents, 100 grids), no internet: find an incident, dispatch it to a person chosen from the
grid's staff, transfer it by choosing a grid from the list (and on the map), close one with a
confirmation; tab counts equal the rows, paging walks a whole tab; on a phone nothing needs
sideways scrolling and the /map layer control starts collapsed.

Screenshots: the test's tmp dir, /tmp/gridmap-map-check/ and /work/meas/shots/dispatcher/ when
that folder exists (for a human to look at).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from shapely.ops import polylabel

from gridmap.registry.model import Level
from gridmap.web.auth import create_user

from . import browser

SHOTS = Path("/work/meas/shots/dispatcher")
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    browser.require_browser()
    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("board-journey"))
    create_user(app.extensions["gridmap"].store, "dispatcher1", "password123", "dispatcher")
    with live_server(app) as base:
        yield base, app
    app.extensions["gridmap"].store.close()


def shot(page, tmp_path: Path, name: str, full_page: bool = False) -> None:
    path = browser.screenshot(page, tmp_path, name, full_page=full_page)
    if SHOTS.is_dir():
        shutil.copy(path, SHOTS / name)


def sign_in(page, base: str, next_: str = "/board") -> None:
    page.goto(f"{base}{next_}", wait_until="load")
    page.fill('input[name="username"]', "dispatcher1")
    page.fill('input[name="password"]', "password123")
    page.click('button[type="submit"]')
    page.wait_for_url(f"**{next_.split('?')[0]}*")


def tab_counts(page) -> dict[str, int]:
    return page.evaluate("""() => Object.fromEntries(Array.from(document.querySelectorAll('#tabs a[data-queue]'))
        .map(a => [a.dataset.queue, Number(a.querySelector('.gm-count').textContent)]))""")


def row_ids(page) -> list[str]:
    return page.evaluate("() => Array.from(document.querySelectorAll('#queue tr.gm-row')).map(t => t.dataset.id)")


def wait_msg(page, iid: str, text: str) -> str:
    page.wait_for_function(f"""() => {{ const m = document.querySelector('tr[data-id="{iid}"] .gm-msg.ok');
        return m && m.textContent.includes({text!r}); }}""")
    return page.inner_text(f'tr[data-id="{iid}"] .c-actions > .gm-msg')


def clipped(page) -> list[str]:
    """Buttons (and the page) that reach past the window or are cut off by a scrolling box."""
    return page.evaluate("""() => {
        const w = window.innerWidth, out = [];
        if (document.documentElement.scrollWidth > w + 1) out.push('page ' + document.documentElement.scrollWidth + ' > ' + w);
        for (const b of document.querySelectorAll('#queue button, #filter-form button, .gm-pager a')) {
          const r = b.getBoundingClientRect();
          if (r.width === 0) continue;
          if (r.left < 0 || r.right > w + 1) { out.push(b.textContent + ' ' + r.left + '..' + r.right); continue; }
          for (let p = b.parentElement; p; p = p.parentElement) {
            const s = getComputedStyle(p), q = p.getBoundingClientRect();
            if (s.overflowX !== 'visible' && (r.right > q.right + 1 || r.left < q.left - 1)) {
              out.push(b.textContent + ' cut by ' + p.tagName + '.' + p.className); break; }
          }
        }
        return out; }""")


def test_find_dispatch_transfer_close_in_chromium(demo, tmp_path):
    base, app = demo
    svc = app.extensions["gridmap"].incidents
    filed = svc.repo.query(status=["filed"])[0]
    verified = svc.repo.query(status=["verified"])[0]
    grids = {u.code: u for u in app.extensions["gridmap"].units(Level.grid)}
    with browser.chromium() as b:
        desk = b.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page = desk.new_page()
        log = browser.watch(page)
        sign_in(page, base, "/board?queue=new")
        page.wait_for_selector("path.leaflet-interactive")
        counts = tab_counts(page)
        assert counts["all"] == svc.repo.count() == 3000
        assert len(row_ids(page)) == counts["new"] == int(page.inner_text("#total")) > 0  # all on one page
        shot(page, tmp_path, "board-desktop-new.png")

        # -- paging: every row of a tab, page after page, each once
        page.goto(f"{base}/board?queue=active", wait_until="load")
        active, seen = tab_counts(page)["active"], []
        assert active > 50
        while True:
            seen += row_ids(page)
            nxt = page.locator('#pager a[rel="next"]')
            if nxt.count() == 0:
                break
            nxt.click()
            page.wait_for_load_state("load")
        assert len(seen) == len(set(seen)) == active
        assert "第 4 / 4 页" in page.inner_text("#pager") or active <= 150

        # -- find it by number, from the "new" tab
        page.goto(f"{base}/board?queue=new", wait_until="load")
        if not page.is_visible('input[name="q"]'):
            page.click("#filters summary")
        page.fill('input[name="q"]', f"#{filed.id}")
        page.click('#filter-form button[type="submit"]')
        page.wait_for_load_state("load")
        assert row_ids(page) == [filed.id] and "q=%23" in page.url
        row = page.locator(f'tr.gm-row[data-id="{filed.id}"]')
        before = tab_counts(page)

        # -- dispatch to a person chosen from the grid's staff (not the router's pick)
        row.locator('button[data-action="dispatch"]').click()
        pick = row.locator('select[name="assignee"]')
        page.wait_for_function(f"""() => {{ const s = document.querySelector('tr[data-id="{filed.id}"] select[name=assignee]');
            return s && !s.disabled && s.options.length > 1; }}""")
        options = pick.evaluate("s => Array.from(s.options).map(o => [o.value, o.textContent, o.selected])")
        assert options[0][2] and "推荐" in options[0][1]  # the router's pick comes first, selected
        assert all("在办" in text for _, text, _ in options)  # each with their open load
        chosen, chosen_text, _ = options[1]
        pick.select_option(chosen)
        shot(page, tmp_path, "board-dispatch-form.png")
        row.locator("form.gm-actform button[type=submit]").click()
        name = chosen_text.split(" · ")[0]
        msg = wait_msg(page, filed.id, "承办人")
        assert name in msg and "已派遣" in msg
        inc = svc.repo.get(filed.id)
        assert (inc.status, inc.assignee) == ("dispatched", chosen)
        assert "已移至" in row.locator(".c-flags").inner_text()  # it left "new": the row says where it went
        href = row.locator(".c-flags .moved a").first.get_attribute("href")
        assert "queue=active" in href and f"q=%23{filed.id}" in href  # that tab, same search
        after = tab_counts(page)
        assert after["new"] == before["new"] - 1 and after["active"] == before["active"] + 1
        assert name in row.locator(".c-assignee").inner_text()

        # -- transfer: a click on a grid of the map fills the form; the list chooses the grid sent
        row.locator('button[data-action="transfer"]').click()
        field = row.locator('input[name="grid_code"]')
        assert field.get_attribute("list") == "grid-list"
        listed = page.evaluate("() => Array.from(document.querySelectorAll('#grid-list option')).map(o => [o.value, o.label])")
        assert len(listed) == len(grids) and all(grids[c].name in label for c, label in listed)
        others = [c for c, _ in listed if c != inc.grid_code]
        on_map, by_list = grids[others[0]], grids[others[1]]
        p = polylabel(on_map.geometry, 1e-6)
        page.evaluate(f"() => window.gridmap.boardMap.setView([{p.y}, {p.x}], 15, {{animate: false}})")
        page.mouse.click(*browser.map_point(page, "window.gridmap.boardMap", p.x, p.y))
        assert field.input_value() == on_map.code
        page.wait_for_function(f"""() => document.querySelector('tr[data-id="{filed.id}"] .gm-grid-who').textContent.includes('将由')""")
        field.fill(by_list.code)
        field.dispatch_event("change")
        row.locator('input[name="note"]').fill("不属本网格 wrong grid")
        row.locator("form.gm-actform button[type=submit]").click()
        msg = wait_msg(page, filed.id, by_list.code)
        inc = svc.repo.get(filed.id)
        assert inc.grid_code == by_list.code and "承办人" in msg
        assert by_list.code in row.locator(".c-grid").inner_text()

        # -- close, with a confirmation first
        page.goto(f"{base}/board?queue=handled&q={verified.id}", wait_until="load")
        row = page.locator(f'tr.gm-row[data-id="{verified.id}"]')
        row.locator('button[data-action="close"]').click()
        assert "确认结案" in row.locator("form.gm-actform .gm-confirm").inner_text()
        assert svc.repo.get(verified.id).status == "verified"  # asked, nothing sent yet
        shot(page, tmp_path, "board-close-confirm.png")
        row.locator("form.gm-actform button[type=button]").click()  # cancel
        assert row.locator("form.gm-actform").count() == 0 and svc.repo.get(verified.id).status == "verified"
        row.locator('button[data-action="close"]').click()
        row.locator("form.gm-actform button[type=submit]").click()
        wait_msg(page, verified.id, "已结案")
        assert svc.repo.get(verified.id).status == "closed"
        assert log.problems() == [] and log.dialogs == [] and log.outside == []

        # -- nothing clipped at any width
        page.goto(f"{base}/board?queue=active", wait_until="load")
        for width in (1400, 1200, 1024, 900, 760, 600, 390, 320):
            page.set_viewport_size({"width": width, "height": 900})
            page.wait_for_timeout(100)
            assert clipped(page) == [], width
        desk.close()


def test_board_and_map_on_a_phone(demo, tmp_path):
    base, app = demo
    with browser.chromium() as b:
        phone = b.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                              has_touch=True, locale="zh-CN")
        page = phone.new_page()
        log = browser.watch(page)
        sign_in(page, base, "/board?queue=active")
        page.wait_for_selector("path.leaflet-interactive")
        page.wait_for_timeout(300)
        shot(page, tmp_path, "board-phone.png")
        shot(page, tmp_path, "board-phone-full.png", full_page=True)
        assert clipped(page) == []
        header = page.evaluate("() => document.querySelector('header').getBoundingClientRect().height")
        # two lines at most (the links, then who is signed in and the sign-out), and nothing off the
        # edge: the bar no longer scrolls sideways with 规划/登录 hidden (issue #12)
        assert header < 80
        assert page.evaluate("""() => Array.from(document.querySelectorAll('header a, header button'))
            .filter(a => { const r = a.getBoundingClientRect(); return r.left < 0 || r.right > innerWidth + 1; })
            .length""") == 0
        assert page.evaluate("() => { const h = document.querySelector('header'); return h.scrollWidth <= h.clientWidth; }")
        first = page.locator("#queue tr.gm-row").first
        first.scroll_into_view_if_needed()
        for button in first.locator("button[data-action]").all():
            box = button.bounding_box()
            assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
        first.locator('button[data-action="extend"]').tap()
        assert first.locator("form.gm-actform").is_visible()
        box = first.locator("form.gm-actform button[type=submit]").bounding_box()
        assert box["x"] + box["width"] <= 390
        shot(page, tmp_path, "board-phone-form.png")

        page.goto(f"{base}/map", wait_until="load")
        page.wait_for_selector(".leaflet-control-layers")
        page.wait_for_timeout(500)
        assert page.locator(".leaflet-control-layers-expanded").count() == 0  # collapsed on a phone
        page.locator(".leaflet-control-layers-toggle").tap()
        assert page.locator(".leaflet-control-layers-expanded").count() == 1
        shot(page, tmp_path, "map-phone.png")
        assert log.problems() == [] and log.outside == []
        phone.close()
        desk = b.new_context(viewport={"width": 1400, "height": 900})
        page = desk.new_page()
        page.goto(f"{base}/map", wait_until="load")
        page.wait_for_selector(".leaflet-control-layers")
        assert page.locator(".leaflet-control-layers-expanded").count() == 1  # open on a desk, as before
        desk.close()
