"""Offline basemaps: an MBTiles package named in basemap_url is served by the app and drawn."""

from __future__ import annotations

import io
import math
import shutil
import sqlite3
from pathlib import Path

import pytest

from gridmap.basemap import MBTiles, TileSourceError
from gridmap.services import Services
from gridmap.settings import Settings

from . import browser
from .conftest import BOX, GRIDS, sample_store

MAGENTA = (255, 0, 255)


def tile_xy(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = (lon + 180.0) / 360.0 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int(x), int(y)


def png(colour, text: str = "") -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (256, 256), colour)
    if text:
        ImageDraw.Draw(im).text((10, 10), text, fill=(0, 0, 0))
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


def make_mbtiles(path: Path, zooms=range(9, 15), fmt: str = "png", colour=MAGENTA) -> dict:
    """A small MBTiles 1.3 package covering the sample box: {(z, x, y_xyz): bytes}."""
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE metadata (name text, value text)")
    con.execute("CREATE TABLE tiles (zoom_level integer, tile_column integer, tile_row integer, tile_data blob)")
    meta = {"name": "test", "format": fmt, "attribution": "测试瓦片", "minzoom": str(min(zooms)),
            "maxzoom": str(max(zooms)), "bounds": ",".join(map(str, BOX))}
    con.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
    stored = {}
    for z in zooms:
        x0, y0 = tile_xy(BOX[0] - 0.1, BOX[3] + 0.1, z)
        x1, y1 = tile_xy(BOX[2] + 0.1, BOX[1] - 0.1, z)
        for x in range(x0, x1 + 1):
            for y in range(y0, y1 + 1):
                data = png(colour, f"{z}/{x}/{y}")
                con.execute("INSERT INTO tiles VALUES (?, ?, ?, ?)", (z, x, 2 ** z - 1 - y, data))  # TMS row
                stored[(z, x, y)] = data
    con.commit()
    con.close()
    return stored


@pytest.fixture(scope="module")
def package_template(tmp_path_factory):
    """Drawing the package's PNG tiles costs ~2 s of CPU: once per module."""
    path = tmp_path_factory.mktemp("mbtiles") / "lingcheng.mbtiles"
    return path, make_mbtiles(path)


@pytest.fixture
def package(tmp_path, package_template):
    """A private copy of the module's package (a test may read or break its own file)."""
    src, stored = package_template
    path = tmp_path / "lingcheng.mbtiles"
    shutil.copy(src, path)
    return path, dict(stored)


def test_reader_flips_tms_rows_and_reads_metadata(package):
    path, stored = package
    mb = MBTiles(path)
    assert mb.mime == "image/png" and mb.attribution == "测试瓦片" and (mb.minzoom, mb.maxzoom) == (9, 14)
    for (z, x, y), data in list(stored.items())[:20]:
        assert mb.tile(z, x, y) == data
    z, x, y = next(iter(stored))
    assert mb.tile(z, x, 2 ** z - 1 - y) is None  # the TMS row asked as XYZ is elsewhere
    assert mb.tile(3, 99, 0) is None and mb.tile(99, 0, 0) is None  # outside the pyramid


def test_unusable_packages_are_refused_by_name(tmp_path):
    with pytest.raises(TileSourceError, match="does not exist"):
        MBTiles(tmp_path / "nope.mbtiles")
    bad = tmp_path / "bad.mbtiles"
    bad.write_bytes(b"not a database at all" * 100)
    with pytest.raises(TileSourceError, match="bad.mbtiles is not an MBTiles package"):
        MBTiles(bad)
    vec = tmp_path / "vector.mbtiles"
    make_mbtiles(vec, zooms=[10], fmt="pbf")
    with pytest.raises(TileSourceError, match="'pbf' tiles"):
        MBTiles(vec)


def _app(tmp_path, sample_dir, basemap_url, **more):
    from gridmap.app import create_app

    settings = Settings(db=str(tmp_path / "s.db"), basemap_url=basemap_url, **more)
    s = Services.open(sample_store(settings, sample_dir), create=True)
    s.store.close()
    return browser.with_maps(create_app(settings))


