"""`gridmap print` and /grids/<code>/patrol.pdf: pages, their text, the QR code, the route, bad input.

The PDFs are read back with PyMuPDF (text per page, and pages rendered to PNG); the QR code is
decoded from the rendering with zxing-cpp. PNG renders go to the test's tmp folder and one copy
to /tmp/gridmap-print-check/ for a person to look at.
"""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gridmap import printing
from gridmap.errors import InputError, NotFound
from gridmap.printing import layout, route
from gridmap.printing.data import checkpoints_for
from gridmap.registry.model import Level
from gridmap.registry.validate import ImportSpec
from gridmap.settings import Settings

from .conftest import GRIDS, TOWN, ZONE, fc, feat, square, write_json

pymupdf = pytest.importorskip("pymupdf")
zxingcpp = pytest.importorskip("zxingcpp")

CHECK_DIR = Path("/tmp/gridmap-print-check")
TODAY = dt.date(2026, 3, 2)  # a Monday
TZ = dt.timezone(dt.timedelta(hours=8))


# -- helpers -----------------------------------------------------------------------------------
def pages_text(pdf: bytes) -> list[str]:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        return [p.get_text() for p in doc]


def render_png(pdf: bytes, page: int, dest: Path, dpi: int = 150) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        doc[page].get_pixmap(dpi=dpi).save(str(dest))
    return dest


def keep_for_person(png: Path) -> None:
    CHECK_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, CHECK_DIR / png.name)


def qr_texts(png: Path) -> list[str]:
    from PIL import Image

    with Image.open(png) as im:
        return [r.text for r in zxingcpp.read_barcodes(im.convert("L"))]


def book_for(services, **kw):
    opts = {"today": TODAY}
    opts.update(kw)
    return printing.make_book(services, **opts)


# -- one grid's page ---------------------------------------------------------------------------
def test_grid_page_shows_code_names_staff_and_chinese(services, tmp_path):
    book = book_for(services, grid=GRIDS[0])
    pdf = printing.patrol_pdf(book)
    assert pdf.startswith(b"%PDF")
    [text] = pages_text(pdf)
    for expected in (GRIDS[0], "第1网格", ZONE, "第一管区", TOWN, "东华门街道",  # title, zone, town
                     "网格长", "网格指导员", "网格员", "张伟", "李娜", "王芳",  # the 1+1+N table
                     "13800000001", "13800000002", "13800000003",
                     "管区书记", "赵敏", "13800000007",  # zone contacts
                     GRIDS[1], "第2网格",  # the neighbour, labelled with its code
                     "比例尺 1:", "N 北", "图例 Legend", "本网格", "相邻网格", "巡查路线",
                     "Plan v1", "Printed 2026-03-02", "值班表", "本周无排班",
                     f"http://127.0.0.1:5000/report?grid={GRIDS[0]}"):
        assert expected in text, expected
    assert "�" not in text and "未配置人员" not in text
    # a grid with no open incidents: the legend lists no incident, no key site, no household
    assert "未结事件 open incident" not in text and "重点场所" not in text and "住户" not in text


def test_grid_page_embeds_the_cjk_font_and_renders(services, tmp_path):
    pdf = printing.patrol_pdf(book_for(services, grid=GRIDS[1]))
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        fonts = doc[0].get_fonts()
        spans = [sp for b in doc[0].get_text("dict")["blocks"] for ln in b.get("lines", []) for sp in ln["spans"]]
        assert len(doc) == 1
    embedded = [f for f in fonts if "WenQuanYi" in f[3]]
    assert embedded and all(f[1] == "ttf" and "+" in f[3] for f in embedded)  # TrueType subsets in the file
    assert spans and all("WenQuanYi" in sp["font"] for sp in spans)  # every word is set in it
    assert any(sp["text"].strip() == "刘洋" for sp in spans)
    png = render_png(pdf, 0, tmp_path / "png" / "grid-page.png")
    keep_for_person(png)
    assert png.stat().st_size > 20_000  # a drawn page, not a blank one


def test_qr_code_decodes_to_the_report_url(services, tmp_path):
    book = book_for(services, grid=GRIDS[2], base_url="https://grid.example.gov.cn/")
    png = render_png(printing.patrol_pdf(book), 0, tmp_path / "png" / "qr.png", dpi=200)
    assert f"https://grid.example.gov.cn/report?grid={GRIDS[2]}" in qr_texts(png)


