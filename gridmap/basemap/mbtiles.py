"""Read raster tiles from an MBTiles file (the SQLite tile package of the MBTiles 1.3 spec).

An MBTiles file stores `tiles(zoom_level, tile_column, tile_row, tile_data)` in TMS order (row 0 at
the south); web maps ask in XYZ order (row 0 at the north): `tile()` takes XYZ and flips the row.
The file is opened read-only (`mode=ro`), one connection per thread; nothing is ever written to it.
Raster formats (PNG, JPEG, WebP) are served as they are; vector tiles (`pbf`) are refused with a
clear message, since the web maps draw raster layers only.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..errors import InputError
from ..i18n import tr

MIME = {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg", "webp": "image/webp"}
MAX_ZOOM = 24


class TileSourceError(InputError):
    """A tile package named in the settings that cannot be used (missing, not MBTiles, vector)."""


def split_sources(setting: str) -> list[str]:
    """The layers of a basemap setting: tile URL templates or tile files, separated by ' | '."""
    return [part.strip() for part in (setting or "").split(" | ") if part.strip()]


def is_tile_file(source: str) -> bool:
    """True when a basemap source names a local tile package rather than a URL template."""
    return source.lower().endswith(".mbtiles") and "{z}" not in source


class MBTiles:
    """One MBTiles file: its metadata, its format and its tiles by XYZ address."""

    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser()
        if not self.path.is_file():
            raise TileSourceError(tr("basemap tile file %(path)s does not exist", path=self.path))
        self._local = threading.local()
        try:
            rows = self._conn().execute("SELECT name, value FROM metadata").fetchall()
            self._conn().execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles LIMIT 0")
        except sqlite3.DatabaseError as exc:
            raise TileSourceError(tr("basemap tile file %(name)s is not an MBTiles package (%(exc)s)", name=self.path.name, exc=exc)) from None
        self.metadata = {str(k): str(v) for k, v in rows}
        fmt = self.metadata.get("format", "png").lower()
        if fmt not in MIME:
            raise TileSourceError(tr("basemap tile file %(name)s holds %(fmt)r tiles; the web maps draw raster tiles (png, jpg, webp) only", name=self.path.name, fmt=fmt))
        self.format, self.mime = fmt, MIME[fmt]
        zooms = self._conn().execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles").fetchone()
        self.minzoom, self.maxzoom = (int(zooms[0]), int(zooms[1])) if zooms[0] is not None else (0, 0)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, check_same_thread=False)
            self._local.conn = conn
        return conn

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """The tile at XYZ address (z, x, y), or None where the package has none."""
        if not (0 <= z <= MAX_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
            return None
        row = self._conn().execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND tile_row = ?",
            (z, x, (2 ** z - 1) - y)).fetchone()
        return bytes(row[0]) if row else None

    @property
    def attribution(self) -> str:
        return self.metadata.get("attribution", "")
