"""Block-assignment files: a plan as `unit_code,grid_code` of the micro-grids it is built from.

The exchange format of redistricting tools (DistrictBuilder, Dave's Redistricting, QGIS
Redistricting: "block equivalency" files): one row per smallest unit, naming the grid it is
in. Here the smallest units are the plan's micro-grids (微网格, level micro, each a child of one
grid). Export writes every micro-grid of a plan; import reads such a file and builds a draft
whose grids are the unions of their micro-grids, as one edit "blocks" (undoable, in the log).

Validation names rows (row 1 is the header): unknown unit codes, a unit listed twice, units
of the plan missing from the file, empty grid codes, a grid code that names a zone or a town,
a grid whose micro-grids are not one piece or lie in two zones. Nothing is written unless the
whole file is right. A grid of the base plan that no row names any more is removed; a new grid
code gets the zone its micro-grids are in. Households and population of a grid are the sums of
its micro-grids' (unknown if one of them is unknown).
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from dataclasses import replace
from typing import Iterable, Sequence

import shapely

from ..errors import InputError
from ..i18n import tr
from ..io.csvsafe import escape_cell
from ..registry.model import Level, Unit
from .edits import EditResult, with_geometry
from .shapes import parts, polygonal

HEADER = ("unit_code", "grid_code")
MAX_ROWS = 500_000
MAX_REPORTED = 50


def export_csv(units: Iterable[Unit]) -> str:
    """`unit_code,grid_code` of every micro-grid, in code order (CSV, UTF-8, CRLF as RFC 4180)."""
    micros = sorted((u for u in units if u.level == Level.micro), key=lambda u: u.code)
    if not micros:
        raise InputError(tr("The plan has no micro-grids: a block-assignment file lists the micro-grids each grid is built from."))
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(HEADER)
    for u in micros:
        w.writerow([escape_cell(u.code), escape_cell(u.parent_code or "")])
    return out.getvalue()


def read_csv(text: str) -> list[tuple[int, str, str]]:
    """(row number, unit_code, grid_code) of a block-assignment file; InputError naming bad rows."""
    text = text.lstrip("\ufeff")
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise InputError(tr("the block-assignment file is empty: header unit_code,grid_code")) from None
    except csv.Error as exc:
        raise InputError(tr("row 1: not CSV (%(exc)s)", exc=exc)) from None
    if "unit_code" not in header or "grid_code" not in header:
        raise InputError(tr("row 1: the header must name unit_code and grid_code, got %(v)s", v=",".join(header)[:200]))
    iu, ig = header.index("unit_code"), header.index("grid_code")
    rows, problems = [], []
    try:
        for n, rec in enumerate(reader, start=2):
            if not any(c.strip() for c in rec):
                continue
            if len(rows) >= MAX_ROWS:
                raise InputError(tr("row %(n)s: at most %(MAX_ROWS)s rows", n=n, MAX_ROWS=format(MAX_ROWS, ",")))
            unit = _unescape(rec[iu]) if len(rec) > iu else ""
            grid = _unescape(rec[ig]) if len(rec) > ig else ""
            if not unit:
                problems.append(tr("row %(n)s: unit_code is empty", n=n))
            if not grid:
                problems.append(tr("row %(n)s: grid_code is empty (unit %(v)s)", n=n, v=unit or "?"))
            rows.append((n, unit, grid))
    except csv.Error as exc:
        raise InputError(tr("row %(line_num)s: not CSV (%(exc)s)", line_num=reader.line_num, exc=exc)) from None
    _refuse(problems)
    return rows


def build(units: Sequence[Unit], rows: Sequence[tuple[int, str, str]]) -> tuple[EditResult, dict]:
    """The edit that makes the plan's grids the unions of the micro-grids the rows give them."""
    by_code = {u.code: u for u in units}
    micros = {u.code: u for u in units if u.level == Level.micro}
    if not micros:
        raise InputError(tr("the plan has no micro-grids: nothing to build grids from"))
    grids = {u.code: u for u in units if u.level == Level.grid}
    problems, seen, wanted = [], {}, defaultdict(list)
    for n, unit, grid in rows:
        if unit in seen:
            problems.append(tr("row %(n)s: %(unit)s is listed twice (also row %(v)s)", n=n, unit=unit, v=seen[unit]))
            continue
        seen[unit] = n
        if unit not in micros:
            problems.append(tr("row %(n)s: unknown unit code %(unit)s (a %(level)s, not a micro-grid)", n=n, unit=unit,
                               level=by_code[unit].level.value) if unit in by_code else
                            tr("row %(n)s: unknown unit code %(unit)s (no such micro-grid in the plan)", n=n, unit=unit))
            continue
        if grid in by_code and by_code[grid].level != Level.grid:
            problems.append(tr("row %(n)s: grid_code %(grid)s is a %(value)s, not a grid", n=n, grid=grid, value=by_code[grid].level.value))
            continue
        wanted[grid].append(micros[unit])
    missing = sorted(set(micros) - set(seen))
    if missing:
        problems.append(tr("%(n)s micro-grid(s) of the plan not in the file (every unit once): %(codes)s", n=len(missing),
                           codes=", ".join(missing[:20]) + (" ..." if len(missing) > 20 else "")))
    _refuse(problems)

    before = defaultdict(set)
    for m in micros.values():
        before[m.parent_code].add(m.code)
    zones = {u.code: u for u in units if u.level == Level.zone}
    upserts, created = [], []
    for grid, members in sorted(wanted.items()):
        codes = {m.code for m in members}
        if grid in grids and before.get(grid) == codes:
            continue  # as it was
        old = grids.get(grid)
        if old is not None and not before.get(grid):
            problems.append(tr("grid %(grid)s (rows %(v)s) is not built from micro-grids in the plan: it cannot take some", grid=grid, v=_rows_of(seen, codes)))
            continue
        geom = polygonal(shapely.union_all([m.geometry for m in members]))
        if parts(geom) > 1:
            problems.append(tr("grid %(grid)s: its micro-grids are not one piece (rows %(v)s)", grid=grid, v=_rows_of(seen, codes)))
            continue
        parent = old.parent_code if old is not None else _zone_of(members, grids, zones)
        if parent is None:
            problems.append(tr("grid %(grid)s: its micro-grids lie in more than one zone (rows %(v)s)", grid=grid, v=_rows_of(seen, codes)))
            continue
        base = old or Unit(code=grid, name=grid, level=Level.grid, geometry=geom, parent_code=parent,
                           valid_from=members[0].valid_from)
        new = with_geometry(base, geom)
        new.households = _sum(m.households for m in members)
        new.population = _sum(m.population for m in members)
        upserts.append(new)
        if old is None:
            created.append(grid)
        for m in members:
            if m.parent_code != grid:
                upserts.append(replace(m, parent_code=grid))
    _refuse(problems)
    deletes = sorted(g for g in before if g in grids and g not in wanted)
    summary = {"rows": len(rows), "grids": len(wanted), "created": sorted(created),
               "changed": sorted(u.code for u in upserts if u.level == Level.grid and u.code not in created),
               "removed": deletes, "moved_units": sum(1 for u in upserts if u.level == Level.micro)}
    return EditResult(upserts=upserts, deletes=deletes, created=created,
                      notes=[f"分块文件 block file: {len(rows)} rows, {len(summary['changed'])} grid(s) changed, "
                             f"{len(created)} new, {len(deletes)} removed"]), summary


def _unescape(cell: str) -> str:
    """The cell as written before csvsafe's formula guard (a leading ' before = + - @)."""
    cell = cell.strip()
    return cell[1:] if len(cell) > 1 and cell[0] == "'" and cell[1] in "=+-@\t\r" else cell


def _zone_of(members, grids, zones) -> str | None:
    """The one zone the micro-grids' current grids are in (None if they span several)."""
    found = {grids[m.parent_code].parent_code for m in members if m.parent_code in grids}
    return found.pop() if len(found) == 1 and next(iter(found)) in zones else None


def _rows_of(seen: dict, codes: set[str]) -> str:
    rows = sorted(seen[c] for c in codes if c in seen)
    return ", ".join(map(str, rows[:10])) + (" ..." if len(rows) > 10 else "")


def _sum(values) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else int(sum(values))


def _refuse(problems: list[str]) -> None:
    if problems:
        raise InputError(tr("The block-assignment file has %(n)s problem(s); nothing was written:", n=len(problems)), problems[:MAX_REPORTED])
