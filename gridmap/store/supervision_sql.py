"""Supervision lists in SQL: overdue and nearly-due open incidents, filtered and paged by the database.

The rules are ``gridmap.incidents.metrics.overdue`` / ``due_soon`` (filed, open at ``now``):

    overdue   status in the filed-and-open statuses, merged_into IS NULL, due_at <  now
    due_soon  the same with                          now < due_at <= horizon

both ordered by due_at then id, each with its total so a page can say "100 of 4,210".
Backed by ix_incidents_status_due (migration 0006).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from . import schema
from .incidents import to_db_time

FILED_OPEN = ("filed", "dispatched", "in_progress", "handled", "verified")  # OPEN_STATUSES less `reported`


def _where(zone_code: str | None, grid_codes: Sequence[str] | None, within_units: Sequence[str] | None) -> list:
    t = schema.incidents
    conds: list[Any] = [t.c.status.in_(FILED_OPEN), t.c.merged_into.is_(None)]
    if zone_code:
        conds.append(t.c.zone_code == zone_code)
    if grid_codes is not None:
        conds.append(t.c.grid_code.in_(list(grid_codes)))
    if within_units is not None:  # staff: only incidents whose grid or zone is one of their units
        units = list(within_units)
        conds.append(sa.or_(t.c.grid_code.in_(units), t.c.zone_code.in_(units)))
    return conds


def lists(conn, now: dt.datetime, horizon: dt.datetime, limit: int, offset: int = 0,
          zone_code: str | None = None, grid_codes: Sequence[str] | None = None,
          within_units: Sequence[str] | None = None) -> dict:
    """{"overdue": rows, "due_soon": rows, "overdue_total": n, "due_soon_total": n} (rows: mappings)."""
    t = schema.incidents
    base = _where(zone_code, grid_codes, within_units)
    at, until = to_db_time(now), to_db_time(horizon)
    windows = {"overdue": [t.c.due_at < at], "due_soon": [t.c.due_at > at, t.c.due_at <= until]}
    out: dict = {}
    for name, cond in windows.items():
        q = sa.select(t).where(*base, *cond).order_by(t.c.due_at, t.c.id).limit(limit).offset(offset)
        out[name] = list(conn.execute(q).mappings())
        out[f"{name}_total"] = conn.execute(sa.select(sa.func.count()).select_from(t).where(*base, *cond)).scalar()
    return out
