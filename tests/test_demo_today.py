"""The demo stays alive: its history is the year before today (moved by whole weeks), and
`supervise` runs in it, so escalations exist. Both backends."""

from __future__ import annotations

import csv
import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from gridmap.demo import HISTORY_AS_OF, demo_data_dir, history_shift, run_demo
from gridmap.settings import Settings

TZ = ZoneInfo("Asia/Shanghai")


def shipped() -> list[dict]:
    with open(demo_data_dir() / "incidents.csv", encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_the_shift_is_whole_weeks_and_never_into_the_future():
    assert history_shift(HISTORY_AS_OF) == dt.timedelta(0)
    for days in (1, 6, 7, 30, 200, 365, 1000):
        today = HISTORY_AS_OF + dt.timedelta(days=days)
        shift = history_shift(today)
        assert shift.days % 7 == 0 and 0 <= days - shift.days < 7


@pytest.mark.slow
def test_demo_a_month_later_has_a_recent_history_and_escalations(db_url, tmp_path):
    today = dt.date(2026, 12, 2)  # a Wednesday, a month after the shipped history ends
    s = run_demo(Settings(db=db_url), out_dir=tmp_path / "out", echo=lambda *a: None, today=today)
    try:

        loop = s.incidents
        incs = loop.repo.query(limit=100_000)
        assert len(incs) == 3000
        start = dt.datetime.combine(today, dt.time(), TZ)
        latest = max(i.reported_at for i in incs)
        assert start - dt.timedelta(days=7) <= latest < start  # the history ends in the week before today
        times = [t for i in incs for t in (i.reported_at, i.dispatched_at, i.handled_at, i.closed_at) if t]
        assert max(times) < start  # nothing happened after "now"
        # same shape: every report moved by the same whole weeks, so the weekday of each is kept
        by_id = {r["id"]: r for r in shipped()}
        for inc in incs[:200]:
            was = dt.datetime.fromisoformat(by_id[inc.extra["external_id"]]["reported_at"])
            assert inc.reported_at - was == dt.timedelta(days=28) and inc.reported_at.astimezone(TZ).weekday() == was.weekday()
        escalated = [i for i in incs if i.extra.get("overdue_escalated")]
        # supervise runs as of the day's start, or as of now when the pinned day is the real one (demo.py)
        as_of = max(start, dt.datetime.now(TZ))
        assert escalated and all(i.due_at < as_of and i.status in ("dispatched", "in_progress") for i in escalated)
        assert all(e.action == "overdue" for e in loop.repo.events(escalated[0].id)[-1:])
        # overdue cases are as late as in the shipped history on its day (moved by whole weeks, the
        # demo is at most 6 days older), not a month later than that
        late = sorted((start - i.due_at).days for i in incs if i.is_open and i.due_at and i.due_at < start)
        as_of = dt.datetime.combine(HISTORY_AS_OF, dt.time(), TZ)
        was = sorted((as_of - dt.datetime.fromisoformat(r["due_at"])).days for r in shipped()
                     if r["status"] not in ("closed", "rejected", "merged") and r["due_at"]
                     and dt.datetime.fromisoformat(r["due_at"]) < as_of)
        assert abs(len(late) - len(was)) <= 20 and abs(late[len(late) // 2] - was[len(was) // 2]) <= 7
    finally:
        s.store.close()


@pytest.mark.slow
def test_demo_on_the_shipped_day_reproduces_the_files(tmp_path):
    s = run_demo(Settings(db=str(tmp_path / "d.db")), out_dir=tmp_path / "out", echo=lambda *a: None,
                 today=HISTORY_AS_OF)
    try:

        incs = {i.extra["external_id"]: i for i in s.incidents.repo.query(limit=100_000)}
        for row in shipped()[::97]:
            assert incs[row["id"]].reported_at == dt.datetime.fromisoformat(row["reported_at"])
    finally:
        s.store.close()