def test_grid_without_staff_says_so(empty_services, sample_dir, tmp_path):
    for level, fname, parent in [("county", "county.geojson", None), ("town", "towns.geojson", "parent_code"),
                                 ("zone", "zones.geojson", "parent_code"), ("grid", "grids.geojson", "parent_code")]:
        empty_services.import_units(sample_dir / fname, ImportSpec(Level(level), parent_field=parent))
    out = tmp_path / "nostaff.pdf"
    printing.write_pdf(book_for(empty_services, grid=GRIDS[0]), out)
    [text] = pages_text(out.read_bytes())
    assert "未配置人员" in text and "No staff assigned" in text and GRIDS[0] in text


def test_open_incidents_roster_and_route(services, tmp_path):

    loop = services.incidents
    loop.clock = lambda: dt.datetime(2026, 3, 1, 10, 0, tzinfo=TZ)
    filed = [loop.report({"category": "exposed_rubbish", "lon": lon, "lat": lat, "description": "垃圾"}).incident
             for lon, lat in [(116.02, 39.02), (116.08, 39.03), (116.05, 39.08), (116.03, 39.06)]]
    assert {i.grid_code for i in filed} == {GRIDS[0]}
    start = dt.datetime(2026, 3, 3, 8, 30, tzinfo=TZ)
    loop.repo.add_shift(GRIDS[0], "P3", start, start + dt.timedelta(hours=9))
    loop.repo.add_shift(GRIDS[0], "P1", start + dt.timedelta(days=9), start + dt.timedelta(days=9, hours=9))
    book = book_for(services, grid=GRIDS[0], incident_repo=loop.repo, taxonomy=loop.taxonomy)
    sheet = book.sheets[0]
    assert len(sheet.checkpoints) == 4 and {c.incident for c in sheet.checkpoints} == {i.id for i in filed}
    pdf = printing.patrol_pdf(book)
    [text] = pages_text(pdf)
    for inc in filed:
        assert f"#{inc.id}" in text
    assert "暴露垃圾" in text and "未结事件" in text and "open incidents (4)" in text
    assert "03-03 周二" in text and "08:30–17:30" in text and "王芳" in text  # the shift this week
    assert "03-11" not in text  # the shift beyond the coming week is not shown
    png = render_png(pdf, 0, tmp_path / "png" / "incidents.png")
    keep_for_person(png)


def test_checkpoints_fall_back_to_the_grid_shape(services):
    sheet = book_for(services, grid=GRIDS[0]).sheets[0]
    assert len(sheet.checkpoints) == 5  # no open incident: centre + 4 boundary points
    labels = sorted(c.label for c in sheet.checkpoints)
    assert labels.count("边界 boundary") == 4 and "中心 centre" in labels
    grid = services.unit(GRIDS[0]).geometry
    assert all(grid.buffer(1e-9).covers(__import__("shapely").Point(c.lon, c.lat)) for c in sheet.checkpoints)
    assert len(sheet.route_path) == 6 and sheet.route_path[0] == sheet.route_path[-1]
    # the 8.65 km x 11.1 km cell: three sides and two half-diagonals to the centre (2 x 7.04 km) = 42.5 km
    assert sheet.route_length_m == pytest.approx(42_480, rel=0.01)
    assert checkpoints_for(sheet)  # the rule is a public, pure function of the sheet


# -- map books ---------------------------------------------------------------------------------
def test_zone_book_has_overview_then_a_page_per_grid_in_code_order(services, tmp_path):
    out = tmp_path / "zone.pdf"
    printing.write_pdf(book_for(services, zone=ZONE), out)
    texts = pages_text(out.read_bytes())
    assert len(texts) == 1 + len(GRIDS)
    with pymupdf.open(out) as doc:  # a book is printed on one paper size (A4 unless --paper)
        assert {round(min(p.rect.width, p.rect.height)) for p in doc} == {595}
    assert "总图与索引" in texts[0] and all(code in texts[0] for code in GRIDS) and "第3网格" in texts[0]
    for page, code in zip(texts[1:], GRIDS):
        assert code in page and f"{texts.index(page) + 1} / 4" in page
    assert "杨磊" in texts[3] and "13800000006" in texts[3]
    town = printing.make_book(services, town=TOWN)
    assert [s.code for s in town.sheets] == GRIDS and town.overview


