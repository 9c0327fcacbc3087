"""Issue #15: the two-step login in Chromium, as a dispatcher would do it, under the CSP.

Two-factor login is required for dispatchers. The user signs in with the password, is sent to
enrol, scans the QR code on the page (decoded here with zxing-cpp from a screenshot), types
the code, sees the recovery codes once, and lands on the board. A second browser then signs in
with the password and a code. Screenshots at 1400x900 and 390x844 go to /tmp/gridmap-map-check/.
"""

from __future__ import annotations

import time
from pathlib import Path

import pyotp
import pytest

from . import browser
from .conftest import sample_app
from .live_server import live_server

zxingcpp = pytest.importorskip("zxingcpp")


def _qr_text(png: Path) -> str:
    from PIL import Image

    with Image.open(png) as im:
        found = [r.text for r in zxingcpp.read_barcodes(im.convert("L"))]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.slow
def test_two_step_login_with_enrolment_in_chromium(tmp_path: Path, sample_dir: Path):
    browser.require_browser()
    from gridmap.web.auth import create_user

    app = browser.with_maps(sample_app(tmp_path, sample_dir))
    store = app.extensions["gridmap"].store
    create_user(store, "disp", "password123", "dispatcher")
    store.close()
    from gridmap import create_app
    from gridmap.settings import Settings

    app = browser.with_maps(create_app(Settings(db=str(tmp_path / "s.db"), totp_required_roles="dispatcher")))
    try:
        with live_server(app) as base, browser.chromium() as chrome:
            secret = ""  # read from the QR code in the first (wide) round
            for width, height, tag in ((1400, 900, "wide"), (390, 844, "phone")):
                ctx = chrome.new_context(viewport={"width": width, "height": height})
                page = ctx.new_page()
                log = browser.watch(page)
                if tag == "phone":  # enrolled already: password, then the code
                    page.goto(f"{base}/login?next=/board")
                    page.fill("input[name=username]", "disp")
                    page.fill("input[name=password]", "password123")
                    page.click("button[type=submit]")
                    page.wait_for_url("**/login/totp**")
                    assert page.url.startswith(f"{base}/login/totp")
                    browser.screenshot(page, tmp_path, f"totp_code_{tag}.png")
                    page.fill("input[name=code]", "000000" if pyotp.TOTP(secret).now() != "000000" else "111111")
                    page.click("button[type=submit]")
                    page.wait_for_selector("p.bad[role=alert]")
                    assert "验证码不正确" in page.inner_text("p.bad")
                    browser.screenshot(page, tmp_path, f"totp_wrong_{tag}.png")
                    page.fill("input[name=code]", pyotp.TOTP(secret).at(time.time() + 30))  # a later step
                    page.click("button[type=submit]")
                    page.wait_for_url("**/board")
                    page.wait_for_selector(".leaflet-pane", state="attached", timeout=15000)
                    browser.screenshot(page, tmp_path, f"totp_board_{tag}.png")
                    assert log.problems_except("401") == []
                    ctx.close()
                    continue
                page.goto(f"{base}/login?next=/board")
                page.fill("input[name=username]", "disp")
                page.fill("input[name=password]", "password123")
                page.click("button[type=submit]")
                page.wait_for_url("**/account/totp**")
                assert "您的角色必须使用两步验证" in page.inner_text("main")
                shot = browser.screenshot(page, tmp_path, f"totp_enrol_{tag}.png")
                qr = tmp_path / "qr.png"
                page.locator(".qr svg").screenshot(path=str(qr))
                uri = _qr_text(qr)
                secret = pyotp.parse_uri(uri).secret
                assert page.inner_text("code.secret") == secret and uri.startswith("otpauth://totp/gridmap:disp")
                assert shot.exists()
                # not signed in yet: the board sends to /login
                assert page.evaluate("() => fetch('/api/v1/incidents').then(r => r.status)") == 401
                page.fill("input[name=code]", pyotp.TOTP(secret).now())
                page.click("button[type=submit]")
                page.wait_for_selector("ul.codes li")
                assert page.locator("ul.codes li").count() == 10
                browser.screenshot(page, tmp_path, f"totp_recovery_{tag}.png")
                page.click("text=继续 Continue")
                page.wait_for_url("**/board")
                assert page.evaluate("() => fetch('/api/v1/incidents').then(r => r.status)") == 200
                assert log.problems_except("401") == []
                ctx.close()
    finally:
        app.extensions["gridmap"].store.close()
