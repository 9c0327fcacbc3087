"""The planner page (/planner, /planner.json): guarding, the JSON twin, and a planner's session in Chromium.

Flask test-client tests over the three-grid sample store (G1 [116.0,116.1], G2 [116.1,116.2],
G3 [116.2,116.3] x [39.0,39.1], 100 households each), then end to end in headless Debian
Chromium over the demo store with no internet: create a draft, split a grid by drawing a line
with mouse clicks, undo, review the impact and publish; the store is checked through the
services after every step. Screenshots go to the test's tmp dir and /tmp/gridmap-map-check/.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest
import shapely
import shapely.geometry
import shapely.ops
from shapely.ops import polylabel

from gridmap.analysis import default_households
from gridmap.plans import PlanService
from gridmap.registry.model import Level
from gridmap.web.auth import create_user
from gridmap.web.planner_page import classify

from . import browser, pages
from .conftest import GRIDS, sample_app
from .pages import embedded

XSS = "<img src=x onerror=alert(1)> </script><script>alert(2)</script>"
URL = re.compile(r"https?://[^\s\"'<>)]+")


def login(client, username: str, password: str = "password123", next_: str = "/planner"):
    return pages.login(client, username, password, next_)


def plans_of(app) -> PlanService:
    return app.extensions["gridmap"].plans


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
def test_the_public_is_sent_to_login_and_other_roles_are_told_why(client):
    r = client.get("/planner")
    assert r.status_code == 302 and r.headers["Location"] == "/login?next=/planner"
    r = client.get("/planner?plan=2")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/planner")
    assert client.get("/planner.json").status_code == 401
    login(client, "disp")
    r = client.get("/planner")  # signed in already: a page saying what is needed, not the login form again
    assert r.status_code == 403 and "需要规划员权限" in r.get_data(as_text=True)
    assert "disp" in r.get_data(as_text=True) and "<form" in r.get_data(as_text=True)  # who, and a sign-out
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
    assert '<a href="/planner" aria-current="page">规划<span class="en"> Planner</span></a>' in html  # header link, current


# -- the JSON twin ----------------------------------------------------------------------------------
def test_json_twin_lists_plans_and_picks_the_newest_draft(client, app):
    login(client, "plan")
    out = client.get("/planner.json").get_json()
    assert [p["status"] for p in out["plans"]] == ["published"] and out["plans"][0]["in_force"]
    # no draft: the plan in force, read-only (it was a blank map at 500 km scale)
    assert out["no_draft"] and out["plan"]["version"] == 1 and not out["plan"]["editable"]
    assert len(out["balance"]["grids"]) == 3
    ps = plans_of(app)
    first = ps.create(note="one").version
    second = ps.create(note=XSS).version
    out = client.get("/planner.json").get_json()
    assert [p["version"] for p in out["plans"]] == [1, first, second]
    assert out["plan"]["version"] == second and out["plan"]["editable"] and not out["plan"]["in_force"]
    assert not out["no_draft"]
    assert out["urls"]["edits"] == f"/api/v1/plans/{second}/edits"
    assert out["urls"]["units"] == f"/api/v1/plans/{second}/units"
    assert out["urls"]["coverage"] == "/api/v1/coverage" and out["urls"]["impact"] == f"/api/v1/plans/{second}/impact"
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


# -- in a real browser -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    browser.require_browser()
    from .live_server import live_server

    app = browser.demo_app(tmp_path_factory.mktemp("planner"))
    create_user(app.extensions["gridmap"].store, "planner1", "password123", "planner")
    with live_server(app) as base:
        yield base, app
    app.extensions["gridmap"].store.close()


def split_target(grids):
    """A grid that a west-east line through its pole of inaccessibility cuts in two, neither piece
    above 70 % of it, with the line's ends outside it; and the two adjacent grids of another zone."""
    for g in grids:
        if not g.households or g.households < 40:
            continue
        p = polylabel(g.geometry, 1e-6)
        minx, _, maxx, _ = g.geometry.bounds
        pad = (maxx - minx) * 0.15
        line = shapely.LineString([(minx - pad, p.y), (maxx + pad, p.y)])
        pieces = shapely.get_parts(shapely.ops.split(g.geometry, line))
        if len(pieces) == 2 and max(q.area for q in pieces) / g.geometry.area < 0.7:
            return g, p, line
    raise AssertionError("no grid to split")


