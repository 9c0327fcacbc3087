"""The planner page in Chromium (demo store, no internet): an edit redraws only the grids it changed,
locks (one grid, lock all / unlock all), the numbered outside-target list, a zone focus with the rest
drawn light, people's names in the publish confirm, and the comparison page of two plans.

Screenshots at 1400x900 and 390x844 go to the test's tmp dir and /tmp/gridmap-map-check/.
"""

from __future__ import annotations

import json

import pytest
import shapely
from shapely.ops import polylabel

from gridmap.registry.model import Level
from gridmap.web.auth import create_user

from . import browser
from .test_planner_page import adjacent_pair, click_grid, frame, grid_count, wait_idle


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    browser.require_browser()
    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("planner-focus"))
    create_user(app.extensions["gridmap"].store, "planner1", "password123", "planner")
    with live_server(app) as base:
        yield base, app
    app.extensions["gridmap"].store.close()


def sign_in(page, base: str, path: str) -> None:
    page.goto(f"{base}{path}", wait_until="load")
    page.fill('input[name="username"]', "planner1")
    page.fill('input[name="password"]', "password123")
    page.click('button[type="submit"]')
    page.wait_for_url(f"{base}{path}")


def select(page, *units) -> None:
    frame(page, [u.code for u in units])
    page.click("#clear-selection")
    for u in units:
        q = polylabel(u.geometry, 1e-6)
        click_grid(page, q.x, q.y)
    page.wait_for_function("want => JSON.stringify(window.gridmap.planner.selected) === JSON.stringify(want)",
                           arg=[u.code for u in units])


def done(page, text: str) -> None:
    page.wait_for_function("t => document.getElementById('edit-msg').textContent.startsWith(t)", arg=text)
    wait_idle(page)


def shots(page, tmp_path, name: str) -> None:
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_timeout(300)
    browser.screenshot(page, tmp_path, f"{name}-1400.png", full_page=False)
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    browser.screenshot(page, tmp_path, f"{name}-390.png", full_page=True)
    page.set_viewport_size({"width": 1400, "height": 900})
    page.wait_for_timeout(200)


@pytest.mark.slow
def test_edits_redraw_only_what_changed_locks_focus_and_names(demo, tmp_path):
    base, app = demo
    s = app.extensions["gridmap"]
    ps = s.plans
    n = ps.create(note="focus").version
    grids0 = s.store.units(level=Level.grid, plan=n)
    f, g = adjacent_pair(grids0, grids0[0])
    with browser.chromium() as br:
        desk = br.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page = desk.new_page()
        log = browser.watch(page)
        sign_in(page, base, f"/planner?plan={n}")
        page.wait_for_function("() => Object.keys(window.gridmap.planner.layers).length === 100")
        wait_idle(page)
        # the outside-target list is numbered 1..n
        items = page.evaluate("() => [...document.querySelectorAll('#flagged-list li')].map(li => li.textContent)")
        assert items and [t.split(".")[0] for t in items] == [str(i) for i in range(1, len(items) + 1)]

        # a merge: one request (the edit, answering with the changed grid); no reload of the plan
        asked = []
        page.on("request", lambda r: asked.append((r.method, r.url)))
        select(page, f, g)
        page.click("#tool-merge")
        done(page, "✓ merge")
        assert [(m, u.split(base)[1]) for m, u in asked] == [("POST", f"/api/v1/plans/{n}/edits?features=1")]
        assert grid_count(page) == 99 and page.inner_text("#grid-count") == "99"
        assert page.evaluate(f"window.gridmap.planner.layers[{json.dumps(g.code)}] === undefined")
        merged = s.store.unit(f.code, plan=n)
        assert page.evaluate(f"window.gridmap.planner.revs[{json.dumps(f.code)}]") == ps.repo.unit_revs(n)[f.code]
        ring = page.evaluate(f"window.gridmap.planner.layers[{json.dumps(f.code)}].toGeoJSON(false).geometry")
        assert shapely.geometry.shape(ring).symmetric_difference(merged.geometry).area < 1e-12
        assert page.inner_text("#plan-edits") == "1"

        # undo: the undo, then only the two codes it touched
        asked.clear()
        page.click("#tool-undo")
        page.wait_for_function("() => document.getElementById('edit-msg').textContent.includes('Undone')")
        wait_idle(page)
        urls = [u.split(base)[1] for _, u in asked]
        assert urls[0] == f"/api/v1/plans/{n}/undo" and len(urls) == 2
        assert urls[1].startswith(f"/api/v1/plans/{n}/units?level=grid&codes=")
        assert sorted(urls[1].split("codes=")[1].replace("%2C", ",").split(",")) == sorted([f.code, g.code])
        assert grid_count(page) == 100

        # lock one grid: the merge tool refuses it, the store has the lock
        select(page, f)
        page.click("#tool-lock")
        done(page, "✓ lock")
        assert s.store.unit(f.code, plan=n).properties.get("locked") is True
        select(page, f, g)
        assert page.is_disabled("#tool-merge") and page.is_visible("#lock-hint") and "[锁 locked]" in page.inner_text("#selected")
        frame(page, [f.code, g.code])
        page.wait_for_timeout(200)
        assert any("[锁]" in t for t in page.locator(".gm-label").all_inner_texts())
        shots(page, tmp_path, "planner-locked")
        # lock all, unlock all: every grid shown
        page.click("#clear-selection")
        page.click("#lock-all")
        done(page, "✓ lock")
        assert all(u.properties.get("locked") for u in s.store.units(level=Level.grid, plan=n))
        page.click("#unlock-all")
        done(page, "✓ lock")
        assert not any(u.properties.get("locked") for u in s.store.units(level=Level.grid, plan=n))

        # the publish confirm names people (name and id), not ids alone
        page.click("#show-impact")
        page.wait_for_selector("#impact:not([hidden])", timeout=60000)
        wait_idle(page)
        select(page, f, g)
        page.click("#tool-merge")
        done(page, "✓ merge")
        page.click("#show-impact")
        page.wait_for_selector("#impact:not([hidden])", timeout=60000)
        wait_idle(page)
        page.click("#publish")
        page.wait_for_selector("#confirm-box:not([hidden])")
        confirm = page.inner_text("#confirm-list")
        people = {p.person_id: p.name for p in s.store.people()}
        team = ps.impact(n)["new_and_changed_teams"][f.code]
        assert team["leader"], team
        assert f"网格长 {people[team['leader'][0]]} ({team['leader'][0]})" in confirm
        page.click("#confirm-back")

        # focus one zone: only its grids are loaded, the other zones are drawn light; a click on one focuses it
        zones = s.store.units(level=Level.zone, plan=n)
        zone, other = zones[0], zones[-1]
        page.goto(f"{base}/planner?plan={n}&focus={zone.code}", wait_until="load")
        page.wait_for_function("z => window.gridmap.planner.focus() === z && !window.gridmap.planner.busy()"
                               " && window.gridmap.planner.context() > 0", arg=zone.code)
        below = {u.code for u in s.store.units(level=Level.grid, plan=n) if u.parent_code == zone.code}
        assert set(page.evaluate("Object.keys(window.gridmap.planner.layers)")) == below
        assert page.evaluate("window.gridmap.planner.context()") == len(zones)
        assert page.inner_text("#grid-count") == "99" and page.is_visible("#focus-box")
        shots(page, tmp_path, "planner-focus")
        page.evaluate("b => window.gridmap.plannerMap.fitBounds(b, {animate: false})",
                      [[other.geometry.bounds[1], other.geometry.bounds[0]], [other.geometry.bounds[3], other.geometry.bounds[2]]])
        q = polylabel(other.geometry, 1e-6)
        click_grid(page, q.x, q.y)
        page.wait_for_function("z => window.gridmap.planner.focus() === z && !window.gridmap.planner.busy()", arg=other.code)
        assert set(page.evaluate("Object.keys(window.gridmap.planner.layers)")) == {
            u.code for u in s.store.units(level=Level.grid, plan=n) if u.parent_code == other.code}
        assert f"focus={other.code}" in page.url
        assert log.problems_except("409") == [] and log.dialogs == [] and log.outside == []
        desk.close()


