"""The patrol PDF for print shops and PDF/A preflight: every font embedded, every role label
bilingual, and a warning wherever a QR code would point at this machine only (no public_url).

Fonts are read back with PyMuPDF (`page.get_fonts()` and the font objects themselves); pages
are rendered to PNG (copies in /tmp/gridmap-print-check/ for a person to look at).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from click.testing import CliRunner

from gridmap import printing
from gridmap.printing.localurl import local_host
from gridmap.settings import Settings

from .conftest import GRIDS, ZONE
from .test_printing import keep_for_person, pages_text, qr_texts, render_png

pymupdf = pytest.importorskip("pymupdf")

TODAY = dt.date(2026, 3, 2)


def font_report(pdf: bytes) -> list[tuple[str, str, bool]]:
    """(BaseFont, Subtype, has an embedded font program) of every font object in the file."""
    out = []
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        for xref in range(1, doc.xref_length()):
            if doc.xref_get_key(xref, "Type") != ("name", "/Font"):
                continue
            subtype = doc.xref_get_key(xref, "Subtype")[1]
            base = doc.xref_get_key(xref, "BaseFont")[1]
            if subtype == "/Type0":  # the program sits in the descendant CID font's descriptor
                continue
            desc = doc.xref_get_key(xref, "FontDescriptor")
            embedded = False
            if desc[0] == "xref":
                d = int(desc[1].split()[0])
                embedded = any(doc.xref_get_key(d, k)[0] == "xref" for k in ("FontFile", "FontFile2", "FontFile3"))
            out.append((base, subtype, embedded))
    return out


def assert_all_fonts_embedded(pdf: bytes) -> None:
    fonts = font_report(pdf)
    assert fonts, "no font objects at all"
    assert all(embedded for _, _, embedded in fonts), fonts
    assert not any("Helvetica" in base for base, _, _ in fonts), fonts
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        for page in doc:
            for xref, ext, ftype, name, _ref, _enc in page.get_fonts():
                assert ext != "n/a" and ftype != "Type1" and "+" in name, (page.number, name, ftype, ext)


@pytest.mark.parametrize("kw", [
    {"grid": GRIDS[0]},
    {"grid": GRIDS[1], "paper": "A3", "orientation": "landscape"},
    {"zone": ZONE},
], ids=["a4-portrait", "a3-landscape", "zone-book"])
def test_every_font_is_embedded(services, kw):
    pdf = printing.patrol_pdf(printing.make_book(services, today=TODAY, **kw))
    assert_all_fonts_embedded(pdf)


def test_role_labels_are_bilingual_in_both_layouts(services, tmp_path):
    for kw, name in [({}, "roles-portrait"), ({"paper": "A3", "orientation": "landscape"}, "roles-landscape")]:
        book = printing.make_book(services, grid=GRIDS[0], today=TODAY, **kw)
        pdf = printing.patrol_pdf(book)
        text = " ".join(pages_text(pdf)[0].split())
        for zh, en in [("网格长", "leader"), ("网格指导员", "instructor"), ("网格员", "worker"),
                       ("管区书记", "zone secretary"), ("管区主任", "zone director")]:
            assert f"{zh} {en}" in text, (name, zh, en)
        keep_for_person(render_png(pdf, 0, tmp_path / f"{name}.png"))


def test_local_qr_code_warns_on_stderr_chinese_first_and_on_the_page(services, tmp_path):
    from gridmap.cli import main

    out = tmp_path / "local.pdf"
    r = CliRunner().invoke(main, ["--db", services.settings.db, "print", "--grid", GRIDS[0], "--out", str(out),
                                  "--date", "2026-03-02"])
    assert r.exit_code == 0, r.output
    assert "二维码指向本机地址 127.0.0.1" in r.stderr and "public_url" in r.stderr
    assert r.stderr.index("二维码") < r.stderr.index("The QR code points at 127.0.0.1")  # Chinese first
    assert "警告" not in r.stdout and f"wrote {out}" in r.stdout  # the warning is on stderr only
    pdf = out.read_bytes()
    text = pages_text(pdf)[0]
    assert "本机地址 127.0.0.1，扫码无法打开" in text and "local address: set public_url" in text
    png = render_png(pdf, 0, tmp_path / "local-qr.png", dpi=200)
    keep_for_person(png)
    assert qr_texts(png) == [f"http://127.0.0.1:5000/report?grid={GRIDS[0]}"]  # the warning keeps the code readable

    out2 = tmp_path / "public.pdf"
    r = CliRunner().invoke(main, ["--db", services.settings.db, "print", "--grid", GRIDS[0], "--out", str(out2),
                                  "--base-url", "https://grid.example.gov.cn"])
    assert r.exit_code == 0 and "二维码" not in r.stderr and "public_url" not in r.stderr
    assert "本机地址" not in pages_text(out2.read_bytes())[0]


def test_web_print_warns_without_public_url(services):
    from gridmap.app import create_app
    from gridmap.web.auth import create_token, create_user

    for public_url in ("", "https://grid.example.gov.cn"):
        app = create_app(Settings(db=services.settings.db, public_url=public_url))
        store = app.extensions["gridmap"].store
        try:
            if public_url == "":
                create_user(store, "disp", "secret-pass", "dispatcher")
            auth = {"Authorization": f"Bearer {create_token(store, 'disp')}"}
            c = app.test_client()
            r = c.get(f"/grids/{GRIDS[0]}/patrol.pdf", headers=auth)
            page = c.get(f"/grids/{GRIDS[0]}").get_data(as_text=True)
        finally:
            store.close()
        assert r.status_code == 200
        if public_url:
            assert "Warning" not in r.headers and 'id="patrol-qr-warning"' not in page
            assert "本机地址" not in pages_text(r.data)[0]
        else:
            assert re.fullmatch(r'299 gridmap "QR code points at localhost, .*public_url.*"', r.headers["Warning"])
            assert "本机地址 localhost" in pages_text(r.data)[0]
            assert 'id="patrol-qr-warning"' in page and "未设置 public_url" in page and "localhost" in page


@pytest.mark.parametrize("url, host", [
    ("http://127.0.0.1:5000", "127.0.0.1"), ("http://localhost/", "localhost"), ("http://LOCALHOST.:8080", "localhost"),
    ("http://[::1]:5000/", "::1"), ("http://127.1.2.3", "127.1.2.3"), ("http://0.0.0.0:5000", "0.0.0.0"),
    ("http://app.localhost", "app.localhost"),
    ("https://grid.example.gov.cn/", None), ("http://10.1.2.3:8080", None), ("http://192.168.1.5", None),
    ("http://[", None),
])
def test_local_host(url, host):
    assert local_host(url) == host


@pytest.mark.slow
def test_grid_page_warning_in_chromium_at_desktop_and_phone_width(tmp_path, sample_dir):
    """What a person sees: the warning by the patrol-map link, readable and inside the page at both widths."""
    from . import browser
    from .conftest import sample_app
    from .live_server import live_server

    browser.require_browser()
    app = browser.with_maps(sample_app(tmp_path, sample_dir))
    try:
        with live_server(app) as base, browser.chromium() as chrome:
            for w, h, name in [(1400, 900, "desktop"), (390, 844, "phone")]:
                page = chrome.new_page(viewport={"width": w, "height": h})
                log = browser.watch(page)
                page.goto(f"{base}/grids/{GRIDS[0]}", wait_until="load")
                warn = page.locator("#patrol-qr-warning")
                assert warn.is_visible()
                assert "127.0.0.1" in warn.inner_text() and "public_url" in warn.inner_text()
                box = warn.bounding_box()
                assert box["x"] >= 0 and box["x"] + box["width"] <= w + 1, box  # wraps, no sideways scroll
                assert "网格长 leader" in " ".join(page.locator("table.gm-team").inner_text().split())
                browser.screenshot(page, tmp_path, f"grid-page-qr-warning-{name}.png", full_page=False)
                assert log.problems() == [], log.problems()
                page.close()
    finally:
        app.extensions["gridmap"].store.close()