def adjacent_pair(grids, away_from, exclude=()):
    for a in grids:
        for b in grids:
            if (a.code < b.code and a.parent_code == b.parent_code and away_from.parent_code != a.parent_code
                    and not {a.code, b.code} & set(exclude)
                    and shapely.intersection(a.geometry.boundary, b.geometry.boundary).length > 0.003):
                return a, b
    raise AssertionError("no adjacent pair")


def reshape_target(grids, exclude):
    """A grid, one of its corners that it shares with a sibling, and a point a quarter of the way to its middle."""
    for e in grids:
        if e.code in exclude or e.geometry.geom_type != "Polygon":
            continue
        pole = polylabel(e.geometry, 1e-6)
        for f in grids:
            if f is e or f.parent_code != e.parent_code or f.code in exclude:
                continue
            shared = shapely.intersection(e.geometry.boundary, f.geometry.boundary)
            if shared.length < 0.1 * e.geometry.length / 4:
                continue
            for x, y in list(e.geometry.exterior.coords)[:-1]:
                if shapely.Point(x, y).distance(shared) < 1e-12:
                    return e, (x, y), (x + (pole.x - x) / 4, y + (pole.y - y) / 4)
    raise AssertionError("no grid to reshape")


def fill_of(page, code: str) -> str:
    return page.evaluate(f"window.gridmap.planner.layers[{json.dumps(code)}].options.fillColor")


def grid_count(page) -> int:
    return page.evaluate("Object.keys(window.gridmap.planner.layers).length")


def click_grid(page, lon: float, lat: float) -> None:
    page.mouse.click(*browser.map_point(page, "window.gridmap.plannerMap", lon, lat))


def frame(page, codes) -> None:
    """Fit the map to some grids, without animation (the test then aims at a still map)."""
    page.evaluate("codes => { const m = window.gridmap.plannerMap, L_ = window.gridmap.planner.layers;"
                  " let b = L_[codes[0]].getBounds(); codes.forEach(c => b.extend(L_[c].getBounds()));"
                  " m.fitBounds(b.pad(0.35), {animate: false}); }", list(codes))


def wait_idle(page) -> None:
    page.wait_for_function("() => !window.gridmap.planner.busy()")


@dataclasses.dataclass
class Run:
    """One planner's session in the browser, and the services to check the store with."""

    page: Any
    app: Any
    base: str
    tmp_path: Path
    grids0: list  # the plan in force's grids
    n: int = 0  # the draft

    @property
    def services(self):
        return self.app.extensions["gridmap"]

    @property
    def plans(self) -> PlanService:
        return plans_of(self.app)

    def grids(self) -> dict:
        """The draft's grids in the store, by code."""
        return {u.code: u for u in self.services.store.units(level=Level.grid, plan=self.n)}

    def select(self, *units) -> None:
        """Click each unit at its pole of inaccessibility, so the page selects them in that order."""
        frame(self.page, [u.code for u in units])
        self.page.click("#clear-selection")
        for u in units:
            q = polylabel(u.geometry, 1e-6)
            click_grid(self.page, q.x, q.y)
        self.page.wait_for_function("want => JSON.stringify(window.gridmap.planner.selected) === JSON.stringify(want)",
                                    arg=[u.code for u in units])

    def done(self, text: str) -> None:
        """Wait for the edit message to start with `text`, and for the page to be idle again."""
        self.page.wait_for_function("t => document.getElementById('edit-msg').textContent.startsWith(t)", arg=text)
        wait_idle(self.page)


