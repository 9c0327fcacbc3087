"""Paged feature queries for the OGC API: bbox, filters, limit and offset pushed into SQL.

Geometry is EPSG:4326 lon/lat. A bbox selects the features whose geometry *intersects* it
(touching its edge counts): the stored bounding-box columns prefilter, then an exact test runs
in the database (PostGIS `ST_Intersects`; on SQLite a Python function registered on the
connection, called only for rows whose bounding box is not wholly inside the query box), so
LIMIT/OFFSET page over exactly the matching rows.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import shapely
import sqlalchemy as sa

from ..incidents.privacy import PUBLIC_DECIMALS
from ..registry.model import Level
from . import schema
from .incidents import db_time, from_db_time, to_db_time
from .sql import unit_from_row

BBox = tuple[float, float, float, float]
UNIT_FILTERS = ("code", "name", "parent_code")
INCIDENT_FILTERS = ("category", "status", "grid_code")
INCIDENT_PUBLIC = ("id", "category", "status", "reported_at", "grid_code", "lon", "lat")


@dataclass(frozen=True)
class Page:
    """One page of features and how many match in all."""

    items: list[Any]
    matched: int


@dataclass(frozen=True)
class PublicIncident:
    """The fields of an incident anyone may see: no reporter, no description, no assignee."""

    id: int
    category: str
    status: str
    reported_at: dt.datetime  # aware UTC
    grid_code: str | None
    lon: float
    lat: float


def plan_dates(store) -> tuple[dt.date | None, dt.date | None]:
    """Earliest and latest effective_from of the published plans (the temporal extent)."""
    p = schema.plans
    q = sa.select(sa.func.min(p.c.effective_from), sa.func.max(p.c.effective_from)).where(p.c.status == "published")
    with store.connect() as conn:
        lo, hi = conn.execute(q).one()
    return _as_date(lo), _as_date(hi)


def _as_date(v) -> dt.date | None:
    if v is None or isinstance(v, dt.date):
        return v
    return dt.date.fromisoformat(str(v)[:10])


def units_page(store, level: Level, bbox: BBox | None = None, offset: int = 0, limit: int = 10,
               plan: int | None = None, filters: Mapping[str, str] | None = None) -> Page:
    """Units of one level in code order: rows offset..offset+limit of those matching, and the count."""
    plan = plan if plan is not None else store.current_plan()
    if plan is None:
        return Page([], 0)
    t = schema.units
    where = [t.c.plan == plan, t.c.level == Level(level).value]
    for name, value in (filters or {}).items():
        if name not in UNIT_FILTERS:
            raise ValueError(f"not a unit queryable: {name!r}")
        where.append(t.c[name] == value)
    with store.connect() as conn:
        if bbox is not None:
            where.append(_bbox_clause(conn, store.backend, bbox))
        matched = conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar()
        rows = conn.execute(sa.select(t).where(*where).order_by(t.c.code).offset(offset).limit(limit)).mappings().all()
    geoms = shapely.from_wkb([r["geom_wkb"] for r in rows]) if rows else []
    return Page([unit_from_row(r, g) for r, g in zip(rows, geoms)], matched)


def units_extent(store, level: Level, plan: int | None = None) -> BBox | None:
    """The bounding box of every unit of a level in a plan (None if there are none)."""
    plan = plan if plan is not None else store.current_plan()
    t = schema.units
    q = (sa.select(sa.func.min(t.c.minx), sa.func.min(t.c.miny), sa.func.max(t.c.maxx), sa.func.max(t.c.maxy))
         .where(t.c.plan == plan, t.c.level == Level(level).value))
    with store.connect() as conn:
        box = conn.execute(q).one()
    return None if box[0] is None else (float(box[0]), float(box[1]), float(box[2]), float(box[3]))


def unit_levels_present(store, plan: int | None = None) -> list[Level]:
    """The levels that have at least one unit in the plan (default: the plan in force)."""
    plan = plan if plan is not None else store.current_plan()
    t = schema.units
    with store.connect() as conn:
        found = {r[0] for r in conn.execute(sa.select(t.c.level).where(t.c.plan == plan).distinct())}
    return [lv for lv in Level if lv.value in found]


def incidents_page(store, bbox: BBox | None = None, offset: int = 0, limit: int = 10,
                   start: dt.datetime | None = None, end: dt.datetime | None = None,
                   filters: Mapping[str, str] | None = None, ids: Sequence[int] | None = None) -> Page:
    """Public incident fields by id: those reported in [start, end] inside `bbox` (a point on its edge counts)."""
    t = schema.incidents
    where = []
    for name, value in (filters or {}).items():
        if name not in INCIDENT_FILTERS:
            raise ValueError(f"not an incident queryable: {name!r}")
        where.append(t.c[name] == value)
    if ids is not None:
        where.append(t.c.id.in_(list(ids)))
    if start is not None:
        where.append(t.c.reported_at >= to_db_time(start))
    if end is not None:
        where.append(t.c.reported_at <= to_db_time(end))
    if bbox is not None:
        where.append(sa.or_(*[sa.and_(t.c.lon >= b[0], t.c.lon < b[2], t.c.lat >= b[1], t.c.lat < b[3])
                              for b in _split(bbox) for b in [public_bbox(b)]]))
    cols = [t.c[name] for name in INCIDENT_PUBLIC]
    with store.connect() as conn:
        matched = conn.execute(sa.select(sa.func.count()).select_from(t).where(*where)).scalar()
        rows = conn.execute(sa.select(*cols).where(*where).order_by(t.c.id).offset(offset).limit(limit)).all()
    return Page([PublicIncident(r[0], r[1], r[2], db_time(r[3]), r[4], r[5], r[6]) for r in rows], matched)


def incidents_extent(store) -> tuple[BBox | None, tuple[dt.datetime | None, dt.datetime | None]]:
    """The bounding box of every incident location (public precision: rounding is monotonic, so
    the rounded extremes are the extremes of the public points) and the first and last report time."""
    t = schema.incidents
    q = sa.select(sa.func.min(t.c.lon), sa.func.min(t.c.lat), sa.func.max(t.c.lon), sa.func.max(t.c.lat),
                  sa.func.min(t.c.reported_at), sa.func.max(t.c.reported_at))
    with store.connect() as conn:
        r = conn.execute(q).one()
    box = None if r[0] is None else tuple(round(float(v), PUBLIC_DECIMALS) for v in r[:4])
    return box, (_db_time(r[4]), _db_time(r[5]))  # type: ignore[return-value]


def _db_time(v) -> dt.datetime | None:
    if v is None:
        return None
    if not isinstance(v, dt.datetime):  # SQLite aggregates come back as text
        v = dt.datetime.fromisoformat(str(v))
    return from_db_time(v)


def public_bbox(b: BBox) -> BBox:
    """The exact-coordinate box [x0, x1) x [y0, y1) of the points whose *public* (rounded, see
    incidents/privacy.py) position lies in ``b``: a bbox filter answers on what the public sees,
    so narrowing boxes cannot find a point more exactly than its rounded position shows."""
    step = 10.0 ** -PUBLIC_DECIMALS

    def lo(v: float) -> float:
        return math.ceil(round(v / step, 6)) * step - step / 2

    def hi(v: float) -> float:
        return math.floor(round(v / step, 6)) * step + step / 2

    return lo(b[0]), lo(b[1]), hi(b[2]), hi(b[3])


def _split(bbox: BBox) -> list[BBox]:
    """A bbox crossing the antimeridian (minx > maxx, as OGC allows) as two boxes."""
    x0, y0, x1, y1 = bbox
    return [(x0, y0, 180.0, y1), (-180.0, y0, x1, y1)] if x0 > x1 else [bbox]


def _bbox_clause(conn, backend: str, bbox: BBox):
    t = schema.units
    parts = []
    for x0, y0, x1, y1 in _split(bbox):
        overlaps = sa.and_(t.c.minx <= x1, t.c.maxx >= x0, t.c.miny <= y1, t.c.maxy >= y0)
        if backend == "postgresql":
            exact: Any = sa.func.ST_Intersects(sa.literal_column("units.geom"), sa.func.ST_MakeEnvelope(x0, y0, x1, y1, 4326))
            parts.append(sa.and_(overlaps, exact))
            continue
        _register_sqlite_intersects(conn)
        inside = sa.and_(t.c.minx >= x0, t.c.maxx <= x1, t.c.miny >= y0, t.c.maxy <= y1)
        exact = sa.func.gm_intersects_box(t.c.geom_wkb, x0, y0, x1, y1) == 1
        # Only rows straddling the box edge pay for parsing their WKB.
        parts.append(sa.and_(overlaps, sa.or_(inside, exact)))
    return sa.or_(*parts)


def _intersects_box(wkb: bytes, x0: float, y0: float, x1: float, y1: float) -> int:
    return int(shapely.intersects(shapely.from_wkb(wkb), shapely.box(x0, y0, x1, y1)))


def _register_sqlite_intersects(conn) -> None:
    # Registering costs microseconds; pooled connections keep it, new ones need it.
    conn.connection.driver_connection.create_function("gm_intersects_box", 5, _intersects_box, deterministic=True)
