"""An optional basemap from an XYZ tile source (web-mercator `{z}/{x}/{y}` tiles).

The source is a URL template (`http://tiles.example/{z}/{x}/{y}.png`, `file:///srv/tiles/...`)
or a local path template. Tiles are stitched with Pillow, turned grey and faded, so the map's
own lines stay readable in black and white. A tile that cannot be read leaves the page without
a basemap and a note for the caller: the page never depends on the network.
"""

from __future__ import annotations

import io
import math
import urllib.request
from functools import lru_cache
from pathlib import Path

from .model import Basemap

MAX_TILES = 64
TILE = 256


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[float, float]:
    """Fractional tile coordinates of a point at zoom z."""
    n = 2 ** z
    lat = max(min(lat, 85.0511), -85.0511)
    x = (lon + 180.0) / 360.0 * n
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return x, y


def tile_to_lonlat(x: float, y: float, z: int) -> tuple[float, float]:
    n = 2 ** z
    lon = x / n * 360.0 - 180.0
    lat = math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y / n))))
    return lon, lat


def choose_zoom(bbox: tuple[float, float, float, float], metres_per_px: float) -> int:
    """The zoom whose resolution is just finer than `metres_per_px`, capped so at most MAX_TILES are needed."""
    lat = (bbox[1] + bbox[3]) / 2
    z = int(math.ceil(math.log2(156543.03 * math.cos(math.radians(lat)) / max(metres_per_px, 0.01))))
    z = max(0, min(z, 19))
    while z > 0 and len(tiles_for(bbox, z)) > MAX_TILES:
        z -= 1
    return z


def tiles_for(bbox: tuple[float, float, float, float], z: int) -> list[tuple[int, int, int]]:
    """(z, x, y) of every tile covering a lon/lat box."""
    x0, y0 = lonlat_to_tile(bbox[0], bbox[3], z)
    x1, y1 = lonlat_to_tile(bbox[2], bbox[1], z)
    return [(z, x, y) for y in range(int(y0), int(y1) + 1) for x in range(int(x0), int(x1) + 1)]


@lru_cache(maxsize=8)
def _package(path: str):
    from ..basemap import MBTiles

    return MBTiles(path)


def _read(template: str, z: int, x: int, y: int, timeout: float) -> bytes:
    from ..basemap import TileSourceError, is_tile_file

    if is_tile_file(template):  # an MBTiles package, as the web maps' basemap_url may name
        try:
            data = _package(template).tile(z, x, y)
        except TileSourceError as exc:
            raise OSError(str(exc)) from None
        if data is None:
            raise OSError(f"{Path(template).name} has no tile {z}/{x}/{y}")
        return data
    url = template.format(z=z, x=x, y=y)
    if "://" in url:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 (the planner's own source)
            return resp.read()
    return Path(url).read_bytes()


def fetch_basemap(template: str, bbox: tuple[float, float, float, float], metres_per_px: float,
                  attribution: str = "", timeout: float = 10.0) -> Basemap:
    """Stitch the tiles covering `bbox` into one faded greyscale PNG with its corner positions.

    Raises OSError (or ValueError for an unreadable image) when a tile cannot be had.
    """
    from PIL import Image, ImageEnhance

    z = choose_zoom(bbox, metres_per_px)
    tiles = tiles_for(bbox, z)
    xs = sorted({t[1] for t in tiles})
    ys = sorted({t[2] for t in tiles})
    mosaic = Image.new("L", (len(xs) * TILE, len(ys) * TILE), 255)
    for _, x, y in tiles:
        with Image.open(io.BytesIO(_read(template, z, x, y, timeout))) as im:
            tile = im.convert("L").resize((TILE, TILE))
        mosaic.paste(tile, ((x - xs[0]) * TILE, (y - ys[0]) * TILE))
    faded = ImageEnhance.Brightness(ImageEnhance.Contrast(mosaic).enhance(0.55)).enhance(1.25)
    buf = io.BytesIO()
    faded.save(buf, format="PNG", optimize=True)
    tl = tile_to_lonlat(xs[0], ys[0], z)
    tr = tile_to_lonlat(xs[-1] + 1, ys[0], z)
    bl = tile_to_lonlat(xs[0], ys[-1] + 1, z)
    return Basemap(buf.getvalue(), (tl, tr, bl), attribution)