@pytest.mark.slow
def test_planner_session_in_chromium(demo, tmp_path):
    """Sign in, make a draft, set the target, split, undo, split, move, reshape, lose a race, merge,
    check coverage, review the impact, be refused, force the publish; the store checked at each step."""
    base, app = demo
    grids0 = app.extensions["gridmap"].store.units(level=Level.grid, plan=1)
    a, pole, line = split_target(grids0)
    b, c = adjacent_pair(grids0, a)
    e, corner, inward = reshape_target(grids0, exclude={a.code, b.code, c.code})
    d = next(g for g in grids0 if g.code not in (a.code, b.code, c.code, e.code))
    f, g = adjacent_pair(grids0, a, exclude={b.code, c.code, d.code, e.code})
    with browser.chromium() as br:
        desk = br.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
        run = Run(desk.new_page(), app, base, tmp_path, grids0)
        log = browser.watch(run.page)
        _sign_in_and_make_a_draft(run)
        _split_colour_and_undo(run, a, pole, line)
        piece = _split_then_move_an_area(run, a, line)
        _reshape_by_dragging_a_corner(run, e, corner, inward)
        _lose_a_race_and_show_names_as_text(run, b, c, d)
        _merge(run, f, g)
        _coverage_impact_and_publish(run, d, piece, removed=sorted([c.code, g.code]))
        page = run.page
        page.select_option("#plan-select", "1")  # another plan: the page opens it, read-only
        page.wait_for_url(f"{base}/planner?plan=1")
        page.wait_for_function("() => Object.keys(window.gridmap.planner.layers).length === 100")
        assert page.is_visible("#read-only") and page.is_disabled("#tool-split") and page.is_disabled("#publish")
        assert log.problems_except("409", "422") == [] and log.dialogs == [] and log.outside == []
        assert len([x for x in log.failed if "HTTP 409" in x]) == 2  # the stale merge and the refused publish
        assert len([x for x in log.failed if "HTTP 422" in x]) == 1  # the line that cut nothing
        desk.close()


def _sign_in_and_make_a_draft(run: Run) -> None:
    page, ps = run.page, run.plans
    page.goto(f"{run.base}/planner", wait_until="load")
    assert "/login?next=/planner" in page.url
    page.fill('input[name="username"]', "planner1")
    page.fill('input[name="password"]', "password123")
    page.click('button[type="submit"]')
    page.wait_for_url(f"{run.base}/planner")
    assert page.locator("#no-plan").count() == 1
    # no draft yet: the plan in force is drawn, read-only (it was a blank map at 500 km scale)
    page.wait_for_function("() => Object.keys(window.gridmap.planner.layers).length === 100")
    assert page.is_visible("#read-only") and page.evaluate("window.gridmap.plannerMap.getZoom()") >= 9
    assert "plan in force" in page.inner_text("#no-plan")
    page.fill("#draft-note", XSS)
    page.click("#create-draft")
    page.wait_for_url(re.compile(r".*/planner\?plan=\d+$"))
    run.n = int(page.url.rsplit("=", 1)[1])
    rec = ps.plan(run.n)
    assert (rec.status, rec.note, rec.author, rec.base_version) == ("draft", XSS, "planner1", 1)
    page.wait_for_function("() => Object.keys(window.gridmap.planner.layers).length === 100")
    assert XSS in page.inner_text("#plan-select") and page.locator("#plan-select img").count() == 0
    assert page.locator(".gm-label").count() > 10  # labelled where the grid is wide enough on screen
    page.wait_for_timeout(300)
    browser.screenshot(page, run.tmp_path, "planner-draft.png")