@pytest.mark.slow
def test_compare_page_shows_the_diff_and_each_balance(demo, tmp_path):
    base, app = demo
    s = app.extensions["gridmap"]
    ps = s.plans
    n = ps.create(note="compare").version
    grids0 = s.store.units(level=Level.grid, plan=n)
    f, g = adjacent_pair(grids0, grids0[0])
    ps.edit(n, "merge", {"codes": [f.code, g.code]})
    ps.edit(n, "split", {"code": grids0[0].code, "parts": 2})
    data = ps.diff(1, n)
    with browser.chromium() as br:
        desk = br.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page = desk.new_page()
        log = browser.watch(page)
        sign_in(page, base, f"/planner/compare?a=1&b={n}")
        total = len(grids0) + len(s.store.units(level=Level.grid, plan=n))
        page.wait_for_function("t => window.gridmap.compare.loaded() === t", arg=total)
        assert page.inner_text("#n-added") == str(len(data["added"])) == "1"
        assert page.inner_text("#n-removed") == "1" and int(page.inner_text("#n-reshaped")) == len(data["reshaped"])
        colour = "c => window.gridmap.compare.layers[c[0]][c[1]].options.fillColor"
        assert page.evaluate(colour, ["a", g.code]) == "#d7301f"  # removed, on A's side
        assert page.evaluate(colour, ["b", f.code]) == "#f08c00"  # reshaped, on B's
        assert page.evaluate(colour, ["b", data["added"][0]["code"]]) == "#2e9d3a"
        assert page.locator("#table-a tr[data-change='removed']").count() == 1
        assert page.locator("#table-b tr[data-change='added']").count() == 1
        first = page.locator("#table-b tbody tr").first.get_attribute("data-change")
        assert first != "unchanged"  # changed grids head the table
        # the two maps show the same place
        page.evaluate("() => window.gridmap.compare.maps.a.setZoom(window.gridmap.compare.maps.a.getZoom() + 1, {animate: false})")
        assert page.evaluate("() => window.gridmap.compare.maps.a.getZoom() === window.gridmap.compare.maps.b.getZoom()")
        page.locator("#table-b tr[data-change='added']").click()
        shots(page, tmp_path, "plan-compare")
        twin = page.evaluate(f"() => fetch('/planner/compare.json?a=1&b={n}').then(r => r.json())")
        assert twin["diff"]["summary"] == data["summary"] and twin["b"]["balance"]["counts"]
        assert log.problems() == [] and log.outside == []
        desk.close()