def test_demo_town_book(tmp_path):
    from gridmap.services import Services

    from .demo_store import demo_settings

    services = Services.open(demo_settings(tmp_path))
    loop = services.incidents
    town = "371403001"
    book = book_for(services, town=town, incident_repo=loop.repo, taxonomy=loop.taxonomy)
    codes = [s.code for s in book.sheets]
    assert codes == sorted(codes) and len(codes) >= 10 and all(c.startswith(town) for c in codes)
    out = tmp_path / "town.pdf"
    printing.write_pdf(book, out)
    pdf = out.read_bytes()
    texts = pages_text(pdf)
    assert len(texts) == 1 + len(codes)
    people = {p.person_id: p for p in services.store.people()}
    for page, sheet in zip(texts[1:], book.sheets):
        assert sheet.code in page and sheet.name in page and "安德街道" in page
        leaders = [r.person_id for r in services.store.roles(sheet.code) if r.role == "leader"]
        for pid in leaders:
            assert people[pid].name in page and people[pid].phone in page
    busiest = max(range(len(book.sheets)), key=lambda i: len(book.sheets[i].incidents))
    png = render_png(pdf, 1 + busiest, tmp_path / "png" / "demo-busiest-grid.png")
    keep_for_person(png)
    keep_for_person(render_png(pdf, 0, tmp_path / "png" / "demo-overview.png"))
    assert qr_texts(render_png(pdf, 1, tmp_path / "png" / "demo-qr.png", dpi=200)) == [
        f"http://127.0.0.1:5000/report?grid={codes[0]}"]
    services.store.close()


# -- bad input ---------------------------------------------------------------------------------
def test_unknown_grid_and_wrong_levels(services):
    with pytest.raises(NotFound, match="no grid with code 'nope'"):
        book_for(services, grid="nope")
    with pytest.raises(InputError, match="is a zone"):
        book_for(services, grid=ZONE)
    with pytest.raises(InputError, match="not a town"):
        book_for(services, town=ZONE)
    with pytest.raises(InputError, match="exactly one of"):
        book_for(services, grid=GRIDS[0], zone=ZONE)
    with pytest.raises(InputError, match="exactly one of"):
        book_for(services)


def test_empty_zone_is_a_clear_error(services, tmp_path):
    write_json(tmp_path / "z2.geojson", fc([feat(square(116.0, 39.0, 116.1, 39.1), code=TOWN + "009",
                                                 name="空管区", parent_code=TOWN)]))
    services.import_units(tmp_path / "z2.geojson", ImportSpec(Level.zone, parent_field="parent_code"))
    with pytest.raises(InputError, match="空管区 has no grids: nothing to print"):
        book_for(services, zone=TOWN + "009")


def test_unwritable_output_leaves_no_file(services, tmp_path, monkeypatch):
    book = book_for(services, grid=GRIDS[0])
    with pytest.raises(InputError, match="does not exist"):
        printing.write_pdf(book, tmp_path / "missing" / "x.pdf")
    with pytest.raises(InputError, match="is a folder"):
        printing.write_pdf(book, tmp_path)
    out = tmp_path / "half.pdf"

    def broken(_book):
        raise RuntimeError("renderer died half-way")

    monkeypatch.setattr(printing, "patrol_pdf", broken)
    with pytest.raises(RuntimeError):
        printing.write_pdf(book, out)
    assert not out.exists() and not list(tmp_path.glob(".half.pdf*"))


# -- the command line --------------------------------------------------------------------------
@pytest.fixture
def cli():
    import gridmap.cli.printing  # noqa: F401  (registers `print` on the main group)
    from gridmap.cli import main

    def run(*args):
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


def test_cli_print_grid_and_book(services, cli, tmp_path):
    db = services.settings.db
    out = tmp_path / "g.pdf"
    r = cli("--db", db, "print", "--grid", GRIDS[1], "--out", out, "--scale", 10000, "--paper", "a3",
            "--orientation", "landscape", "--date", "2026-03-02", "--base-url", "http://10.1.2.3:8080")
    assert r.exit_code == 0, r.output
    assert f"已写入 {out}：1 页，1 个网格" in r.output  # the in-process CLI speaks zh_CN (English after " / ")
    [text] = pages_text(out.read_bytes())
    assert "1:10,000" in text and "A3 横向 landscape" in text and "http://10.1.2.3:8080/report?grid=" in text
    with pymupdf.open(out) as doc:
        assert round(doc[0].rect.width) == 1191 and round(doc[0].rect.height) == 842  # A3 landscape
    book = tmp_path / "book.pdf"
    r = cli("--db", db, "print", "--all", "--out", book)
    assert r.exit_code == 0 and "4 页，3 个网格" in r.output
    assert len(pages_text(book.read_bytes())) == 4


def test_cli_errors_write_nothing(services, cli, tmp_path):
    db = services.settings.db
    out = tmp_path / "x.pdf"
    r = CliRunner().invoke(__import__("gridmap.cli", fromlist=["main"]).main,
                           ["--db", db, "print", "--grid", "371", "--out", str(out)])
    assert r.exit_code == 1 and "no grid with code '371'" in r.output and not out.exists()
    r = cli("--db", db, "print", "--grid", GRIDS[0], "--out", tmp_path / "no" / "x.pdf")
    assert r.exit_code == 1 and "does not exist" in r.output
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".pdf") == []


