"""Gazetteer storage: named points (EPSG:4326 lon/lat) and a bounded name/code search."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import sqlalchemy as sa

from . import schema


@dataclass(frozen=True)
class Place:
    """One named point of the gazetteer."""

    name: str
    kind: str
    lon: float
    lat: float
    source: str
    code: str | None = None


class PlaceRepo:
    """The `places` table on a store's engine."""

    def __init__(self, store):
        self.store = store

    def add_many(self, places: Sequence[Place], replace_source: bool = False) -> int:
        """Insert places in one transaction; with replace_source, first drop the places of the same source(s)."""
        t = schema.places
        rows = [{"name": p.name, "kind": p.kind, "code": p.code, "lon": p.lon, "lat": p.lat, "source": p.source}
                for p in places]
        with self.store.transaction() as conn:
            if replace_source and rows:
                conn.execute(t.delete().where(t.c.source.in_(sorted({r["source"] for r in rows}))))
            if rows:
                conn.execute(t.insert(), rows)
        return len(rows)

    def search(self, q: str, limit: int) -> list[Place]:
        """Places whose name or code contains `q` (case-insensitive): names starting with it first, then shorter names."""
        t = schema.places
        like = "%" + _escape(q.lower()) + "%"
        starts = sa.case((sa.func.lower(t.c.name).like(_escape(q.lower()) + "%", escape="\\"), 0), else_=1)
        query = (sa.select(t.c.name, t.c.kind, t.c.lon, t.c.lat, t.c.source, t.c.code)
                 .where(sa.or_(sa.func.lower(t.c.name).like(like, escape="\\"),
                               sa.func.lower(sa.func.coalesce(t.c.code, "")).like(like, escape="\\")))
                 .order_by(starts, sa.func.length(t.c.name), t.c.name, t.c.id).limit(limit))
        with self.store.connect() as conn:
            return [Place(r.name, r.kind, float(r.lon), float(r.lat), r.source, r.code) for r in conn.execute(query)]

    def count(self) -> int:
        """How many places the gazetteer holds."""
        with self.store.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(schema.places)).scalar())


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