def _split_colour_and_undo(run: Run, a, pole, line) -> None:
    """Set a target A is within, split A with a drawn line: both halves turn "under"; undo."""
    page, ps, n, h = run.page, run.plans, run.n, a.households
    biggest = max(q.area for q in shapely.get_parts(shapely.ops.split(a.geometry, line))) / a.geometry.area
    lo, hi = int(h * (1 + biggest) / 2), h + 50  # A is within; each half of it will be under
    page.fill("#households", f"{lo}-{hi}")
    page.click("#targets button[type=submit]")
    page.wait_for_function(f"() => document.getElementById('target-text').textContent === '{lo}–{hi}'")
    wait_idle(page)
    twin = _twin(run.app, n, f"{lo}-{hi}")  # the twin's colours, to compare with the map
    within, under = twin["balance"]["colours"]["within"], twin["balance"]["colours"]["under"]
    assert fill_of(page, a.code) == within
    assert _legend(page) == twin["balance"]["counts"]
    off = [x for x in twin["balance"]["grids"] if x["balance"] in ("under", "over")]
    assert page.locator("#flagged-list li").count() == len(off) == int(page.inner_text("#flagged-count"))
    worst = max(off, key=lambda x: max(lo - x["households"], x["households"] - hi))
    assert page.get_attribute("#flagged-list li:first-child", "data-code") == worst["code"]
    page.click("#flagged-box summary")
    page.click("#flagged-list li:first-child")  # selects the grid furthest from the target, and frames it
    page.wait_for_function("want => JSON.stringify(window.gridmap.planner.selected) === JSON.stringify(want)",
                           arg=[worst["code"]])
    page.click("#flagged-box summary")

    run.select(a)
    page.click("#tool-split")
    draw(page, line.coords)
    run.done("✓ split")
    after = run.grids()
    assert len(after) == 101 and grid_count(page) == 101
    new = sorted(set(after) - {u.code for u in run.grids0})
    assert len(new) == 1 and new[0] in page.inner_text("#edit-msg")
    assert after[a.code].households + after[new[0]].households == h
    assert fill_of(page, a.code) == under and fill_of(page, new[0]) == under  # colours updated
    assert _legend(page) == _twin(run.app, n, f"{lo}-{hi}")["balance"]["counts"]
    assert page.inner_text("#grid-count") == "101"
    assert [x.op for x in ps.repo.edits(n)] == ["split"]
    browser.screenshot(page, run.tmp_path, "planner-split.png")

    page.click("#tool-undo")
    page.wait_for_function("() => document.getElementById('edit-msg').textContent.includes('Undone')")
    wait_idle(page)
    back = run.grids()
    assert len(back) == 100 and grid_count(page) == 100
    assert back[a.code].geometry.equals(a.geometry) and back[a.code].households == h
    assert fill_of(page, a.code) == within
    assert ps.repo.edits(n) == []


