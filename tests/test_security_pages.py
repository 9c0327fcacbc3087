"""Issue #15: every page works in Chromium under the Content-Security-Policy, and CSP blocks injected script."""

from __future__ import annotations

from pathlib import Path

import pytest

from . import browser
from .conftest import GRIDS, sample_app
from .live_server import live_server

PAGES = ["/", "/map", f"/grids/{GRIDS[0]}", "/report", "/board", "/dashboard", "/planner", "/login", "/account/totp",
         "/status/1", "/ogcapi/?f=html", "/ogcapi/collections/grid/items?f=html"]


@pytest.mark.slow
def test_every_page_runs_under_the_csp(tmp_path: Path, sample_dir: Path):
    browser.require_browser()
    from gridmap.web.auth import create_user

    app = browser.with_maps(sample_app(tmp_path, sample_dir))
    store = app.extensions["gridmap"].store
    create_user(store, "admin", "password123", "admin")
    app.extensions["gridmap"].incidents.report(
        {"category": "exposed_rubbish", "lon": 116.05, "lat": 39.05, "description": "x"},
        __import__("gridmap.incidents.actors", fromlist=["SYSTEM"]).SYSTEM)
    try:
        with live_server(app) as base, browser.chromium() as chrome:
            page = chrome.new_page()
            log = browser.watch(page)
            page.goto(f"{base}/login")
            page.fill("input[name=username]", "admin")
            page.fill("input[name=password]", "password123")
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_load_state("networkidle")
            for path in PAGES:
                resp = page.goto(base + path, wait_until="load")
                page.wait_for_timeout(500)  # the board and planner poll: no "network idle" to wait for
                assert resp.status == 200, path
                assert "nonce-" in resp.headers["content-security-policy"], path
                if path in ("/map", f"/grids/{GRIDS[0]}", "/dashboard", "/report", "/board", "/planner"):
                    # the map drew: Leaflet put its panes in, so the (nonced or file) scripts ran
                    page.wait_for_selector(".leaflet-pane", state="attached", timeout=15000)
                name = path.strip("/").replace("/", "_").replace("?", "_").replace("=", "") or "home"
                browser.screenshot(page, tmp_path, f"csp_{name}.png")
            assert log.problems() == []
            # an injected inline script (no nonce) is refused by the browser
            page.goto(f"{base}/map")
            blocked = page.evaluate("""() => new Promise(done => {
                document.addEventListener('securitypolicyviolation', e => done(e.violatedDirective));
                window.__ran = false;
                const s = document.createElement('script');
                s.textContent = 'window.__ran = true';
                document.body.appendChild(s);
                setTimeout(() => done(window.__ran ? 'ran' : 'no event'), 2000);
            })""")
            assert blocked.startswith("script-src")
            assert page.evaluate("window.__ran") is False
    finally:
        store.close()
