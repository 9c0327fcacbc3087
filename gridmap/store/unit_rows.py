"""A plan's units as rows without geometry (code, name, parent, households): the planner's balance table.

Reading 5,000 grids' shapes only to count their households cost the planner page most of its
open time; this reads the four columns it needs.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..registry.model import Level
from . import schema


def unit_rows(store, plan: int, level: Level = Level.grid) -> list[dict]:
    """[{code, name, parent_code, households}] of a plan's units of one level, in code order."""
    t = schema.units
    q = (sa.select(t.c.code, t.c.name, t.c.parent_code, t.c.households)
         .where(t.c.plan == int(plan), t.c.level == Level(level).value).order_by(t.c.code))
    with store.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
