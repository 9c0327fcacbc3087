"""Publishing with an unstaffed grid, in Chromium on the demo store (Lingcheng, no internet).

The issue's case: split 371403001003004 in a draft; the new grid 371403001003005 inherits a
leader and an instructor but no worker (004 is given one worker first), and an open incident
moves into it. On the page: the impact lists the gap as blocking, the confirm step names
what will change, publishing is refused (409) with the gaps, the planner staffs the grids in
the impact panel, and the publish goes through with every re-routed incident assigned.
Screenshots (desktop 1400x900) go to the test's tmp dir and /tmp/gridmap-map-check/.
"""

from __future__ import annotations

import pytest

from gridmap.registry.model import Person, Role
from gridmap.web.auth import create_user

from . import browser

CODE, NEW = "371403001003004", "371403001003005"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    browser.require_browser()
    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("staffing"))
    create_user(app.extensions["gridmap"].store, "planner1", "password123", "planner")
    with live_server(app) as base:
        yield base, app
    app.extensions["gridmap"].store.close()


def wait_idle(page) -> None:
    page.wait_for_function("() => !window.gridmap.planner.busy()")


@pytest.mark.slow
def test_publish_with_an_unstaffed_grid_is_refused_then_staffed_then_published(demo, tmp_path):
    base, app = demo
    s = app.extensions["gridmap"]
    loop = app.extensions["gridmap"].incidents
    ps = s.plans
    # 004 with one worker, so the piece split off gets none (as in the issue: 0 workers)
    s.store.add_staff([], [Role("P00064", CODE, "leader"), Role("P00052", CODE, "instructor"),
                           Role("P00066", CODE, "worker")], replace=True)
    s.store.add_staff([Person("P90001", "新网格员", "13900000001")], [])
    n = ps.create(note="split 004").version
    assert ps.edit(n, "split", {"code": CODE, "parts": 2})["created"] == [NEW]
    gaps0 = ps.impact(n)["staffing_gaps"]
    assert NEW in {g["code"] for g in gaps0}
    with browser.chromium() as br:
        desk = br.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
        page = desk.new_page()
        log = browser.watch(page)
        page.goto(f"{base}/planner?plan={n}", wait_until="load")
        page.fill('input[name="username"]', "planner1")
        page.fill('input[name="password"]', "password123")
        page.click('button[type="submit"]')
        page.wait_for_url(f"{base}/planner?plan={n}")
        page.wait_for_function("() => Object.keys(window.gridmap.planner.layers).length === 101")
        labels = page.evaluate("Object.values(window.gridmap.planner.labels)")
        assert len(labels) == 101 and len(set(labels)) == 101  # "001-001" was on the map in many towns
        assert any(x.count("-") == 2 for x in labels) and any(x.count("-") == 1 for x in labels)
        page.click("#show-impact")
        page.wait_for_selector("#impact:not([hidden])", timeout=60000)
        wait_idle(page)
        assert page.inner_text("#impact-gaps") == str(len(gaps0))
        row = page.locator(f'#impact-team-list li[data-team="{NEW}"]')
        assert "blocks publishing" in row.inner_text() and "no workers" in row.inner_text()
        assert "lack a full 1+1+N team" in page.inner_text("#impact-msg")
        assert "split" in page.inner_text("#team-rule")

        # the confirm step names what will change; confirming is refused with the gaps
        page.click("#publish")
        page.wait_for_selector("#confirm-box:not([hidden])")
        confirm = page.inner_text("#confirm-list")
        assert f"→ {NEW}" in confirm and "assignee" in confirm and f"Team {NEW}" in confirm
        assert f"⚠ {NEW}" in confirm and page.is_visible("#force-label")
        page.wait_for_timeout(200)
        browser.screenshot(page, tmp_path, "planner-confirm-gaps.png", full_page=False)
        page.click("#confirm-publish")
        page.wait_for_function("() => document.getElementById('publish-msg').textContent.includes('refused')", timeout=60000)
        wait_idle(page)
        assert NEW in page.inner_text("#publish-reasons") and ps.plan(n).status == "draft"
        assert s.store.current_plan() == 1
        browser.screenshot(page, tmp_path, "planner-refused-gaps.png", full_page=False)

        # staff every blocking grid in the impact panel (a worker for the new grid, the rest as listed)
        for g in gaps0:
            form = page.locator(f'#impact-team-list li[data-team="{g["code"]}"] .gm-team')
            if g["counts"]["leader"] != 1:
                form.locator('input[name="leader"]').fill("P00064")
            if g["counts"]["instructor"] != 1:
                form.locator('input[name="instructor"]').fill("P00052")
            if g["counts"]["worker"] < 1:
                form.locator('input[name="workers"]').fill("P90001")
            form.locator("button").click()
            page.wait_for_function("c => !document.querySelector(`#impact-team-list li[data-team='${c}'].gm-block`)",
                                   arg=g["code"], timeout=60000)
            wait_idle(page)
        assert page.inner_text("#impact-gaps") == "0"
        assert ps.impact(n)["staffing_gaps"] == []
        page.click("#publish")
        page.wait_for_selector("#confirm-box:not([hidden])")
        confirm = page.inner_text("#confirm-list")
        assert "⚠" not in confirm and "P90001" in confirm and "nobody" not in confirm
        page.wait_for_timeout(200)
        browser.screenshot(page, tmp_path, "planner-confirm-staffed.png", full_page=False)
        page.click("#confirm-publish")
        page.wait_for_function("() => document.getElementById('publish-msg').textContent.includes('published')", timeout=60000)
        wait_idle(page)
        rec = ps.plan(n)
        assert rec.status == "published" and s.store.current_plan() == n and rec.publish_reason is None
        rerouted = [e.incident_id for i in loop.repo.query(status=("dispatched", "in_progress", "reported", "filed"))
                    for e in loop.repo.events(i.id) if e.action == "reroute"]
        assert rerouted, "some open incident moved grid"
        for iid in rerouted:
            inc = loop.repo.get(iid)
            assert inc.assignee is not None, (iid, inc.grid_code)  # was null in the issue
            team = {r.person_id for r in s.store.roles(inc.grid_code)}
            assert inc.assignee in team
        assert {r.person_id for r in s.store.roles(NEW) if r.role == "worker"} == {"P90001"}
        browser.screenshot(page, tmp_path, "planner-published-staffed.png", full_page=False)
        assert log.problems_except("409") == [] and log.dialogs == [] and log.outside == []
        desk.close()