def test_app_serves_the_package_and_the_maps_point_at_it(tmp_path, sample_dir, package):
    path, stored = package
    app = _app(tmp_path, sample_dir, f"{path} | http://tiles.internal/labels/{{z}}/{{x}}/{{y}}.png")
    client = app.test_client()
    (z, x, y), data = next(iter(stored.items()))
    r = client.get(f"/basemap/0/{z}/{x}/{y}")
    assert r.status_code == 200 and r.mimetype == "image/png" and r.data == data
    assert "max-age" in r.headers["Cache-Control"]
    assert client.get(f"/basemap/0/{z}/{x}/{2 ** z - 1 - y}").status_code == 204  # no tile there
    assert client.get(f"/basemap/1/{z}/{x}/{y}").status_code == 404  # layer 1 is a URL, not a package
    assert client.get(f"/basemap/0/{z}/{x}/-1").status_code == 404
    page = client.get("/map").get_data(as_text=True)
    assert "/basemap/0/{z}/{x}/{y}" in page and "http://tiles.internal/labels/{z}/{x}/{y}.png" in page
    assert str(path) not in page  # the server's file path is not shown to the browser


def test_a_missing_package_stops_the_app_with_its_name(tmp_path, sample_dir):
    with pytest.raises(TileSourceError, match="gone.mbtiles does not exist"):
        _app(tmp_path, sample_dir, str(tmp_path / "gone.mbtiles"))


def test_gcj02_package_keeps_the_shift(tmp_path, sample_dir, package):
    path, _ = package
    app = _app(tmp_path, sample_dir, str(path), basemap_crs="GCJ-02")
    client = app.test_client()
    assert "/basemap/0/{z}/{x}/{y}" in client.get("/map").get_data(as_text=True)
    fc = client.get("/map/grids.geojson?bbox=116.0,39.0,116.3,39.1&zoom=14").get_json()
    assert fc["frame"] == "GCJ-02" and fc["features"]  # overlays shifted to sit on the package's streets


def test_patrol_print_reads_the_same_package(services, tmp_path, package):
    from .test_printing import book_for  # the printing tests' book builder

    path, _ = package
    book = book_for(services, grid=GRIDS[0], tiles=str(path), tile_attribution="测试瓦片")
    assert book.sheets[0].basemap is not None and not any("basemap" in n for n in book.notes)  # (the local-QR note)
    missing = book_for(services, grid=GRIDS[0], tiles=str(tmp_path / "gone.mbtiles"))
    assert missing.sheets[0].basemap is None and "gone.mbtiles does not exist" in missing.notes[0]


@pytest.mark.slow
def test_map_draws_the_package_tiles_in_chromium(tmp_path, sample_dir, package):
    from PIL import Image

    from .live_server import live_server

    browser.require_browser()
    path, _ = package
    app = _app(tmp_path, sample_dir, str(path), basemap_attr="测试瓦片")
    with live_server(app) as base, browser.chromium() as b:
        page = b.new_page(viewport={"width": 1400, "height": 900})
        log = browser.watch(page)
        tiles = []
        page.on("response", lambda r: tiles.append(r.status) if "/basemap/0/" in r.url else None)
        page.goto(base + "/map", wait_until="load")
        page.wait_for_function("() => document.querySelectorAll('img.leaflet-tile-loaded').length >= 4", timeout=15000)
        page.wait_for_timeout(500)
        shot = browser.screenshot(page, tmp_path, "map-mbtiles.png", full_page=False)
        assert tiles and set(tiles) <= {200, 204} and 200 in tiles
        # Leaflet cancels the loads of tiles it no longer needs while it fits the view: not a failure
        assert [p for p in log.problems() if not ("/basemap/0/" in p and "ERR_ABORTED" in p)] == []
    with Image.open(shot) as im:
        import numpy as np

        rgb = np.asarray(im.convert("RGB").resize((140, 90))).reshape(-1, 3).astype(int)
        # magenta, bare or under the grids' translucent choropleth fill (pink): the page's own background
        # and an undrawn map are grey-blue, which this never counts
        magenta = int(((rgb[:, 0] > 200) & (rgb[:, 2] > 150) & (rgb[:, 1] < rgb[:, 0] - 40)).sum())
    assert magenta > 0.3 * 140 * 90  # the package's magenta tiles fill much of the map
