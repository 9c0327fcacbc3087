"""Metrics computed by the database (incidents.metrics_db over store/metrics_sql.py) equal the
Python metrics (incidents.metrics.compute) on the hand-computed data of tests/test_metrics.py
and on a random history with microsecond times, on SQLite and PostGIS; plus 三率 by hand."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest

from gridmap.errors import InputError
from gridmap.incidents.metrics import compute
from gridmap.incidents.metrics_db import compute_db, month_bounds, p90_linear
from gridmap.incidents.model import Event, Incident
from tests.test_metrics import END, SH, START, dataset, inc, t

BY = ("grid", "zone", "town", "worker", "category", "all")
TOWN = {"A": "T1", "B": "T1", "C": None}


def _store(services, incidents: list[Incident]) -> list[Incident]:
    """Write copies of the incidents (ids are the store's); return the copies."""
    copies = [replace(i, id="", extra={}) for i in incidents]
    services.store.incidents.add_many([(c, Event("", c.reported_at, "test", "import", None, c.status), None)
                                       for c in copies])
    return copies


def _with_towns(incidents: list[Incident]) -> list[Incident]:
    return [replace(i, town_code=TOWN[i.grid_code]) for i in incidents]


def assert_same(got, want) -> None:
    assert [m.key for m in got] == [m.key for m in want]
    for g, w in zip(got, want):
        assert replace(g, mean_hours_to_close=None) == replace(w, mean_hours_to_close=None), g.key
        assert g.mean_hours_to_close == pytest.approx(w.mean_hours_to_close, rel=1e-12, abs=0), g.key


@pytest.mark.parametrize("as_of", [None, t(3, 10), t(4, 2, 12), t(5, 1)])
def test_hand_computed_dataset_equal_on_every_grouping(empty_services, as_of) -> None:
    incs = _store(empty_services, _with_towns(dataset()))
    repo = empty_services.store.incidents
    for by in BY:
        rows, rates = compute_db(repo, by, START, END, as_of=as_of, tz=SH)
        assert_same(rows, compute(incs, by, START, END, as_of=as_of))
        assert [r.key for r in rates] == [m.key for m in rows]


def test_hand_computed_values_by_grid(empty_services) -> None:
    """The figures of test_metrics.test_grid_a_counts_and_rates, now from SQL."""
    _store(empty_services, dataset())
    rows, _ = compute_db(empty_services.store.incidents, "grid", START, END, tz=SH)
    a = {m.key: m for m in rows}["A"]
    assert (a.count, a.filed, a.due, a.closed, a.closed_on_time, a.overdue_open) == (4, 4, 4, 3, 2, 1)
    assert (a.rework, a.extended, a.rated) == (1, 1, 3)
    assert a.closure_rate == 0.75 and a.on_time_rate == 0.5 and a.satisfaction == 4.0
    assert a.p90_hours_to_close == pytest.approx(42.4)  # hours 10, 20, 48: 20 + 0.8 * 28


def test_nothing_in_range_all_is_one_empty_group(empty_services) -> None:
    _store(empty_services, dataset())
    rows, rates = compute_db(empty_services.store.incidents, "all", t(6, 1), t(7, 1), tz=SH)
    assert [(m.key, m.count, m.closure_rate, m.p90_hours_to_close, m.satisfaction) for m in rows] == \
        [("all", 0, None, None, None)]
    assert rates[0].response_rate is None and rates[0].satisfaction_rate is None


def test_bad_arguments_raise(empty_services) -> None:
    repo = empty_services.store.incidents
    with pytest.raises(ValueError, match="by must be one of"):
        compute_db(repo, "county", START, END)
    with pytest.raises(ValueError, match="before end"):
        compute_db(repo, "all", END, START)
    with pytest.raises(ValueError, match="timezone-aware"):
        compute_db(repo, "all", START.replace(tzinfo=None), END)
    with pytest.raises(InputError, match="more than 1200 months"):  # the API answers 422
        compute_db(repo, "month", START, START.replace(year=2200))


def _random_history(n: int, seed: int = 5) -> list[Incident]:
    rnd = random.Random(seed)
    statuses = ["closed"] * 6 + ["dispatched", "in_progress", "handled", "filed", "rejected", "reported", "merged"]
    out = []
    for k in range(n):
        rep = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(microseconds=rnd.randrange(400 * 86400 * 10**6))
        st = rnd.choice(statuses)
        closed = rep + dt.timedelta(microseconds=rnd.randrange(10**6, 300 * 3600 * 10**6)) if st == "closed" else None
        if st == "closed" and rnd.random() < 0.03:
            closed = None  # closed without a closing time: counts closed, no hours
        grid = rnd.choice("ABC")
        out.append(inc(f"r{k}", grid, rnd.choice(["w1", "w2", "w3", None]), rnd.choice(["road", "litter"]), rep, st,
                       due_at=rep + dt.timedelta(hours=rnd.choice([24, 48, 72])) if rnd.random() < 0.95 else None,
                       closed_at=closed, rework_count=rnd.choice([0, 0, 0, 1]), extended=rnd.random() < 0.1,
                       reopen_count=rnd.choice([0, 0, 0, 0, 1]),
                       dispatched_at=rep + dt.timedelta(minutes=rnd.randrange(1, 400)) if st not in ("reported",) else None,
                       rating=rnd.choice([None, None, 1, 2, 3, 4, 5]),
                       merged_into="r0" if st == "merged" or rnd.random() < 0.01 else None))
    return _with_towns(out)


@pytest.mark.slow
def test_random_history_equal_and_by_month(empty_services) -> None:
    incs = _store(empty_services, _random_history(3000))
    repo = empty_services.store.incidents
    start, end = dt.datetime(2024, 2, 10, tzinfo=SH), dt.datetime(2025, 1, 20, tzinfo=SH)
    for as_of in (None, dt.datetime(2024, 8, 1, 12, tzinfo=SH)):
        for by in BY:
            assert_same(compute_db(repo, by, start, end, as_of=as_of, tz=SH)[0],
                        compute(incs, by, start, end, as_of=as_of))
    # by month: the Python metrics grouped by the local month, through the zone field
    label = {i.id: i.reported_at.astimezone(SH).strftime("%Y-%m") for i in incs}
    want = compute([replace(i, zone_code=label[i.id]) for i in incs], "zone", start, end)
    got = compute_db(repo, "month", start, end, tz=SH)[0]
    assert_same(got, want)
    assert got[0].key == "2024-02" and got[-1].key == "2025-01"
    # one grid's metrics (the grid page): only its incidents, read by the grid index, same answers
    for grid in ("A", "C"):
        mine = [i for i in incs if i.grid_code == grid]
        for by in ("all", "category"):
            assert_same(compute_db(repo, by, start, end, tz=SH, grid_codes=[grid])[0], compute(mine, by, start, end))


def test_hotline_rates_by_hand(empty_services) -> None:
    """三率 on five incidents: response within 2 h, resolution confirmed (rated, never reopened), rating >= 4."""
    r = t(3, 1, 8)
    h = dt.timedelta(hours=1)
    incs = [
        inc("a", "A", "w1", "road", r, "closed", dispatched_at=r + h, closed_at=r + 5 * h, rating=5),
        inc("b", "A", "w1", "road", r, "closed", dispatched_at=r + 3 * h, closed_at=r + 9 * h, rating=4,
            reopen_count=1),
        inc("c", "A", "w1", "road", r, "closed", dispatched_at=r + 2 * h, closed_at=r + 9 * h, rating=2),
        inc("d", "A", "w1", "road", r, "dispatched", dispatched_at=r + 0.5 * h),
        inc("e", "A", "w1", "road", r, "rejected", rating=1),  # not filed: never due a response; its rating counts
        inc("f", "A", "w1", "road", END - 0.5 * h, "filed"),  # still inside its 2 h: not judged yet
    ]
    _store(empty_services, incs)
    (m,), (rates,) = compute_db(empty_services.store.incidents, "all", START, END, tz=SH, response_limit_hours=2)
    assert (rates.responded, rates.response_due, rates.response_rate) == (3, 4, 0.75)  # a, c (exactly 2 h), d
    assert (rates.resolved, rates.closed_rated, rates.resolution_rate) == (2, 3, 2 / 3)  # a, c; b was reopened
    assert (rates.satisfied, m.rated, rates.satisfaction_rate) == (2, 4, 0.5)  # a, b of a, b, c, e


def test_month_bounds_and_p90_helper() -> None:
    b = month_bounds(dt.datetime(2024, 1, 31, 20, tzinfo=dt.timezone.utc), dt.datetime(2024, 3, 1, tzinfo=SH), SH)
    assert [k for k, _ in b] == ["2024-02"]  # 2024-01-31 20:00 UTC is already February in Shanghai
    import numpy as np

    for n in (1, 2, 3, 10, 11, 101, 1001):
        values = sorted(random.Random(n).uniform(0, 100) for _ in range(n))
        assert p90_linear(n, dict(enumerate(values))) == float(np.percentile(values, 90, method="linear"))


def test_sqlite_p90_from_packed_strings_equals_the_streamed_rows(empty_services, monkeypatch) -> None:
    """SQLite's p90 reads the hours as one group_concat of whole microseconds (metrics_sql._p90_packed):
    bit-for-bit the values the row-by-row path streams, per group; with a key that holds its
    separator it falls back to that path, with the same answers."""
    import sqlalchemy as sa

    from gridmap.store import metrics_sql

    if empty_services.store.backend != "sqlite":
        pytest.skip("the packed path is SQLite's (PostgreSQL sorts in array_agg)")
    _store(empty_services, _random_history(1500, seed=9))
    start, end = dt.datetime(2024, 2, 10, tzinfo=dt.timezone.utc), dt.datetime(2025, 1, 20, tzinfo=dt.timezone.utc)
    months = month_bounds(start, end, SH)
    store = empty_services.store
    with store.connect() as conn:
        def both(by, extra=None):
            packed = metrics_sql.p90_rows(conn, "sqlite", by, start, end, end, months, extra)
            with monkeypatch.context() as m:
                m.setattr(metrics_sql, "_p90_packed", lambda *a: None)
                streamed = metrics_sql.p90_rows(conn, "sqlite", by, start, end, end, months, extra)
            return packed, streamed

        for by in (*BY, "month"):
            packed, streamed = both(by)
            assert packed == streamed and len(packed) >= 1, by
        packed, streamed = both("category", metrics_sql._T.c.grid_code.in_(["A"]))
        assert packed == streamed and set(packed) == {"road", "litter"}
        assert None in both("worker")[0]  # unassigned incidents: the NULL key comes back as None
        # a key holding the separator: the strings cannot be split back, the rows are streamed instead
        monkeypatch.setattr(metrics_sql, "_SEP", "o")  # "road" holds it
        where = metrics_sql._T.c.id > 0
        assert metrics_sql._p90_packed(conn, metrics_sql._T.c.category, [where, metrics_sql._T.c.close_hours.is_not(None)],
                                       "category") is None
        monkeypatch.undo()
        packed, streamed = both("category")
        assert packed == streamed
        assert conn.execute(sa.select(sa.func.count()).select_from(metrics_sql._T)).scalar() == 1500


def test_postgresql_bulk_import_leaves_the_table_vacuumed_and_analysed(empty_services) -> None:
    """After the streamed import (writer()), PostgreSQL has fresh statistics and a visibility map
    (VACUUM (ANALYZE)) for the incidents and both roll-ups: the metrics' index-only scans then read
    no heap rows, and the planner knows how many roll-up rows a year holds. A metrics query runs
    with a larger work_mem in its own transaction only."""
    import sqlalchemy as sa

    store = empty_services.store
    if store.backend != "postgresql":
        pytest.skip("PostgreSQL's maintenance after a bulk load")
    incs = [replace(i, id="", extra={}) for i in _random_history(300, seed=4)]
    with store.incidents.writer() as write:
        write([(c, Event("", c.reported_at, "test", "import", None, c.status), None) for c in incs])
    import time

    deadline = time.monotonic() + 5  # the statistics views may lag the VACUUM's session by a moment
    while True:
        with store.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT relname, last_vacuum IS NOT NULL AND last_analyze IS NOT NULL FROM pg_stat_user_tables "
                "WHERE relname IN ('incidents', 'incident_rollup_day', 'incident_rollup_month')")).all()
            vacuumed = analysed = len(rows) == 3 and all(done for _, done in rows)
            before = conn.exec_driver_sql("SHOW work_mem").scalar()
        if (vacuumed and analysed) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert vacuumed and analysed, rows
    compute_db(store.incidents, "zone", dt.datetime(2024, 1, 1, tzinfo=SH), dt.datetime(2025, 1, 1, tzinfo=SH))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("SHOW work_mem").scalar() == before  # SET LOCAL ended with its transaction
