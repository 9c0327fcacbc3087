"""Bulk import of historical or hotline records: streamed in batches, assigned in bulk.

A file of any length is read ``batch`` rows at a time, so memory stays flat in the row count:
each batch is validated row by row (the same checks as a single report), assigned to grids
with one ``GridIndex.locate_many`` per plan in force (the rare point outside every grid falls
back to the one-point rule: nearest grid within reach, else the town queue), and handed to a
writer that inserts it inside the one transaction of the whole import.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from ..errors import InputError
from ..i18n import tr
from .intake import parse_report
from .model import STATUSES, Incident

HISTORY_TIMES = ("dispatched_at", "due_at", "handled_at", "closed_at")
BATCH_ROWS = 20_000
KEEP_PROBLEMS = 200  # problems kept in memory for the message; all go to the errors file
_REPORT_FIELDS = ("category", "lon", "lat", "description", "reported_at", "reporter_name", "reporter_phone",
                  "severity", "crs")


@dataclass
class ImportResult:
    """What a streamed import did: rows read, incidents accepted, bad rows (the first few kept)."""

    rows: int = 0
    good: int = 0
    bad: int = 0
    problems: list[str] = field(default_factory=list)


def check_row(svc, raw: dict, now: dt.datetime) -> Incident:
    """One CSV row (text) as an unassigned Incident; InputError or ValueError names the problem.

    Optional history columns (status, dispatched_at, due_at, handled_at, closed_at, rating,
    assignee) let years of closed cases be loaded as they were. Rows are not routed: they
    keep the assignee they had.
    """
    row = {k: (v.strip() if isinstance(v, str) else v) for k, v in raw.items() if k is not None}
    body = {k: row.get(k) or None for k in _REPORT_FIELDS}
    body["severity"] = row.get("severity") or 1
    body["source"] = row.get("source") or "import"
    body["external_id"] = row.get("id") or row.get("external_id") or None
    inc = svc._new_incident(parse_report(body, svc.taxonomy, now, svc.tz), assign=False)
    status = row.get("status") or "reported"
    if status not in STATUSES:
        raise InputError(tr("status: unknown status %(status)r", status=status))
    inc.status = status
    for name in HISTORY_TIMES:
        if row.get(name):
            t = dt.datetime.fromisoformat(row[name])
            setattr(inc, name, t if t.tzinfo else t.replace(tzinfo=svc.tz))
    if row.get("rating"):
        inc.rating = int(row["rating"])
    if row.get("assignee"):
        inc.assignee = row["assignee"]
    inc.source = body["source"]
    return inc


def check_rows(svc, rows: Iterable[dict], first_line: int) -> tuple[list[Incident], list[str]]:
    """Validate rows (line numbers from ``first_line``); return (unassigned incidents, problems)."""
    good: list[Incident] = []
    problems: list[str] = []
    now = svc.clock()
    for n, raw in enumerate(rows, start=first_line):
        try:
            good.append(check_row(svc, raw, now))
        except InputError as exc:
            ext = raw.get("id") or raw.get("external_id")
            detail = "; ".join(exc.problems) if exc.problems else str(exc)
            problems.append(f"row {n}" + (f" ({ext.strip()})" if isinstance(ext, str) and ext.strip() else "")
                            + f": {detail}")
        except ValueError as exc:
            problems.append(f"row {n}: {exc}")  # exc: a translated InputError
    return good, problems


def assign_many(svc, incidents: list[Incident], days: dict[dt.date, int | None] | None = None) -> None:
    """Assign incidents to grids in bulk, each under the plan in force on its report day.

    Same answer as ``IncidentService._assign`` one by one: the covering grid (lowest code on a
    shared edge, as ``locate_many``), its zone and town; points in no grid take the one-point
    path (nearest grid within ``nearest_assign_m``, else the town queue). ``days`` (day -> plan
    in force, None for today's) is kept by the caller across the batches of one import.
    """
    s = svc.services
    today = s.today()
    by_plan: dict[int | None, list[int]] = {}
    days = {} if days is None else days
    for k, inc in enumerate(incidents):
        day = inc.reported_at.astimezone(svc.tz).date()
        if day not in days:
            days[day] = s.plan_at(day) if day < today else None
        plan = days[day]
        by_plan.setdefault(s.plan if plan is None else plan, []).append(k)
    for plan, ks in by_plan.items():
        index = s.index if plan is None or plan == s.plan else s.index_of(plan)
        lon = np.fromiter((incidents[k].lon for k in ks), dtype="float64", count=len(ks))
        lat = np.fromiter((incidents[k].lat for k in ks), dtype="float64", count=len(ks))
        hit = index.locate_many(lon, lat, threads=1) if len(index) else np.full(len(ks), -1)
        for k, i in zip(ks, hit.tolist()):
            inc = incidents[k]
            if i < 0:
                svc._assign(inc, plan=plan)
                continue
            chain = index.chains[i]
            inc.plan, inc.distance_m = plan, None
            inc.grid_code, inc.assignment = str(index.codes[i]), "inside"
            inc.zone_code, inc.town_code = chain.get("zone"), chain.get("town")


def batches(fh: TextIO, size: int = BATCH_ROWS) -> Iterator[list[dict]]:
    """The CSV rows of an open text file, ``size`` at a time."""
    reader = csv.DictReader(fh)
    batch: list[dict] = []
    for row in reader:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def import_csv(svc, fh: TextIO, write: Callable[[list[Incident]], None] | None, total: int | None = None,
               progress: Callable[[int, int], None] | None = None,
               errors: Callable[[list[str]], None] | None = None,
               size: int = BATCH_ROWS) -> ImportResult:
    """Stream a CSV through check, bulk assign and ``write`` (None: a dry run writes nothing).

    Every problem goes to ``errors(problems)`` as it is found; the first KEEP_PROBLEMS are
    kept in the result for the message.
    """
    out = ImportResult()
    days: dict[dt.date, int | None] = {}  # the plan in force on each report day, looked up once
    for batch in batches(fh, size):
        good, problems = check_rows(svc, batch, first_line=out.rows + 2)
        out.rows += len(batch)
        out.good += len(good)
        out.bad += len(problems)
        room = KEEP_PROBLEMS - len(out.problems)
        out.problems.extend(problems[:max(room, 0)])
        if errors is not None and problems:
            errors(problems)
        if good:
            assign_many(svc, good, days)
            if write is not None:
                write(good)
        if progress is not None:
            progress(out.rows, max(total or 0, out.rows))
    return out


def count_rows(path) -> int:
    """Data rows of a CSV file, roughly (lines less the header): the progress bar's total."""
    n = 0
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return max(n - 1, 0)