def test_cli_roads_and_sites(services, cli, tmp_path):
    # a road along the grid's southern and western edges and across the middle
    roads = write_json(tmp_path / "roads.geojson", fc([
        feat({"type": "LineString", "coordinates": [[116.0, 39.0], [116.1, 39.0], [116.1, 39.1], [116.0, 39.1],
                                                     [116.0, 39.0]]}),
        feat({"type": "LineString", "coordinates": [[116.0, 39.05], [116.1, 39.05]]}),
    ]))
    sites = write_json(tmp_path / "sites.geojson", fc([
        feat({"type": "Point", "coordinates": [116.03, 39.03]}, name="村委会", kind="site"),
        feat({"type": "Point", "coordinates": [116.07, 39.07]}, name="卫生室", kind="site"),
        feat({"type": "Point", "coordinates": [116.06, 39.02]}, name="", kind="household"),
    ]))
    out = tmp_path / "r.pdf"
    r = cli("--db", services.settings.db, "print", "--grid", GRIDS[0], "--out", out, "--roads", roads,
            "--sites", sites)
    assert r.exit_code == 0, r.output
    [text] = pages_text(out.read_bytes())
    assert "道路距离 by road" in text and "村委会" in text and "卫生室" in text
    assert "重点场所 key site" in text and "住户 household" in text
    keep_for_person(render_png(out.read_bytes(), 0, tmp_path / "png" / "roads-sites.png"))


# -- the web endpoint --------------------------------------------------------------------------
@pytest.fixture
def web(services):
    from gridmap.app import create_app
    from gridmap.web import printing as web_printing
    from gridmap.web.auth import create_token, create_user

    app = create_app(Settings(db=services.settings.db))
    if "printing" not in app.blueprints:
        app.register_blueprint(web_printing.bp)
    store = app.extensions["gridmap"].store
    create_user(store, "disp", "secret-pass", "dispatcher")
    create_user(store, "worker3", "secret-pass", "staff", "P6")
    tokens = {u: create_token(store, u) for u in ("disp", "worker3")}
    yield app.test_client(), {u: {"Authorization": f"Bearer {t}"} for u, t in tokens.items()}
    store.close()


def test_web_patrol_pdf(web):
    client, auth = web
    r = client.get(f"/grids/{GRIDS[0]}/patrol.pdf", headers=auth["disp"])
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    [text] = pages_text(r.data)
    assert GRIDS[0] in text and "张伟" in text and f"http://localhost/report?grid={GRIDS[0]}" in text
    r = client.get(f"/grids/{GRIDS[0]}/patrol.pdf?paper=A3&orientation=portrait&scale=25000", headers=auth["disp"])
    assert r.status_code == 200 and "1:25,000" in pages_text(r.data)[0]
    assert client.get("/grids/nope/patrol.pdf", headers=auth["disp"]).status_code == 404
    assert client.get(f"/grids/{GRIDS[0]}/patrol.pdf?paper=B5", headers=auth["disp"]).status_code == 422
    assert client.get(f"/grids/{GRIDS[0]}/patrol.pdf").status_code == 401  # names and phones: not public
    assert client.get(f"/grids/{GRIDS[0]}/patrol.pdf", headers=auth["worker3"]).status_code == 403
    assert client.get(f"/grids/{GRIDS[2]}/patrol.pdf", headers=auth["worker3"]).status_code == 200


# -- basemap -----------------------------------------------------------------------------------
def test_basemap_from_local_tiles_and_its_absence(services, tmp_path):
    from PIL import Image, ImageDraw

    from gridmap.printing import tiles

    book = book_for(services, grid=GRIDS[0])
    frame = layout.choose_frame(book.sheets[0].geometry)
    bbox = frame.extent_lonlat()
    z = tiles.choose_zoom(bbox, frame.scale * 0.0254 / 150)
    for _, x, y in tiles.tiles_for(bbox, z):
        im = Image.new("RGB", (256, 256), (200, 220, 200))
        ImageDraw.Draw(im).line([(0, 0), (255, 255)], fill=(90, 90, 90), width=6)
        (tmp_path / "t" / str(z) / str(x)).mkdir(parents=True, exist_ok=True)
        im.save(tmp_path / "t" / str(z) / str(x) / f"{y}.png")
    template = str(tmp_path / "t" / "{z}" / "{x}" / "{y}.png")
    book = book_for(services, grid=GRIDS[0], tiles=template, tile_attribution="测试底图")
    assert book.sheets[0].basemap is not None and not any("basemap" in n for n in book.notes)  # (and the local-QR note)
    pdf = printing.patrol_pdf(book)
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        assert doc[0].get_images()
        assert "底图 basemap: 测试底图" in doc[0].get_text()
    keep_for_person(render_png(pdf, 0, tmp_path / "png" / "basemap.png"))
    offline = book_for(services, grid=GRIDS[0], tiles=str(tmp_path / "none" / "{z}/{x}/{y}.png"))
    assert offline.sheets[0].basemap is None and any("basemap unavailable" in n for n in offline.notes)
    with pymupdf.open(stream=printing.patrol_pdf(offline), filetype="pdf") as doc:
        assert not doc[0].get_images()


