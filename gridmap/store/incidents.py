"""Incident storage on the same SQL engine as the registry: incidents, audit log, roster."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager
from dataclasses import fields
from typing import Callable, Iterable, Iterator, Sequence

import sqlalchemy as sa

from ..errors import Conflict, NotFound
from ..i18n import tr
from ..incidents.model import Event, Incident
from . import bulkload, rollup, rollup_rows, schema
from .bulk import copy_rows_pg, insert_rows

UTC = dt.timezone.utc
_TIME_FIELDS = ("reported_at", "dispatched_at", "due_at", "handled_at", "closed_at")
_BOOL_FIELDS = ("escalated", "extended")
_FIELDS = [f.name for f in fields(Incident) if f.name != "id"]
METRICS_WORK_MEM = "64MB"  # PostgreSQL work_mem for one metrics query (its transaction only: SET LOCAL)


def to_db_time(t: dt.datetime | None) -> dt.datetime | None:
    """Aware datetime -> naive UTC for storage; naive input is refused (never guess a zone)."""
    if t is None:
        return None
    if t.tzinfo is None:
        raise ValueError("naive datetime: give a time zone")
    return t.astimezone(UTC).replace(tzinfo=None)


def from_db_time(t: dt.datetime | None) -> dt.datetime | None:
    """Stored naive UTC -> aware UTC."""
    return None if t is None else t.replace(tzinfo=UTC)


def db_time(t: dt.datetime) -> dt.datetime:
    """A stored naive UTC time of a NOT NULL column -> aware UTC."""
    return t.replace(tzinfo=UTC)


def incident_to_row(inc: Incident) -> dict:
    row = dict(inc.__dict__)  # the dataclass's fields (faster than getattr one by one)
    del row["id"]
    for name in _TIME_FIELDS:
        row[name] = to_db_time(row[name])
    for name in _BOOL_FIELDS:
        row[name] = int(bool(row[name]))
    row["external_id"] = (inc.extra or {}).get("external_id")
    row["settles_late_at"] = rollup.settles_late_at(row)
    row["close_hours"] = ((inc.closed_at - inc.reported_at).total_seconds() / 3600
                          if inc.closed_at is not None and inc.reported_at is not None else None)
    return row


def incident_from_row(r) -> Incident:
    values = {name: r[name] for name in _FIELDS}
    for name in _TIME_FIELDS:
        values[name] = from_db_time(values[name])
    for name in _BOOL_FIELDS:
        values[name] = bool(values[name])
    values["extra"] = values["extra"] or {}
    return Incident(id=str(r["id"]), **values)


class IncidentRepo:
    """Incidents and everything around them. Each write is one transaction."""

    def __init__(self, store):
        self.store = store  # SQLStore: gives engine guards and the backend

    # -- incidents --------------------------------------------------------------------------
    def add(self, incident: Incident, event: Event, reporter_token: str | None = None) -> Incident:
        """Insert one incident with its first audit event; returns it with its id."""
        return self.add_many([(incident, event, reporter_token)])[0]

    def add_many(self, items: Sequence[tuple[Incident, Event, str | None]]) -> list[Incident]:
        """Insert incidents and their first events in one transaction (one report, or a few thousand)."""
        with self.store.transaction() as conn:
            return self._add_in(conn, items)

    @contextmanager
    def writer(self, expected: int = 0) -> Iterator[Callable[[Sequence[tuple[Incident, Event, str | None]]], list[Incident]]]:
        """One transaction for many batches: ``write(items)`` inserts a batch; all commit at the end.

        An error or a killed process before the end leaves nothing written, however many batches
        went in (``gridmap incidents import``; a single report goes through ``add``). ``expected``
        rows, when many next to the table's, load the way ``bulkload.load`` says.
        """
        backend = self.store.backend
        with self.store.transaction() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(schema.incidents)).scalar() if expected else 0
            with bulkload.load(conn, backend, expected, count) as stage:
                yield lambda items: self._add_in(conn, items, stage)
        if backend == "postgresql":
            # fresh statistics and visibility maps after a bulk load ("Populating a Database"): without them a 1M
            # import left estimates of ~200 rows (sorts spilled to disk) and index-only scans fetching every heap
            # row (a year's p90: 0.29 -> 0.17 s). Not on SQLite: with sqlite_stat1 but no per-value histograms
            # it would walk ix_incidents_grid for the map's open counts (3 s instead of 0.2 s)
            with self.store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE) incidents, incident_rollup_day, incident_rollup_month")

    def _add_in(self, conn, items: Sequence[tuple[Incident, Event, str | None]], stage=None) -> list[Incident]:
        te, out = schema.incident_events, []
        rows = [{**incident_to_row(i), "reporter_token": tok} for i, _, tok in items]
        ids = self._insert_ids(conn, rows)
        events = []
        for new_id, (inc, ev, _) in zip(ids, items):
            inc.id = str(new_id)
            out.append(inc)
            events.append(event_to_row(ev, new_id))
        if events and self.store.backend == "sqlite":
            insert_rows(conn, te, events)
        elif events:
            copy_rows_pg(conn, te, events, with_ids=False) if len(events) >= 1000 else conn.execute(te.insert(), events)
        # the roll-ups move with the rows, same transaction (a big load: summed once, before the commit;
        # PostgreSQL sums a batch itself faster than from Python: psycopg's executemany goes row by row)
        if stage is not None:
            stage.add(rows)
        else:
            rollup.add(conn, "postgresql", ids) if self.store.backend == "postgresql" else rollup_rows.add_rows(conn, "sqlite", rows)
        return out

    def _insert_ids(self, conn, rows: list[dict]) -> list[int]:
        """Insert incident rows in order, returning their ids, with as few statements as possible."""
        t = schema.incidents
        if not rows:
            return []
        if self.store.backend == "postgresql":
            if len(rows) >= 1000:  # COPY with ids drawn from the sequence first
                return copy_rows_pg(conn, t, rows)
            return list(conn.execute(t.insert().returning(t.c.id, sort_by_parameter_order=True), rows).scalars())
        # SQLite runs RETURNING row by row. The first row's insert gives its id and the file's write lock:
        # the next ids are free, and one executemany with explicit ids writes the rest.
        first = conn.execute(t.insert(), rows[0]).inserted_primary_key[0]
        ids = list(range(first, first + len(rows)))
        if len(rows) > 1:
            for r, i in zip(rows[1:], ids[1:]):
                r["id"] = i
            insert_rows(conn, t, rows[1:])
        return ids

    def get(self, incident_id: str | int) -> Incident:
        """One incident; NotFound if there is none with this id."""
        t = schema.incidents
        key = incident_id_of(incident_id)
        with self.store.connect() as conn:
            r = conn.execute(sa.select(t).where(t.c.id == key)).mappings().first()
        if r is None:
            raise NotFound(tr("no incident with id %(incident_id)r", incident_id=incident_id))
        return incident_from_row(r)

    def reporter_token(self, incident_id: str | int) -> str | None:
        """The SHA-256 of the secret a reporter got at report time (to reopen or rate without an account)."""
        t = schema.incidents
        with self.store.connect() as conn:
            return conn.execute(sa.select(t.c.reporter_token).where(t.c.id == incident_id_of(incident_id))).scalar()

    def update(self, incident: Incident, expected_version: int, events: Iterable[Event]) -> Incident:
        """Write a changed incident if nobody changed it since `expected_version`, with its events.

        The version check and the write are one UPDATE ... WHERE version = :expected, so two
        dispatchers acting at once cannot both succeed: the second gets Conflict (stale).
        """
        self.update_many([(incident, expected_version, events)])
        return incident

    def update_many(self, changes: Sequence[tuple[Incident, int, Iterable[Event]]]) -> None:
        """`update` for several incidents in one transaction: all are written or, when any of them is
        stale (Conflict) or gone (NotFound), none is (an incident merge writes the duplicate and its target)."""
        with self.store.transaction() as conn:
            for incident, expected_version, events in changes:
                self._update_in(conn, incident, expected_version, events)

    def _update_in(self, conn, incident: Incident, expected_version: int, events: Iterable[Event]) -> None:
        t, te = schema.incidents, schema.incident_events
        row = incident_to_row(incident)
        row["version"] = expected_version + 1
        key = incident_id_of(incident.id)
        rollup.remove(conn, self.store.backend, [key])  # the old row's share (nothing if absent)
        res = conn.execute(t.update().where(t.c.id == incident_id_of(incident.id), t.c.version == expected_version)
                           .values(**row))
        if res.rowcount != 1:
            current = conn.execute(sa.select(t.c.version).where(t.c.id == incident_id_of(incident.id))).scalar()
            if current is None:
                raise NotFound(tr("no incident with id %(id)r", id=incident.id))
            raise Conflict(tr("incident %(id)s was changed by someone else (version %(current)s, you had %(expected_version)s): reload and try again", id=incident.id, current=current, expected_version=expected_version))
        rollup.add(conn, self.store.backend, [key])
        rows = [event_to_row(e, incident_id_of(incident.id)) for e in events]
        if rows:
            conn.execute(te.insert(), rows)
        incident.version = expected_version + 1

    def pages(self, size: int = 100_000) -> Iterator[list[Incident]]:
        """Every incident in id order, `size` at a time (keyset pages: no big offsets on a long history)."""
        t, last = schema.incidents, 0
        while True:
            with self.store.connect() as conn:
                rows = conn.execute(sa.select(t).where(t.c.id > last).order_by(t.c.id).limit(size)).mappings().all()
            if not rows:
                return
            yield [incident_from_row(r) for r in rows]
            last = int(rows[-1]["id"])

    def query(self, status: Sequence[str] | None = None, grid_codes: Sequence[str] | None = None,
              zone_code: str | None = None, category: str | Sequence[str] | None = None,
              start: dt.datetime | None = None,
              end: dt.datetime | None = None, limit: int | None = None, offset: int = 0,
              bbox: tuple[float, float, float, float] | None = None, order: str = "reported_at",
              within_units: Sequence[str] | None = None, due_before: dt.datetime | None = None) -> list[Incident]:
        """Incidents matching every given filter, newest first (or by `order`).

        `within_units`: only incidents whose grid or zone is one of these unit codes.
        `category`: one code or a list of codes (any of them).
        """
        t = schema.incidents
        q = sa.select(t)
        if within_units is not None:
            units = list(within_units)
            q = q.where(sa.or_(t.c.grid_code.in_(units), t.c.zone_code.in_(units)))
        if status:
            q = q.where(t.c.status.in_(list(status)))
        if grid_codes is not None:
            q = q.where(t.c.grid_code.in_(list(grid_codes)))
        if zone_code:
            q = q.where(t.c.zone_code == zone_code)
        if isinstance(category, str) and category:
            q = q.where(t.c.category == category)
        elif category:
            q = q.where(t.c.category.in_(list(category)))
        if start is not None:
            q = q.where(t.c.reported_at >= to_db_time(start))
        if end is not None:
            q = q.where(t.c.reported_at < to_db_time(end))
        if due_before is not None:
            q = q.where(t.c.due_at < to_db_time(due_before))
        if bbox is not None:
            q = q.where(t.c.lon >= bbox[0], t.c.lat >= bbox[1], t.c.lon <= bbox[2], t.c.lat <= bbox[3])
        q = q.order_by(t.c.due_at.asc() if order == "due_at" else t.c.reported_at.desc(), t.c.id.desc())
        if limit is not None:
            q = q.limit(limit).offset(offset)
        with self.store.connect() as conn:
            return [incident_from_row(r) for r in conn.execute(q).mappings()]

    def open_nearby(self, category: str, bbox: tuple[float, float, float, float], start: dt.datetime,
                    end: dt.datetime) -> list[tuple[int, float, float]]:
        """(id, lon, lat) of open incidents of a category in a bbox and time window (duplicate search)."""
        params = dict(category=category, x0=bbox[0], y0=bbox[1], x1=bbox[2], y1=bbox[3],
                      start=to_db_time(start), end=to_db_time(end))
        with self.store.connect() as conn:
            return [tuple(r) for r in conn.execute(_OPEN_NEARBY, params).all()]

    def photo_ids(self) -> set[str]:
        """The photo ids the incidents name (`extra.photo.id`): what the photo folder must keep."""
        import json

        t = schema.incidents
        q = sa.select(t.c.extra).where(sa.cast(t.c.extra, sa.String).like('%"photo"%'))
        with self.store.connect() as conn:
            extras = [json.loads(e) if isinstance(e, str) else e for (e,) in conn.execute(q)]
        return {x["photo"]["id"] for x in extras if isinstance(x, dict) and isinstance(x.get("photo"), dict)
                and isinstance(x["photo"].get("id"), str)}

    def open_load(self, people: Sequence[str]) -> dict[str, int]:
        """How many open incidents each person is assigned."""
        with self.store.connect() as conn:
            return dict(conn.execute(_OPEN_LOAD, {"people": list(people)}).all())

    def metric_sums(self, by: str, start: dt.datetime, end: dt.datetime, as_of: dt.datetime,
                    months=None, response_limit_hours: float | None = None,
                    grid_codes: Sequence[str] | None = None) -> tuple[dict, dict]:
        """Per-group sums and p90 neighbourhoods for the metrics (store/metrics_sql.py), one snapshot.
        ``grid_codes``: only incidents of these grids (their roll-up rows, and the grid index)."""
        from . import metrics_sql, rollup_query

        b = self.store.backend
        extra = schema.incidents.c.grid_code.in_(list(grid_codes)) if grid_codes is not None else None
        with self.store.connect() as conn:
            if b == "postgresql":  # the p90 sorts a year's hours: in memory, not in 4 MB runs on disk
                conn.exec_driver_sql(f"SET LOCAL work_mem = '{METRICS_WORK_MEM}'")
            sums = rollup_query.sums(conn, b, by, start, end, as_of, months, response_limit_hours, grid_codes)
            if sums is None:  # a response limit the roll-ups do not count for: the exact scan
                sums = metrics_sql.group_sums(conn, b, by, start, end, as_of, months, response_limit_hours, extra)
            p90 = metrics_sql.p90_rows(conn, b, by, start, end, as_of, months, grid_codes=grid_codes)
        return sums, p90

    def supervision_page(self, now: dt.datetime, horizon: dt.datetime, limit: int = 100, offset: int = 0,
                         zone_code: str | None = None, grid_codes: Sequence[str] | None = None,
                         within_units: Sequence[str] | None = None) -> dict:
        """Overdue and nearly-due open incidents, one page of each with totals (store/supervision_sql.py)."""
        from . import supervision_sql

        with self.store.connect() as conn:
            out = supervision_sql.lists(conn, now, horizon, limit, offset, zone_code, grid_codes, within_units)
        return {k: [incident_from_row(r) for r in v] if isinstance(v, list) else v for k, v in out.items()}

    def count(self) -> int:
        """How many incidents the store holds."""
        with self.store.connect() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(schema.incidents)).scalar()

    def events(self, incident_id: str | int) -> list[Event]:
        """The audit log of one incident, oldest first."""
        te = schema.incident_events
        q = sa.select(te).where(te.c.incident_id == incident_id_of(incident_id)).order_by(te.c.id)
        with self.store.connect() as conn:
            return [Event(str(r["incident_id"]), db_time(r["at"]), r["actor"], r["action"], r["from_status"],
                          r["to_status"], r["note"] or "", r["data"] or {}) for r in conn.execute(q).mappings()]

    def status_changes(self, start: dt.datetime, end: dt.datetime, limit: int, offset: int = 0
                       ) -> list[tuple[int, Event]]:
        """(event id, event) of every status change at start <= at < end, oldest first (Open311 updates).

        A status change is an event that moved an incident from one status to another (or reopened
        it); the report itself and same-status notes (overdue, reroute) are not changes.
        """
        te = schema.incident_events
        q = (sa.select(te).where(te.c.at >= to_db_time(start), te.c.at < to_db_time(end),
                                 te.c.from_status.isnot(None), te.c.from_status != te.c.to_status)
             .order_by(te.c.at, te.c.id).limit(limit).offset(offset))
        with self.store.connect() as conn:
            return [(r["id"], Event(str(r["incident_id"]), db_time(r["at"]), r["actor"], r["action"],
                                    r["from_status"], r["to_status"], r["note"] or "", r["data"] or {}))
                    for r in conn.execute(q).mappings()]

    # -- roster -----------------------------------------------------------------------------
    def add_shift(self, unit_code: str, person_id: str, starts_at: dt.datetime, ends_at: dt.datetime) -> int:
        """Put a person on duty for a unit between two times."""
        if ends_at <= starts_at:
            raise Conflict(tr("a shift must end after it starts (%(starts_at)s .. %(ends_at)s)", starts_at=starts_at, ends_at=ends_at))
        with self.store.transaction() as conn:
            return conn.execute(schema.roster.insert().values(
                unit_code=unit_code, person_id=person_id, starts_at=to_db_time(starts_at),
                ends_at=to_db_time(ends_at))).inserted_primary_key[0]

    def delete_shift(self, shift_id: int) -> None:
        """Remove a shift; NotFound if absent."""
        with self.store.transaction() as conn:
            if conn.execute(schema.roster.delete().where(schema.roster.c.id == shift_id)).rowcount != 1:
                raise NotFound(tr("no shift with id %(shift_id)s", shift_id=shift_id))

    def shifts(self, unit_code: str | None = None, start: dt.datetime | None = None,
               end: dt.datetime | None = None) -> list[dict]:
        """Shifts overlapping [start, end), by start time."""
        r = schema.roster
        q = sa.select(r).order_by(r.c.starts_at, r.c.person_id)
        if unit_code:
            q = q.where(r.c.unit_code == unit_code)
        if start is not None:
            q = q.where(r.c.ends_at > to_db_time(start))
        if end is not None:
            q = q.where(r.c.starts_at < to_db_time(end))
        with self.store.connect() as conn:
            return [{"id": x["id"], "unit_code": x["unit_code"], "person_id": x["person_id"],
                     "starts_at": from_db_time(x["starts_at"]), "ends_at": from_db_time(x["ends_at"])}
                    for x in conn.execute(q).mappings()]

    def on_duty(self, unit_code: str, at: dt.datetime) -> list[str]:
        """person_ids on duty for a unit at a moment."""
        with self.store.connect() as conn:
            return list(conn.execute(_ON_DUTY, {"unit": unit_code, "at": to_db_time(at)}).scalars())


# Hot-path statements, built once: constructing a Core statement costs more than running it.
def _open_statuses():
    from ..incidents.model import OPEN_STATUSES
    return list(OPEN_STATUSES)


_T = schema.incidents
_OPEN_NEARBY = (sa.select(_T.c.id, _T.c.lon, _T.c.lat)
                .where(_T.c.category == sa.bindparam("category"), _T.c.status.in_(_open_statuses()),
                       _T.c.reported_at >= sa.bindparam("start"), _T.c.reported_at < sa.bindparam("end"),
                       _T.c.lon >= sa.bindparam("x0"), _T.c.lat >= sa.bindparam("y0"),
                       _T.c.lon <= sa.bindparam("x1"), _T.c.lat <= sa.bindparam("y1"))
                .order_by(_T.c.id))
_OPEN_LOAD = (sa.select(_T.c.assignee, sa.func.count())
              .where(_T.c.assignee.in_(sa.bindparam("people", expanding=True)), _T.c.status.in_(_open_statuses()))
              .group_by(_T.c.assignee))
_R = schema.roster
_ON_DUTY = sa.select(_R.c.person_id).where(_R.c.unit_code == sa.bindparam("unit"), _R.c.starts_at <= sa.bindparam("at"),
                                           _R.c.ends_at > sa.bindparam("at")).order_by(_R.c.person_id)


def event_to_row(e: Event, incident_id: int) -> dict:
    return dict(incident_id=incident_id, at=to_db_time(e.at), actor=e.actor, action=e.action,
                from_status=e.from_status, to_status=e.to_status, note=e.note, data=e.data or {})


def incident_id_of(incident_id: str | int) -> int:
    try:
        return int(incident_id)
    except (TypeError, ValueError):
        raise NotFound(tr("no incident with id %(incident_id)r", incident_id=incident_id)) from None


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)