def _split_then_move_an_area(run: Run, a, line) -> str:
    """Split A again (after an Esc), then move a drawn square across the cut; returns the new piece's code."""
    page, ps, n = run.page, run.plans, run.n
    run.select(a)
    page.click("#tool-split")
    assert page.is_visible("#drawing") and page.is_disabled("#tool-merge")
    page.keyboard.press("Escape")  # leaflet-draw cancels: the page is back to selecting
    page.wait_for_selector("#drawing", state="hidden")
    assert page.is_enabled("#tool-split") and len(ps.repo.edits(n)) == 0
    inside = polylabel(a.geometry, 1e-6)
    r = a.geometry.boundary.distance(inside) * 0.6
    stub = [(inside.x - r, inside.y), (inside.x + r, inside.y)]  # a line inside A: it cuts nothing
    run.select(a)
    page.click("#tool-split")
    draw(page, stub)
    page.wait_for_function("() => document.getElementById('edit-msg').className.includes('bad')")
    wait_idle(page)
    assert "does not cut" in page.inner_text("#edit-msg") and len(ps.repo.edits(n)) == 0  # refused, nothing written
    assert grid_count(page) == 100
    run.select(a)
    page.click("#tool-split")
    draw(page, line.coords)
    run.done("✓ split")
    split = run.grids()
    piece = next(code for code in split if code not in {u.code for u in run.grids0})

    mid = shapely.intersection(line, a.geometry).interpolate(0.5, normalized=True)
    r = shapely.union_all([split[a.code].geometry, split[piece].geometry]).boundary.distance(mid) * 0.3
    square = [(mid.x - r, mid.y - r), (mid.x + r, mid.y - r), (mid.x + r, mid.y + r), (mid.x - r, mid.y + r)]
    run.select(_away(split[a.code], mid, r), _away(split[piece], mid, r))
    page.click("#tool-move")
    draw(page, square)
    run.done("✓ move")
    moved = run.grids()
    drawn = shapely.geometry.shape(ps.repo.edits(n)[-1].params["area"])  # as the page sent it: pixels, not our square
    assert drawn.symmetric_difference(shapely.Polygon(square)).area < 0.1 * drawn.area
    taken = shapely.intersection(drawn, split[a.code].geometry).area
    assert taken > 0 and moved[a.code].geometry.area == pytest.approx(split[a.code].geometry.area - taken, rel=1e-6)
    assert moved[piece].geometry.area == pytest.approx(split[piece].geometry.area + taken, rel=1e-6)
    assert moved[a.code].households + moved[piece].households == a.households
    assert grid_count(page) == 101 and [x.op for x in ps.repo.edits(n)] == ["split", "move"]
    return piece


def _reshape_by_dragging_a_corner(run: Run, e, corner, inward) -> None:
    """Drag one of E's corners inwards (leaflet-draw's vertex editing): a neighbour takes what E gives up."""
    page, before = run.page, run.grids()
    run.select(e)
    page.click("#tool-reshape")
    page.wait_for_selector(".leaflet-marker-icon.leaflet-editing-icon")
    x0, y0 = browser.map_point(page, "window.gridmap.plannerMap", *corner)
    x1, y1 = browser.map_point(page, "window.gridmap.plannerMap", *inward)
    page.mouse.move(x0, y0)
    page.mouse.down()
    for k in range(1, 11):
        page.mouse.move(x0 + (x1 - x0) * k / 10, y0 + (y1 - y0) * k / 10)
    page.mouse.up()
    page.click("#draw-finish")
    run.done("✓ reshape")
    after = run.grids()
    edit = run.plans.repo.edits(run.n)[-1]
    assert edit.op == "reshape" and edit.params["code"] == e.code
    changed = [code for code in before if not after[code].geometry.equals(before[code].geometry)]
    assert e.code in changed and len(changed) >= 2  # the neighbour followed
    assert after[e.code].geometry.area < before[e.code].geometry.area
    region_before = shapely.union_all([before[code].geometry for code in changed])
    region_after = shapely.union_all([after[code].geometry for code in changed])
    assert region_before.symmetric_difference(region_after).area < 1e-12  # no gap, no overlap
    drawn = shapely.normalize(shapely.geometry.shape(edit.params["geometry"]))  # what the page sent, unrounded
    assert shapely.equals_exact(shapely.normalize(after[e.code].geometry), drawn, 1e-12)
    assert shapely.Point(corner).distance(drawn.exterior) > 0.5 * shapely.Point(corner).distance(shapely.Point(inward))
    assert len(after) == 101 == grid_count(page)