# -- pure parts: route and layout --------------------------------------------------------------
def test_route_is_exact_for_small_sets_and_good_for_large():
    rng = np.random.default_rng(7)
    for n in range(2, route.EXACT_MAX + 1):
        d = route.straight_matrix(rng.random((n, 2)) * 1000)
        order = route.shortest_tour(d)
        best = min(route.tour_length(d, (0,) + p) for p in itertools.permutations(range(1, n)))
        assert sorted(order) == list(range(n)) and route.tour_length(d, order) == pytest.approx(best)
    d = route.straight_matrix(rng.random((40, 2)) * 1000)
    order = route.shortest_tour(d)
    assert sorted(order) == list(range(40))
    assert route.tour_length(d, order) <= route.tour_length(d, route._nearest_neighbour(d))


def test_road_distance_follows_the_road():
    # an L-shaped road from (0, 0) to (1000, 0) to (1000, 1000): the two ends are 2 km apart by road
    g = route.RoadGraph([np.array([[0, 0], [1000, 0], [1000, 1000]])])
    d, paths = g.matrix(np.array([[0, 0], [1000, 1000]]))
    assert d[0, 1] == pytest.approx(2000) and (1000, 0) in paths[(0, 1)]
    assert paths[(0, 1)][0] == (0, 0) and paths[(0, 1)][-1] == (1000, 1000)
    # roads that cross without a shared vertex are joined where they cross
    g = route.RoadGraph([np.array([[0, 500], [1000, 500]]), np.array([[500, 0], [500, 1000]])])
    d, _ = g.matrix(np.array([[0, 500], [500, 0]]))
    assert d[0, 1] == pytest.approx(1000)


def test_layout_picks_paper_orientation_and_round_scales():
    from shapely.geometry import box

    assert layout.nice_scale(7300) == 7500 and layout.nice_scale(10000) == 10000 and layout.nice_scale(10001) == 12500
    assert layout.nice_length(740) == 500 and layout.nice_length(2100) == 2000
    wide = layout.choose_frame(box(116.0, 39.0, 116.05, 39.02))
    tall = layout.choose_frame(box(116.0, 39.0, 116.03, 39.05))
    assert (wide.paper, wide.orientation) == ("A4", "landscape") and (tall.paper, tall.orientation) == ("A4", "portrait")
    assert layout.choose_frame(box(116.0, 39.0, 116.2, 39.01)).paper == "A3"  # very elongated
    fixed = layout.choose_frame(box(116.0, 39.0, 116.05, 39.02), scale=10000, paper="A4", orientation="portrait")
    assert fixed.scale == 10000 and not fixed.fits and fixed.orientation == "portrait"


def test_vendored_cjk_font_is_used_without_a_system_copy(monkeypatch):
    """A machine without Debian's fonts-wqy-microhei prints with the copy shipped in the package."""
    from gridmap.printing import fonts

    monkeypatch.setattr(fonts, "SYSTEM_FONTS", ("/nonexistent/wqy-microhei.ttc",))
    found = fonts.find_cjk_font()
    assert found == fonts.VENDORED_FONT and found.stat().st_size > 5_000_000
    licence = found.parent / "LICENSE-Apache-2.0.txt"
    assert "Apache License" in licence.read_text(encoding="utf-8")
    from reportlab.pdfbase.ttfonts import TTFont

    assert TTFont("VendoredCheck", str(found), subfontIndex=0).face.name  # a real TrueType collection


def test_no_font_at_all_names_the_fix(monkeypatch, tmp_path):
    from gridmap.printing import fonts

    monkeypatch.setattr(fonts, "SYSTEM_FONTS", ())
    monkeypatch.setattr(fonts, "VENDORED_FONT", tmp_path / "gone.ttc")
    with pytest.raises(fonts.FontMissing, match="fonts-wqy-microhei"):
        fonts.find_cjk_font()
