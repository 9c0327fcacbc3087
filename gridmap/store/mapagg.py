"""The overview map's incident aggregates in SQL: how many match, per grid, per map cell.

Beyond a threshold the map draws counts instead of markers (web/maps_pages.py), so the page
and /map.json stay the same size whatever the history holds. A cell is a square of ``cell``
degrees (lon/lat, WGS84) keyed by ``floor(lon / cell), floor(lat / cell)``; its point is the
mean position of its incidents (where they are, not the square's centre). Same statements on
SQLite and PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
from typing import Sequence

import sqlalchemy as sa

from . import schema
from .incidents import to_db_time

_T = schema.incidents


def _where(status: Sequence[str] | None = None, start: dt.datetime | None = None, end: dt.datetime | None = None,
           category: str | Sequence[str] | None = None, zone_code: str | None = None,
           grid_code: str | None = None) -> list:
    out = []
    if grid_code:
        out.append(_T.c.grid_code == grid_code)
    if status:
        out.append(_T.c.status.in_(list(status)))
    if start is not None:
        out.append(_T.c.reported_at >= to_db_time(start))
    if end is not None:
        out.append(_T.c.reported_at < to_db_time(end))
    if isinstance(category, str) and category:
        out.append(_T.c.category == category)
    elif category:
        out.append(_T.c.category.in_(list(category)))
    if zone_code:
        out.append(_T.c.zone_code == zone_code)
    return out


class MapAggregates:
    """Counts of the incidents a map filter selects (keyword arguments as IncidentRepo.query's)."""

    def __init__(self, store):
        self.store = store

    def count(self, **filters) -> int:
        """How many incidents match."""
        q = sa.select(sa.func.count()).select_from(_T).where(*_where(**filters))
        with self.store.connect() as conn:
            return conn.execute(q).scalar()

    def per_grid(self, **filters) -> dict[str, int]:
        """grid code -> incidents matching (incidents outside every grid are left out)."""
        q = (sa.select(_T.c.grid_code, sa.func.count()).where(_T.c.grid_code.is_not(None), *_where(**filters))
             .group_by(_T.c.grid_code))
        with self.store.connect() as conn:
            return dict(conn.execute(q).all())

    def cells(self, cell: float, **filters) -> list[tuple[float, float, int]]:
        """(lat, lon, count) per non-empty cell of ``cell`` degrees, the point being its incidents' mean."""
        cx = sa.cast(sa.func.floor(_T.c.lon / cell), sa.Integer)
        cy = sa.cast(sa.func.floor(_T.c.lat / cell), sa.Integer)
        q = (sa.select(sa.func.avg(_T.c.lat), sa.func.avg(_T.c.lon), sa.func.count())
             .where(*_where(**filters)).group_by(cx, cy).order_by(cx, cy))
        with self.store.connect() as conn:
            return [(round(float(a), 6), round(float(b), 6), int(n)) for a, b, n in conn.execute(q).all()]