def _lose_a_race_and_show_names_as_text(run: Run, b, c, d) -> None:
    """Someone else renames D (hostile name) and merges B and C while the page holds their old revisions."""
    page, ps, n = run.page, run.plans, run.n
    ps.repo.apply_edit(n, "rename", {}, [_renamed(run.services.store.unit(d.code, plan=n), XSS)], [],
                       {d.code: ps.repo.unit_revs(n)[d.code]}, author="someone else")
    ps.edit(n, "merge", {"codes": [b.code, c.code]}, author="someone else")
    run.select(b, c)
    page.click("#tool-merge")
    page.wait_for_function("() => document.getElementById('edit-msg').textContent.includes('Conflict')")
    wait_idle(page)
    assert "reload" in page.inner_text("#edit-msg")
    assert grid_count(page) == 100 == len(run.grids())  # reloaded: B and C are one
    assert [x.op for x in ps.repo.edits(n)] == ["split", "move", "reshape", "rename", "merge"]

    here = run.grids()[d.code]
    run.select(here)
    assert XSS in page.inner_text("#selected") and page.locator("#selected img").count() == 0
    q = polylabel(here.geometry, 1e-6)
    page.mouse.move(*browser.map_point(page, "window.gridmap.plannerMap", q.x, q.y))
    page.wait_for_selector(".leaflet-tooltip")
    assert XSS in page.inner_text(".leaflet-tooltip") and page.locator(".leaflet-tooltip img").count() == 0


def _merge(run: Run, f, g) -> None:
    page = run.page
    run.select(f, g)
    page.click("#tool-merge")
    run.done("✓ merge")
    merged = run.grids()
    assert g.code not in merged and merged[f.code].households == f.households + g.households
    assert merged[f.code].geometry.symmetric_difference(shapely.union_all([f.geometry, g.geometry])).area < 1e-12
    assert grid_count(page) == 99 == len(merged) and page.inner_text("#grid-count") == "99"
    assert page.evaluate(f"window.gridmap.planner.layers[{json.dumps(g.code)}] === undefined")
    q = polylabel(merged[f.code].geometry, 1e-6)
    page.mouse.move(*browser.map_point(page, "window.gridmap.plannerMap", q.x, q.y))
    page.wait_for_function("want => [...document.querySelectorAll('.leaflet-tooltip')].some(t => t.textContent.includes(want))",
                           arg=f"{f.code} {f.name} · {f.households + g.households} 户 households")


