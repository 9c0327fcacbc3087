"""GET /basemap/<layer>/<z>/<x>/<y>: tiles of the local tile packages named in `basemap_url`.

`basemap_url` may name MBTiles files instead of (or beside) tile server URLs, e.g.
`/srv/tiles/lingcheng.mbtiles` or `/srv/tiles/streets.mbtiles | /srv/tiles/labels.mbtiles`. The
packages are opened once when the app starts (a missing or unusable file stops the start with a
message naming it); the maps then load their tiles from this route, with no tile server installed.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, url_for

from ..basemap import MBTiles, is_tile_file, split_sources

bp = Blueprint("basemap", __name__)
EXTENSION = "gridmap.basemap"


def open_packages(settings) -> dict[int, MBTiles]:
    """The tile packages of `basemap_url`, by layer position (URL layers are not in the dict)."""
    return {i: MBTiles(src) for i, src in enumerate(split_sources(settings.basemap_url)) if is_tile_file(src)}


def basemap_setting(settings) -> str | None:
    """`basemap_url` as the browser uses it: each tile package replaced by this app's tile route."""
    sources = split_sources(settings.basemap_url)
    if not sources:
        return None
    out = []
    for i, src in enumerate(sources):
        if is_tile_file(src):
            base = url_for("basemap.tile", layer=i, z=0, x=0, y=0)
            src = base[: -len("/0/0/0")] + "/{z}/{x}/{y}"
        out.append(src)
    return " | ".join(out)


@bp.get("/basemap/<int:layer>/<int:z>/<int:x>/<int:y>")
def tile(layer: int, z: int, x: int, y: int) -> Response:
    """One tile; 204 (no content) where the package has none, so the map just shows no tile there."""
    package = current_app.extensions.get(EXTENSION, {}).get(layer)
    if package is None:
        abort(404)
    data = package.tile(z, x, y)
    if data is None:
        return Response(status=204, headers={"Cache-Control": "public, max-age=3600"})
    return Response(data, mimetype=package.mime, headers={"Cache-Control": "public, max-age=86400"})
