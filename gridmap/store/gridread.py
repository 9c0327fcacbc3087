"""Read what a GridIndex needs from a SQLite store in one connection, without SQLAlchemy.

The bulk path (`gridmap assign`) is a short-lived process: importing SQLAlchemy, reflecting
the schema and going through its row processing cost more than the query itself. This reads
the same rows as Services._build_index (unit_tree + unit_rows of the index level, the plan in
force chosen by the same rule as store/plans.py) with sqlite3 on a read-only connection,
geometry WKB only for the index level, decoded as it is read. Any other backend returns None: the caller takes the
ordinary store path (which reads PostGIS through the driver cursor already).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely

from ..errors import NotFound, StoreUnavailable
from ..i18n import tr
from ..registry.model import Level
from .base import HEAD_REVISION, UnitRows

# The plan in force on a day, then the first published plan if every one starts later:
# the SQL of store/plans.py (_IN_FORCE, _FIRST_PUBLISHED), written out for sqlite3.
_IN_FORCE = ("SELECT version FROM plans WHERE status = 'published' AND (effective_from IS NULL OR effective_from <= ?) "
             "ORDER BY coalesce(effective_from, '0001-01-01') DESC, version DESC LIMIT 1")
_FIRST_PUBLISHED = "SELECT version FROM plans WHERE status = 'published' ORDER BY effective_from, version LIMIT 1"


@dataclass
class GridSource:
    """The rows GridIndex.build takes: index-level rows with WKB, and every unit's parent."""

    plan: int
    level: Level
    rows: UnitRows  # code, name, level, parent_code of the index level (wkb left empty)
    parents: dict[str, tuple[str | None, Level]]
    geoms: np.ndarray  # the rows' polygons, decoded from WKB, in code order


def sqlite_file(db: str | Path | None) -> Path | None:
    """The file of a SQLite store named by a path or sqlite:/// URL; None for any other URL."""
    text = str(db) if db is not None else "gridmap.db"
    if text.startswith("sqlite:///"):
        return Path(text[len("sqlite:///"):])
    if "://" in text or text.startswith(("postgresql", "sqlite:")):
        return None
    return Path(text).expanduser().resolve()


def plan_key(path: Path, day: dt.date) -> tuple[str, int, int] | None:
    """(store id, plan in force on `day`, its units_rev): the index cache's key; None without plans.

    Raises NotFound without a store, StoreUnavailable on another schema revision.
    """
    con = _open(path)
    try:
        row = con.execute(_IN_FORCE, (day.isoformat(),)).fetchone() or con.execute(_FIRST_PUBLISHED).fetchone()
        if row is None:
            return None
        rev = con.execute("SELECT units_rev FROM plans WHERE version = ?", (row[0],)).fetchone()[0]
        token = con.execute("SELECT token FROM store_id WHERE id = 1").fetchone()
        return (token[0] if token else ""), int(row[0]), int(rev)
    finally:
        con.close()


def _open(path: Path) -> sqlite3.Connection:
    """A read-only connection to a store at this gridmap's schema revision."""
    if not path.exists():
        raise NotFound(tr("no gridmap store at %(path)s: run `gridmap init` or `gridmap demo` first, or pass --db", path=path))
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    con.execute("PRAGMA busy_timeout=10000")
    try:
        revision = con.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.OperationalError:
        revision = None
    if revision is None or revision[0] != HEAD_REVISION:
        con.close()
        raise StoreUnavailable(tr("the store at %(path)s is at schema revision %(v)s, this gridmap needs %(HEAD_REVISION)s: run `gridmap init` to migrate it", path=path, v=revision and revision[0], HEAD_REVISION=HEAD_REVISION))
    return con


def read_grid_source(path: Path, day: dt.date, plan: int | None = None) -> GridSource:
    """Units of the plan in force on `day` (or of `plan`) for the index, from a SQLite file.

    Raises NotFound when there is no store or no units, StoreUnavailable on another schema
    revision (the ordinary store path says the same).
    """
    con = _open(path)
    try:
        if plan is None:
            row = con.execute(_IN_FORCE, (day.isoformat(),)).fetchone() or con.execute(_FIRST_PUBLISHED).fetchone()
            plan = row[0] if row else None
        if plan is None:
            raise NotFound(tr("the store holds no units yet: import some with `gridmap import` or run `gridmap demo`"))
        present = {Level(r[0]) for r in con.execute("SELECT DISTINCT level FROM units WHERE plan = ?", (plan,))}
        if not present:
            raise NotFound(tr("the store holds no units yet: import some with `gridmap import` or run `gridmap demo`"))
        level = Level.grid if Level.grid in present else max(present, key=lambda lv: lv.rank)
        # One pass over the plan's units, WKB only for the index level (the ordinary path
        # reads the tree and then the index level's rows: two passes).
        # WKB is decoded a few thousand rows at a time, so the 160 MB of WKB of 50,000 grids
        # is never held at once beside the polygons (peak memory of the whole job).
        cur = con.execute("SELECT code, name, level, parent_code, CASE WHEN level = ? THEN geom_wkb END "
                          "FROM units WHERE plan = ? ORDER BY code", (level.value, plan))
        parents: dict[str, tuple[str | None, Level]] = {}
        cols: list[list] = [[], [], [], []]
        parts = []
        while batch := cur.fetchmany(5000):
            wkb = []
            for code, name, lv, parent, blob in batch:
                parents[code] = (parent, Level(lv))
                if lv == level.value:
                    for col, v in zip(cols, (code, name, lv, parent)):
                        col.append(v)
                    wkb.append(blob)
            parts.append(shapely.from_wkb(wkb))
    finally:
        con.close()
    geoms = np.concatenate(parts) if parts else np.array([], dtype=object)
    return GridSource(plan, level, UnitRows(cols[0], cols[1], cols[2], cols[3], []), parents, geoms)