def _coverage_impact_and_publish(run: Run, d, piece: str, removed: list[str]) -> None:
    """A gap appears (written past the edit rules, as a bad import would): the coverage check shows it
    in red, the impact lists it, publishing is refused with it, then forced."""
    page, ps, s, n = run.page, run.plans, run.services, run.n
    ps.repo.apply_edit(n, "test-gap", {}, [_shrunk(run.grids()[d.code])], [], {d.code: ps.repo.unit_revs(n)[d.code]})
    assert page.is_disabled("#publish")
    page.click("#check-coverage")
    page.wait_for_function("() => document.getElementById('coverage-msg').textContent.includes('problem')", timeout=60000)
    wait_idle(page)
    problems = s.analysis.coverage(plan=n)
    assert problems and any(p.kind == "gap" and d.code in p.codes for p in problems)
    assert page.locator("#coverage-list li").count() == len(problems)
    assert page.evaluate("window.gridmap.planner.problems()") == len(problems)  # the red layer
    assert "gap" in page.inner_text("#coverage-list")
    frame(page, [d.code])
    browser.screenshot(page, run.tmp_path, "planner-coverage.png")

    page.click("#show-impact")
    page.wait_for_selector("#impact:not([hidden])", timeout=60000)
    wait_idle(page)
    impact, diff = ps.impact(n), ps.diff(1, n)
    assert impact["coverage"] and impact["diff"]["added"] == 1 and impact["diff"]["removed"] == len(removed)
    assert [x["code"] for x in diff["added"]] == [piece] and [x["code"] for x in diff["removed"]] == removed
    listed = page.inner_text("#diff-list")
    assert f"added {piece}" in listed and f"renamed {d.code}" in listed
    assert all(f"removed {code}" in listed for code in removed)
    assert all(f"reshaped {x['code']}" in listed for x in diff["reshaped"])
    assert page.locator("#diff-list img").count() == 0
    assert page.inner_text("#impact-households") == str(impact["households"]["households"])
    assert page.inner_text("#impact-coverage") == str(len(impact["coverage"]))
    assert page.inner_text("#impact-teams") == str(len(impact["teams"]))
    assert page.inner_text("#impact-staff") == str(len(impact["staff_on_removed_grids"]))
    assert page.locator("#impact-flows li").count() == len(impact["households"]["flows"])
    assert page.inner_text("#impact-incidents").startswith(f"{len(impact['incidents']['moving'])} / ")
    assert page.locator("#force-label").is_hidden() and page.is_enabled("#publish")
    browser.screenshot(page, run.tmp_path, "planner-impact.png")

    today = s.today().isoformat()
    page.fill("#effective-from", today)
    page.click("#publish")  # the confirm step names what will change, then the publish is refused
    page.wait_for_selector("#confirm-box:not([hidden])")
    assert "re-routed" in page.inner_text("#confirm-list")
    page.click("#confirm-publish")
    page.wait_for_selector("#force-label:not([hidden])", timeout=60000)
    page.wait_for_function("() => document.getElementById('publish-msg').textContent.includes('refused')", timeout=60000)
    wait_idle(page)
    gaps = impact["staffing_gaps"]  # the demo's grids with open incidents but no full team refuse it too
    assert page.locator("#publish-reasons li").count() == len(impact["coverage"]) + len(gaps)
    assert "gap" in page.inner_text("#publish-reasons") and "refused" in page.inner_text("#publish-msg")
    assert ps.plan(n).status == "draft" and s.store.current_plan() == 1  # refused: nothing changed
    page.check("#force")
    page.fill("#force-reason", "测试 test: forced on purpose")
    page.click("#publish")
    page.wait_for_selector("#confirm-box:not([hidden])")
    page.click("#confirm-publish")
    page.wait_for_function("() => document.getElementById('publish-msg').textContent.includes('published')", timeout=60000)
    wait_idle(page)
    rec = ps.plan(n)
    assert (rec.status, rec.effective_from.isoformat(), s.store.current_plan()) == ("published", today, n)
    assert "forced" in page.inner_text("#publish-msg")
    assert rec.publish_reason == ("测试 test: forced on purpose" if gaps else None)
    assert page.inner_text("#plan-status") == "已发布 published"
    assert "现行 in force" in page.locator("#plan-select option:checked").inner_text()
    assert "现行 in force" not in page.locator('#plan-select option[value="1"]').inner_text()
    assert page.is_disabled("#tool-undo") and page.is_disabled("#publish")
    page.wait_for_timeout(300)
    assert browser.screenshot(page, run.tmp_path, "planner-published.png").stat().st_size > 50_000


def _twin(app, n: int, households: str) -> dict:
    """/planner.json as planner1 sees it (a separate client: the browser's session is its own)."""
    c = app.test_client()
    login(c, "planner1")
    return c.get(f"/planner.json?plan={n}&households={households}").get_json()


def draw(page, points) -> None:
    """Click each lon/lat on the map with the mouse (leaflet-draw adds a vertex per click), then Finish."""
    for lon, lat in points:
        x, y = browser.map_point(page, "window.gridmap.plannerMap", lon, lat)
        page.mouse.move(x - 3, y - 3)
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.up()
        page.wait_for_timeout(120)
    page.click("#draw-finish")


def _away(unit, near, r):
    """The unit cut back to its largest part away from the square of half-size r around `near`: a place to click it."""
    rest = unit.geometry.difference(near.buffer(r * 2))
    return dataclasses.replace(unit, geometry=max(shapely.get_parts(rest), key=lambda x: x.area))


def _legend(page) -> dict:
    return page.evaluate("Object.fromEntries([...document.querySelectorAll('#legend li')]"
                         ".map(li => [li.dataset.balance, Number(li.querySelector('.n').textContent)]))")


def _shrunk(u):
    return dataclasses.replace(u, geometry=u.geometry.buffer(-0.0008, join_style="mitre"))


def _renamed(u, name: str):
    return dataclasses.replace(u, name=name)
