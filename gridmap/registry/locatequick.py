"""`gridmap locate` on a SQLite store the short way: the persisted index, no SQLAlchemy.

A one-point CLI call is all start-up: importing SQLAlchemy and building the index were
nearly all of it. With the index cache warm (indexcache.py) this reads the key with
sqlite3, memory-maps the arrays and tests the point's few candidate grids. Same answer as
Services.locate (same plan in force, same index, same CRS handling); other backends go
through Services.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..settings import Settings
    from .model import Location


def locate_quick(settings: "Settings", lon: float, lat: float, crs: str) -> "tuple[Location, str | None] | None":
    """(Location, name of its grid) for a point in `crs`; None when the store is not a SQLite file."""
    from ..store.gridread import sqlite_file

    if sqlite_file(settings.db) is None:
        return None
    from ..geo import crs as crs_mod
    from .assign import index_for_assign

    lon84, lat84 = crs_mod.point_to_storage(lon, lat, crs)
    index = index_for_assign(settings)
    loc = index.locate(lon84, lat84, nearest_max_m=settings.nearest_max_m)
    name = None
    if loc.grid is not None:
        hits = index.covering(lon84, lat84)
        name = index.names[int(hits[0])]
    return loc, name
