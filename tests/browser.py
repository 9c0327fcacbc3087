"""Headless Debian Chromium for end-to-end tests, driven by Playwright (no browser download).

The browser is the distribution's /usr/bin/chromium (apt-get install chromium), launched with
networking extras off, so a page that tries to reach the internet shows up as a request to a
host other than 127.0.0.1. The app runs on 127.0.0.1 in a thread (tests/live_server.py) over a
demo store built in a temporary folder. Without Chromium or Playwright the browser tests skip,
unless REQUIRE_BROWSER_TESTS=required (CI), when they fail.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import pytest

from .slowguard import assert_slow

CHROMIUM = Path(os.environ.get("GRIDMAP_CHROMIUM", "/usr/bin/chromium"))
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path("/tmp/gridmap-map-check")  # screenshots are copied here for a human to look at


def unavailable() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not found (apt-get install chromium)"
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (pip install playwright; its browser download is not needed)"
    return None


def require_browser() -> None:
    """Skip the calling test without a browser, or fail when REQUIRE_BROWSER_TESTS=required."""
    reason = unavailable()
    if reason:
        if os.environ.get("REQUIRE_BROWSER_TESTS") == "required":
            pytest.fail(f"REQUIRE_BROWSER_TESTS=required but {reason}")
        pytest.skip(reason)


_shared: tuple | None = None  # (Playwright, Browser) of the running test module


@contextlib.contextmanager
def chromium() -> Iterator["object"]:
    """A headless Chromium (playwright Browser); the contexts and pages a test opens in it are closed
    after the test, each test gets fresh ones (a context is a private profile: its own cookies, storage
    and cache).

    One browser is launched per test module and kept until the module's last test (conftest's
    pytest_runtest_teardown calls close_shared): a launch costs ~1-3 s, a new context ~0.1 s. Not for
    the whole session: while Playwright's sync API runs, the thread counts as inside an event loop,
    and asyncio.run() (a library's) would fail in a later module."""
    global _shared
    assert_slow("a browser")
    if _shared is None or not _shared[1].is_connected():
        close_shared()
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        try:
            launched = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        except BaseException:
            pw.stop()
            raise
        # A context that names no locale is a Chinese browser (Accept-Language: zh-CN), as the residents'
        # and staff's are; a test of the English pages asks for locale="en-US" (tests/test_i18n.py).
        contexts, pages = launched.new_context, launched.new_page
        launched.new_context = lambda **kw: contexts(**{"locale": "zh-CN", **kw})
        launched.new_page = lambda **kw: pages(**{"locale": "zh-CN", **kw})
        _shared = (pw, launched)
    browser = _shared[1]
    try:
        yield browser
    finally:
        for context in list(browser.contexts):
            context.close()


def close_shared() -> None:
    """Close the module's browser and stop Playwright (nothing when none runs)."""
    global _shared
    if _shared is not None:
        pw, browser = _shared
        _shared = None
        try:
            browser.close()
        finally:
            pw.stop()


@dataclass
class PageLog:
    """What went wrong while a page loaded: console errors, failed or non-local requests, dialogs."""

    console_errors: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)

    def problems(self) -> list[str]:
        return ([f"console: {m}" for m in self.console_errors] + [f"failed: {u}" for u in self.failed]
                + [f"outside 127.0.0.1: {u}" for u in self.outside] + [f"dialog: {d}" for d in self.dialogs])

    def problems_except(self, *allowed: str) -> list[str]:
        """The problems, less the HTTP errors a test provoked on purpose (`allowed` statuses, e.g. "409")."""
        expected = [f"(HTTP {a})" for a in allowed] + [f"responded with a status of {a} " for a in allowed]
        return [p for p in self.problems() if not any(e in p for e in expected)]


def watch(page) -> PageLog:
    """Record console errors, page errors, failed/4xx/5xx requests and any request leaving 127.0.0.1."""
    log = PageLog()
    page.on("console", lambda m: m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico")
            and log.console_errors.append(m.text))
    page.on("pageerror", lambda e: log.console_errors.append(str(e)))
    page.on("requestfailed", lambda r: log.failed.append(f"{r.url} ({r.failure})"))
    page.on("response", lambda r: r.status >= 400 and not r.url.endswith("/favicon.ico")
            and log.failed.append(f"{r.url} (HTTP {r.status})"))

    def request(r) -> None:
        host = urlsplit(r.url).hostname
        if urlsplit(r.url).scheme not in ("data", "blob", "about") and host != "127.0.0.1":
            log.outside.append(r.url)

    page.on("request", request)

    def dialog(d) -> None:
        log.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)
    return log


def screenshot(page, tmp_path: Path, name: str, full_page: bool = True) -> Path:
    """Save a PNG in the test's tmp dir and copy it to /tmp/gridmap-map-check/."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    shutil.copy(path, SHOTS / name)
    return path


def demo_app(tmp: Path, today=None):
    """The web app over a freshly built demo store (Lingcheng: 100 grids, staff, incidents).

    The history is the year before `today`, by default the day the shipped history describes
    (2026-11-01), so tests on the demo's figures do not change with the calendar.
    """
    from gridmap.app import create_app

    from .demo_store import demo_settings

    return with_maps(create_app(demo_settings(tmp, today=today)))


def with_maps(app):
    """The app with the maps blueprint and the vendored static folder (until create_app does both)."""
    from gridmap.web import maps_pages

    if "maps" not in app.blueprints:
        app.register_blueprint(maps_pages.bp)
    app.static_folder = str(maps_pages.STATIC_DIR)
    return app


def map_point(page, map_expr: str, lon: float, lat: float) -> tuple[float, float]:
    """Page coordinates of a lon/lat on the Leaflet map `map_expr` (a JS expression), taken once the page
    and the map are still: a smooth scroll or a zoom animation on a slow machine would otherwise
    move the target between measuring it and tapping it."""
    return page.evaluate(
        f"""async () => {{
          const m = {map_expr};
          const frame = () => new Promise(r => requestAnimationFrame(r));
          const where = () => {{ const q = m.latLngToContainerPoint([{lat}, {lon}]);
            const r = m.getContainer().getBoundingClientRect(); return [r.left + q.x, r.top + q.y]; }};
          let last = null, same = 0;
          for (let i = 0; i < 600 && same < 10; i++) {{
            await frame();
            const now = where();
            const moving = m._animatingZoom || (m._panAnim && m._panAnim._inProgress);
            same = (!moving && last && now[0] === last[0] && now[1] === last[1]) ? same + 1 : 0;
            last = now;
          }}
          return last;
        }}""")
