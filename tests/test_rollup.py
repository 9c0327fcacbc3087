"""Metric roll-ups (store/rollup.py, rollup_query.py): kept in step with every incident write in the
same transaction, equal to a rebuild, and a range query over them equals the exact scan
(metrics_sql.group_sums) and the Python metrics, on SQLite and PostGIS."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import sqlalchemy as sa

from gridmap.errors import Conflict
from gridmap.incidents.metrics import compute
from gridmap.incidents.metrics_db import compute_db, month_bounds
from gridmap.incidents.model import Event
from gridmap.store import metrics_sql, rollup, rollup_query, schema
from tests.test_metrics import SH, inc
from tests.test_metrics_db import BY, _random_history, _store, assert_same

START, END = dt.datetime(2024, 2, 10, tzinfo=SH), dt.datetime(2025, 1, 20, tzinfo=SH)
AS_OF = (None, dt.datetime(2024, 8, 1, 12, tzinfo=SH), dt.datetime(2025, 1, 19, 23, tzinfo=SH),
         dt.datetime(2024, 2, 1, tzinfo=SH))


def _tables(store) -> dict:
    """Both roll-up tables as {table: sorted rows}."""
    out = {}
    with store.connect() as conn:
        for t in (schema.rollup_day, schema.rollup_month):
            out[t.name] = sorted(tuple(r) for r in conn.execute(sa.select(t)).all())
    return out


def _rebuilt(store) -> dict:
    """The roll-ups a rebuild makes from the incidents as stored (rolled back after)."""
    with store.engine.connect() as conn:
        tx = conn.begin()
        rollup.rebuild(conn, store.backend)
        out = {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t)).all())
               for t in (schema.rollup_day, schema.rollup_month)}
        tx.rollback()
    return out


def _edit(repo, incs, k: int):
    """Change every k-th stored incident (status, closing, grid, rating): the updates the workflow makes."""
    for n, i in enumerate(incs):
        if n % k:
            continue
        cur = repo.get(i.id)
        closed = cur.status != "closed"
        new = replace(cur, status="closed" if closed else "in_progress",
                      closed_at=(cur.reported_at + dt.timedelta(hours=30 + n % 7)) if closed else None,
                      grid_code="B" if cur.grid_code != "B" else "A", rating=None if cur.rating else 4,
                      reopen_count=cur.reopen_count + (not closed))
        repo.update(new, cur.version, [])


def _exact_and_rolled(repo, by, as_of, limit=2.0):
    store = repo.store
    as_of = END if as_of is None else as_of
    months = month_bounds(START, END, SH) if by == "month" else None
    with store.connect() as conn:
        exact = metrics_sql.group_sums(conn, store.backend, by, START, END, as_of, months, limit)
        rolled = rollup_query.sums(conn, store.backend, by, START, END, as_of, months, limit)
    return {k: v for k, v in exact.items() if v["count"] or by == "all"}, rolled


@pytest.mark.slow
def test_rollups_follow_writes_and_answer_as_the_exact_scan(empty_services) -> None:
    repo = empty_services.store.incidents
    incs = _store(empty_services, _random_history(1500, seed=11))
    _edit(repo, incs, 9)
    assert _tables(empty_services.store) == _rebuilt(empty_services.store)
    assert sum(len(v) for v in _tables(empty_services.store).values()) > 0
    for as_of in AS_OF:
        for by in (*BY, "month"):
            exact, rolled = _exact_and_rolled(repo, by, as_of)
            assert rolled == exact, (by, as_of)
    # and the Python metrics, through compute_db, on the edited incidents
    now = [repo.get(i.id) for i in incs]
    for by in BY:
        assert_same(compute_db(repo, by, START, END, tz=SH)[0], compute(now, by, START, END))


def test_rollups_are_what_metrics_read(empty_services) -> None:
    """compute_db sums the roll-ups: a count put into a day row (and a month row) shows in the answer."""
    incs = _store(empty_services, _random_history(200, seed=3))
    repo = empty_services.store.incidents
    before = {m.key: m.count for m in compute_db(repo, "all", START, END, tz=SH)[0]}
    with empty_services.store.transaction() as conn:
        for t, col, lo in ((schema.rollup_day, "day", "2024-02-11"), (schema.rollup_month, "month", "2024-03")):
            keys = [t.c[col], *[t.c[k] for k in schema.ROLLUP_KEYS]]
            row = conn.execute(sa.select(*keys).where(t.c[col] >= lo).order_by(*keys).limit(1)).one()
            conn.execute(t.update().where(*[c == v for c, v in zip(keys, row)]).values(count=t.c["count"] + 1000))
    after = {m.key: m.count for m in compute_db(repo, "all", START, END, tz=SH)[0]}
    assert after["all"] == before["all"] + 2000
    assert before["all"] == sum(1 for i in incs if START <= i.reported_at < END)


def test_failed_update_leaves_rollups_unchanged(empty_services) -> None:
    incs = _store(empty_services, _random_history(50, seed=4))
    repo, store = empty_services.store.incidents, empty_services.store
    before = _tables(store)
    a, b = repo.get(incs[0].id), repo.get(incs[1].id)
    with pytest.raises(Conflict):  # the second is stale: neither is written, nor are the roll-ups
        repo.update_many([(replace(a, status="closed", grid_code="C"), a.version, []),
                          (replace(b, status="closed"), b.version + 5, [])])
    assert _tables(store) == before


def test_ids_taken_out_and_put_back_are_those_named(empty_services) -> None:
    """remove/add of ids that are not one run (and repeat one) touch exactly those incidents: [1, 1, 3]
    once passed for the run 1..3 and took incident 2 out too; the reused statements (bound ids) both ways."""
    incs = _store(empty_services, _random_history(30, seed=6))
    store = empty_services.store
    ids = sorted(int(i.id) for i in incs)
    full = _tables(store)
    for chosen in ([ids[0], ids[0], ids[2]], [ids[3], ids[4], ids[5]], [ids[7], ids[9]]):
        with store.engine.connect() as conn:
            tx = conn.begin()
            rollup.remove(conn, store.backend, chosen)
            rollup.remove(conn, store.backend, sorted(set(ids) - set(chosen)))
            emptied = {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                       for t in (schema.rollup_day, schema.rollup_month)}
            rollup.add(conn, store.backend, chosen)
            rollup.add(conn, store.backend, sorted(set(ids) - set(chosen)))
            again = {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t)).all())
                     for t in (schema.rollup_day, schema.rollup_month)}
            tx.rollback()
        assert emptied == {"incident_rollup_day": 0, "incident_rollup_month": 0}, chosen
        assert again == full == _rebuilt(store), chosen


def test_late_settling_incident_is_judged_at_as_of(empty_services) -> None:
    """Reported long before as_of and closed after it (flagged settles_late_at): open and overdue at as_of."""
    r = dt.datetime(2024, 1, 5, 10, tzinfo=SH)
    incs = _store(empty_services, [
        inc("late", "A", "w1", "road", r, "closed", due_at=r + dt.timedelta(days=3),
            dispatched_at=r + dt.timedelta(hours=1), closed_at=dt.datetime(2024, 3, 20, tzinfo=SH), rating=5),
        inc("quick", "A", "w1", "road", r, "closed", due_at=r + dt.timedelta(days=3),
            dispatched_at=r + dt.timedelta(hours=1), closed_at=r + dt.timedelta(hours=5), rating=4),
    ])
    repo = empty_services.store.incidents
    start, end, as_of = dt.datetime(2024, 1, 1, tzinfo=SH), dt.datetime(2024, 2, 1, tzinfo=SH), \
        dt.datetime(2024, 2, 15, tzinfo=SH)
    (m,), _ = compute_db(repo, "all", start, end, as_of=as_of, tz=SH)
    assert (m.count, m.closed, m.overdue_open) == (2, 1, 1)
    assert_same([m], compute(incs, "all", start, end, as_of=as_of))
    with empty_services.store.connect() as conn:
        flagged = conn.execute(sa.select(schema.incidents.c.external_id, schema.incidents.c.settles_late_at)
                               .where(schema.incidents.c.settles_late_at.is_not(None))).all()
    assert len(flagged) == 1


def test_other_response_limit_uses_the_exact_scan(empty_services) -> None:
    _store(empty_services, _random_history(100, seed=8))
    repo = empty_services.store.incidents
    exact, rolled = _exact_and_rolled(repo, "zone", None, limit=1.0)
    assert rolled is None and exact  # compute_db then answers from group_sums
    rates = compute_db(repo, "zone", START, END, tz=SH, response_limit_hours=1.0)[1]
    assert sum(r.response_due for r in rates) == sum(v["response_due"] for v in exact.values())


@pytest.mark.slow
def test_migration_0011_fills_rollups_from_stored_incidents(empty_services) -> None:
    from alembic import command
    from alembic.config import Config

    store = empty_services.store
    _store(empty_services, _random_history(300, seed=6))
    want = _tables(store)
    cfg = Config()
    cfg.set_main_option("script_location", str(__import__("pathlib").Path(rollup.__file__).parent / "migrations"))
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0010")
    store.engine.dispose()
    store.migrate()
    assert _tables(store) == want


@pytest.mark.parametrize("days", [12, 30, 200])
def test_a_grids_windows_equal_the_exact_scan(empty_services, days) -> None:
    """The grid page's windows (the last N days of one grid): a window inside the recent check is one
    exact scan; a longer one sums roll-ups and corrects the recent and the flagged late-settling
    incidents, each set by its own index. Every answer equals the exact scan of that grid."""
    history = _random_history(1200, seed=21)
    r = dt.datetime(2024, 6, 1, 9, tzinfo=SH)
    late = [inc(f"late{k}", "AC"[k % 2], "w1", "road", r + dt.timedelta(days=k), "closed",
                due_at=r + dt.timedelta(days=k + 3), dispatched_at=r + dt.timedelta(days=k, hours=1),
                closed_at=r + dt.timedelta(days=k + 60), rating=3) for k in range(6)]
    _store(empty_services, history + late)
    store = empty_services.store
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.incidents)
                            .where(schema.incidents.c.settles_late_at.is_not(None))).scalar() >= 6
        for as_of in (dt.datetime(2024, 7, 15, 13, tzinfo=SH), dt.datetime(2024, 9, 3, tzinfo=SH)):
            start = as_of - dt.timedelta(days=days)
            for grid in ("A", "C"):
                for by in ("all", "category"):
                    exact = metrics_sql.group_sums(conn, store.backend, by, start, as_of, as_of, None, 2.0,
                                                   extra=schema.incidents.c.grid_code == grid)
                    exact = {k: v for k, v in exact.items() if v["count"] or by == "all"}
                    rolled = rollup_query.sums(conn, store.backend, by, start, as_of, as_of, None, 2.0, [grid])
                    assert rolled == exact and sum(v["count"] for v in exact.values()) > 0, (days, as_of, grid, by)


def test_rollups_summed_in_python_at_the_edges_equal_the_sql_rebuild(empty_services, monkeypatch) -> None:
    """rollup_rows.contribution decides as rollup.final_sums does at every edge: dispatched exactly at
    the response limit and 1 us past it, closed exactly at the deadline and 1 us past it, ratings 3/4
    on open and closed incidents, merged and excluded statuses, no times at all. Written by a small
    write (add_rows) and by a big load (Staged), both equal the rebuild, on both backends."""
    from gridmap.store import bulkload

    rep = dt.datetime(2024, 5, 1, 23, 30, tzinfo=dt.timezone.utc)  # 07:30 local the next day
    us = dt.timedelta(microseconds=1)
    lim = dt.timedelta(hours=rollup.LIMIT_HOURS)
    cases = [
        dict(status="closed", dispatched_at=rep + lim, due_at=rep + lim, closed_at=rep + lim, rating=4),
        dict(status="closed", dispatched_at=rep + lim + us, due_at=rep + lim, closed_at=rep + lim + us, rating=3),
        dict(status="in_progress", dispatched_at=rep, due_at=rep + lim, rating=4, extended=True),
        dict(status="handled", due_at=None, rework_count=2, reopen_count=1),
        dict(status="closed", closed_at=None, rating=5, reopen_count=1),
        dict(status="merged", merged_into="r0", dispatched_at=rep, rating=4),
        dict(status="rejected", due_at=rep, rating=1),
        dict(status="reported"),
    ]
    incs = [inc(f"e{k}", "ABC"[k % 3], ("w1", None)[k % 2], "road", rep, **kw) for k, kw in enumerate(cases)]
    _store(empty_services, incs)
    store = empty_services.store
    assert _tables(store) == _rebuilt(store)
    monkeypatch.setattr(bulkload, "MIN_ROWS", 1)
    monkeypatch.setattr(bulkload, "worth_it", lambda *a: True)  # the big-load path on PostgreSQL too
    with store.incidents.writer(expected=len(incs)) as write:
        write([(replace(i, id="", extra={}), Event("", i.reported_at, "t", "import", None, i.status), None)
               for i in incs])
    assert _tables(store) == _rebuilt(store)
    with store.connect() as conn:
        day = conn.execute(sa.select(sa.func.sum(schema.rollup_day.c.responded),
                                     sa.func.sum(schema.rollup_day.c.closed_on_time))).one()
    assert tuple(day) == (2 * 2, 2 * 1)  # the limit itself counts (<=), 1 us past it does not
