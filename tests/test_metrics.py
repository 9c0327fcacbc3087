"""Dispatch metrics (gridmap.incidents.metrics) against values computed by hand.

The fixture: March 2024 in Asia/Shanghai, range [2024-03-01 00:00, 2024-04-01 00:00),
as_of defaults to the end. Zone Z1 = grids A, B; zone Z2 = grid C; workers w1, w2.

    id   grid zone worker cat     reported     status       due          closed       notes
    i1   A    Z1   w1     road    03-01 00:00  closed       03-02 00:00  03-01 10:00  10 h, on time, rating 5, AT start
    i2   A    Z1   w1     road    03-02 08:00  closed       03-03 08:00  03-04 08:00  48 h, late, rework 1, rating 3
    i3   A    Z1   w2     litter  03-05 00:00  closed       03-06 00:00  03-05 20:00  20 h, on time, extended, rating 4
    i4   A    Z1   w2     litter  03-10 00:00  in_progress  03-12 00:00  -            open past due
    i5   B    Z1   w1     road    03-15 00:00  rejected     03-20 00:00  -            excluded
    i6   B    Z1   w1     road    03-16 00:00  merged       -            -            excluded (merged_into i1)
    i7   B    Z1   None   litter  03-20 00:00  reported     04-01 06:00  -            excluded (never filed)
    i8   C    Z2   w2     road    03-08 00:00  closed       03-09 00:00  03-09 06:00  30 h, late, rework 2, extended, rating 2
    i9   C    Z2   w2     litter  03-31 23:59:59 dispatched 04-02 00:00  -            open, deadline not passed, 1 s before end
    i10  C    Z2   w1     road    04-01 00:00  closed       04-01 12:00  04-01 05:00  AT end -> out of range
    i11  C    Z2   w1     road    02-29 23:00  dispatched   03-01 00:00  -            before start -> out of range
    i12  C    Z2   w1     road    03-20 00:00  closed       -            03-21 00:00  24 h, no deadline -> not on time
    i13  B    Z1   w2     road    03-25 00:00  closed       03-28 00:00  04-03 00:00  closed AFTER as_of -> open+overdue
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from gridmap.incidents.metrics import Metrics, compute, due_soon, overdue, rank_zones
from gridmap.incidents.model import Incident

SH = ZoneInfo("Asia/Shanghai")
START = dt.datetime(2024, 3, 1, tzinfo=SH)
END = dt.datetime(2024, 4, 1, tzinfo=SH)


def t(month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> dt.datetime:
    """A 2024 Shanghai time."""
    return dt.datetime(2024, month, day, hour, minute, second, tzinfo=SH)


GRID_ZONE = {"A": "Z1", "B": "Z1", "C": "Z2"}


def inc(iid: str, grid: str, worker: str | None, category: str, reported: dt.datetime, status: str, **kw) -> Incident:
    """An incident in ``grid`` (its zone derived from GRID_ZONE)."""
    return Incident(
        id=iid, category=category, lon=116.0, lat=39.0, reported_at=reported, status=status,
        grid_code=grid, zone_code=GRID_ZONE[grid], assignee=worker, **kw,
    )


def dataset() -> list[Incident]:
    """The 13 incidents of the module docstring table."""
    return [
        inc("i1", "A", "w1", "road", t(3, 1), "closed", due_at=t(3, 2), closed_at=t(3, 1, 10), rating=5),
        inc("i2", "A", "w1", "road", t(3, 2, 8), "closed", due_at=t(3, 3, 8), closed_at=t(3, 4, 8),
            rework_count=1, rating=3),
        inc("i3", "A", "w2", "litter", t(3, 5), "closed", due_at=t(3, 6), closed_at=t(3, 5, 20),
            extended=True, rating=4),
        inc("i4", "A", "w2", "litter", t(3, 10), "in_progress", due_at=t(3, 12)),
        inc("i5", "B", "w1", "road", t(3, 15), "rejected", due_at=t(3, 20)),
        inc("i6", "B", "w1", "road", t(3, 16), "merged", merged_into="i1"),
        inc("i7", "B", None, "litter", t(3, 20), "reported", due_at=t(4, 1, 6)),
        inc("i8", "C", "w2", "road", t(3, 8), "closed", due_at=t(3, 9), closed_at=t(3, 9, 6),
            rework_count=2, extended=True, rating=2),
        inc("i9", "C", "w2", "litter", t(3, 31, 23, 59, 59), "dispatched", due_at=t(4, 2)),
        inc("i10", "C", "w1", "road", t(4, 1), "closed", due_at=t(4, 1, 12), closed_at=t(4, 1, 5)),
        inc("i11", "C", "w1", "road", t(2, 29, 23), "dispatched", due_at=t(3, 1)),
        inc("i12", "C", "w1", "road", t(3, 20), "closed", closed_at=t(3, 21)),
        inc("i13", "B", "w2", "road", t(3, 25), "closed", due_at=t(3, 28), closed_at=t(4, 3)),
    ]


def by_key(metrics: list[Metrics]) -> dict[str | None, Metrics]:
    return {m.key: m for m in metrics}


# --- by grid ------------------------------------------------------------------------------------


def test_grid_a_counts_and_rates() -> None:
    a = by_key(compute(dataset(), "grid", START, END))["A"]
    # grid A: i1..i4 all in range (i1 exactly at start, inclusive) and all filed.
    assert (a.count, a.filed) == (4, 4)
    # due = 4 (i1, i2, i3 closed; i4 open past its 03-12 deadline), closed = 3, overdue_open = 1
    assert (a.due, a.closed, a.overdue_open) == (4, 3, 1)
    # on time: i1 (10:00 <= 03-02) and i3 (20:00 <= 03-06); i2 closed 03-04 after 03-03 08:00 -> 2
    assert a.closed_on_time == 2
    assert a.closure_rate == pytest.approx(3 / 4)  # 结案率 = 3/4
    assert a.on_time_rate == pytest.approx(2 / 4)  # 按期结案率 = 2/4 = 0.5
    assert a.rework == 1 and a.rework_rate == pytest.approx(1 / 3)  # i2 among 3 closed
    assert a.extended == 1 and a.extension_rate == pytest.approx(1 / 4)  # i3 among 4 due
    # hours to close: i1 10, i2 48, i3 20 -> mean 78/3 = 26
    assert a.mean_hours_to_close == pytest.approx(26.0)
    # p90 linear: sorted [10, 20, 48], position 0.9*(3-1) = 1.8 -> 20 + 0.8*(48-20) = 42.4
    assert a.p90_hours_to_close == pytest.approx(42.4)
    # ratings 5, 3, 4 -> 4.0
    assert (a.satisfaction, a.rated) == (pytest.approx(4.0), 3)


def test_grid_b_excludes_rejected_merged_reported_and_late_closure() -> None:
    b = by_key(compute(dataset(), "grid", START, END))["B"]
    # i5 rejected, i6 merged, i7 still 'reported': counted as reported in range, never filed/due.
    assert (b.count, b.filed) == (4, 1)
    # i13 is 'closed' but closed_at 04-03 > as_of 04-01: open at as_of, past its 03-28 deadline.
    assert (b.due, b.closed, b.overdue_open, b.closed_on_time) == (1, 0, 1, 0)
    assert b.closure_rate == 0.0 and b.on_time_rate == 0.0  # 0/1: something was due, none closed
    assert b.extension_rate == 0.0
    assert b.rework_rate is None  # 0 closed: no denominator
    assert b.mean_hours_to_close is None and b.p90_hours_to_close is None
    assert (b.satisfaction, b.rated) == (None, 0)


def test_grid_c_no_deadline_is_not_on_time_and_range_end_exclusive() -> None:
    c = by_key(compute(dataset(), "grid", START, END))["C"]
    # in range: i8, i9 (1 s before end), i12; i10 (exactly at end) and i11 (before start) are out.
    assert (c.count, c.filed) == (3, 3)
    # due = 2: i8 and i12 closed; i9 open but its deadline 04-02 is after as_of -> not due.
    assert (c.due, c.closed, c.overdue_open) == (2, 2, 0)
    # i8 closed 06:00 after its 00:00 deadline; i12 has no due_at -> closed but NOT on time.
    assert c.closed_on_time == 0
    assert c.closure_rate == 1.0 and c.on_time_rate == 0.0
    assert c.rework_rate == pytest.approx(1 / 2)  # i8 of 2 closed
    assert c.extension_rate == pytest.approx(1 / 2)  # i8 of 2 due
    # hours: i8 30, i12 24 -> mean 27; p90: position 0.9 -> 24 + 0.9*6 = 29.4
    assert c.mean_hours_to_close == pytest.approx(27.0)
    assert c.p90_hours_to_close == pytest.approx(29.4)
    assert (c.satisfaction, c.rated) == (pytest.approx(2.0), 1)


def test_grid_keys_sorted() -> None:
    assert [m.key for m in compute(dataset(), "grid", START, END)] == ["A", "B", "C"]


# --- other groupings ----------------------------------------------------------------------------


def test_by_zone() -> None:
    z = by_key(compute(dataset(), "zone", START, END))
    assert list(z) == ["Z1", "Z2"]
    z1 = z["Z1"]
    # Z1 = grid A + grid B: count 4+4, filed 4+1, due 4+1, closed 3+0, on time 2+0, overdue 1+1
    assert (z1.count, z1.filed, z1.due, z1.closed, z1.closed_on_time, z1.overdue_open) == (8, 5, 5, 3, 2, 2)
    assert z1.closure_rate == pytest.approx(3 / 5)
    assert z1.on_time_rate == pytest.approx(2 / 5)
    assert z1.extension_rate == pytest.approx(1 / 5)
    assert z1.satisfaction == pytest.approx(4.0)
    assert z["Z2"].on_time_rate == 0.0 and z["Z2"].closure_rate == 1.0  # = grid C


def test_by_worker_groups_missing_assignee_under_none_last() -> None:
    w = compute(dataset(), "worker", START, END)
    assert [m.key for m in w] == ["w1", "w2", None]
    w1, w2, nobody = w
    # w1 in range: i1, i2, i5, i6, i12 -> filed i1, i2, i12, all closed -> due 3, on time i1 only
    assert (w1.count, w1.filed, w1.due, w1.closed, w1.closed_on_time) == (5, 3, 3, 3, 1)
    assert w1.on_time_rate == pytest.approx(1 / 3)
    assert w1.extension_rate == 0.0  # 0 of 3 due extended
    assert w1.mean_hours_to_close == pytest.approx((10 + 48 + 24) / 3)
    assert w1.satisfaction == pytest.approx(4.0)  # (5 + 3) / 2
    # w2: i3, i4, i8, i9, i13 -> closed i3, i8; overdue i4, i13; due 4; on time i3
    assert (w2.count, w2.filed, w2.due, w2.closed, w2.overdue_open, w2.closed_on_time) == (5, 5, 4, 2, 2, 1)
    assert w2.on_time_rate == pytest.approx(0.25)
    assert w2.closure_rate == pytest.approx(0.5)
    assert w2.extension_rate == pytest.approx(0.5)  # i3, i8 of 4 due
    assert w2.satisfaction == pytest.approx(3.0)  # (4 + 2) / 2
    # key None: only i7 (never filed) -> every denominator is 0 -> every rate None, not 0%
    assert (nobody.count, nobody.filed, nobody.due, nobody.closed) == (1, 0, 0, 0)
    assert nobody.closure_rate is None and nobody.on_time_rate is None
    assert nobody.rework_rate is None and nobody.extension_rate is None
    assert nobody.satisfaction is None and nobody.mean_hours_to_close is None


def test_by_category() -> None:
    c = compute(dataset(), "category", START, END)
    # litter: i3, i4, i7, i9; road: i1, i2, i5, i6, i8, i12, i13
    assert [(m.key, m.count) for m in c] == [("litter", 4), ("road", 7)]


def test_all() -> None:
    (m,) = compute(dataset(), "all", START, END)
    assert m.key == "all"
    # 13 minus i10 (at end) and i11 (before start) = 11; filed minus i5, i6, i7 = 8
    assert (m.count, m.filed) == (11, 8)
    # closed i1, i2, i3, i8, i12 = 5; overdue open i4, i13 = 2; due 7; on time i1, i3 = 2
    assert (m.closed, m.overdue_open, m.due, m.closed_on_time) == (5, 2, 7, 2)
    assert m.on_time_rate == pytest.approx(2 / 7)
    assert m.closure_rate == pytest.approx(5 / 7)
    assert m.rework_rate == pytest.approx(2 / 5)  # i2, i8
    assert m.extension_rate == pytest.approx(2 / 7)  # i3, i8
    # hours sorted [10, 20, 24, 30, 48]: mean 132/5 = 26.4; p90 position 3.6 -> 30 + 0.6*18 = 40.8
    assert m.mean_hours_to_close == pytest.approx(26.4)
    assert m.p90_hours_to_close == pytest.approx(40.8)
    assert (m.satisfaction, m.rated) == (pytest.approx(3.5), 4)  # (5+3+4+2)/4
    assert m.due == m.closed + m.overdue_open


def test_all_with_nothing_in_range_reports_none_not_zero() -> None:
    (m,) = compute(dataset(), "all", t(5, 1), t(6, 1))
    assert (m.key, m.count, m.due) == ("all", 0, 0)
    assert m.closure_rate is None and m.on_time_rate is None and m.extension_rate is None
    assert compute(dataset(), "zone", t(5, 1), t(6, 1)) == []


# --- range, as_of and deadline boundaries -------------------------------------------------------


def test_range_start_inclusive_end_exclusive() -> None:
    # shift start by 1 µs: i1 (reported exactly at START) drops out of grid A
    a = by_key(compute(dataset(), "grid", START + dt.timedelta(microseconds=1), END))["A"]
    assert a.count == 3
    # extend end by 1 µs: i10 (reported exactly at END) comes in
    c = by_key(compute(dataset(), "grid", START, END + dt.timedelta(microseconds=1)))["C"]
    assert c.count == 4


def test_as_of_later_counts_late_closure_and_new_overdue() -> None:
    b = by_key(compute(dataset(), "grid", START, END, as_of=t(4, 3)))["B"]
    # at 04-03 i13 is closed (closed_at == as_of counts), late (04-03 > 03-28), 9 days = 216 h
    assert (b.closed, b.overdue_open, b.due, b.closed_on_time) == (1, 0, 1, 0)
    assert b.mean_hours_to_close == pytest.approx(216.0)
    c = by_key(compute(dataset(), "grid", START, END, as_of=t(4, 3)))["C"]
    # i9's deadline 04-02 has now passed -> due 3 (i8, i12 closed + i9 overdue)
    assert (c.due, c.overdue_open) == (3, 1)


def test_deadline_boundaries() -> None:
    base = dict(due_at=t(3, 10))
    exactly = inc("e1", "A", "w1", "road", t(3, 9), "closed", closed_at=t(3, 10), **base)
    (m,) = compute([exactly], "all", START, END)
    assert m.closed_on_time == 1  # closed_at == due_at is on time
    # open with due_at == as_of: deadline not passed -> not due, not overdue, not in either list
    pending = inc("e2", "A", "w1", "road", t(3, 9), "dispatched", **base)
    (m,) = compute([pending], "all", START, END, as_of=t(3, 10))
    assert (m.due, m.overdue_open, m.on_time_rate) == (0, 0, None)
    assert overdue([pending], t(3, 10)) == [] and due_soon([pending], t(3, 10), 24) == []
    # one microsecond later it is overdue
    (m,) = compute([pending], "all", START, END, as_of=t(3, 10) + dt.timedelta(microseconds=1))
    assert (m.due, m.overdue_open, m.on_time_rate) == (1, 1, 0.0)


def test_merged_into_excludes_even_with_open_status() -> None:
    dup = inc("d1", "A", "w1", "road", t(3, 9), "filed", due_at=t(3, 10), merged_into="i1")
    (m,) = compute([dup], "all", START, END)
    assert (m.count, m.filed, m.due, m.overdue_open) == (1, 0, 0, 0)
    assert overdue([dup], END) == []


def test_closed_without_closed_at_counts_closed_without_hours() -> None:
    x = inc("x1", "A", "w1", "road", t(3, 9), "closed", due_at=t(3, 10))
    (m,) = compute([x], "all", START, END)
    assert (m.closed, m.due, m.closed_on_time) == (1, 1, 0)
    assert m.mean_hours_to_close is None


def test_p90_small_set() -> None:
    # hours 1..10 (reported 00:00, closed at h:00): linear p90 position 0.9*9 = 8.1 -> 9 + 0.1*1 = 9.1
    items = [inc(f"p{h}", "A", "w1", "road", t(3, 5), "closed", due_at=t(3, 6), closed_at=t(3, 5, h))
             for h in range(1, 11)]
    (m,) = compute(items, "all", START, END)
    assert m.mean_hours_to_close == pytest.approx(5.5)
    assert m.p90_hours_to_close == pytest.approx(9.1)
    # a single value is its own p90
    (m,) = compute(items[:1], "all", START, END)
    assert m.p90_hours_to_close == pytest.approx(1.0)


# --- input checks -------------------------------------------------------------------------------


def test_invalid_inputs_raise() -> None:
    with pytest.raises(ValueError):
        compute(dataset(), "county", START, END)  # town is a grouping now (issue #13)
    with pytest.raises(ValueError):
        compute(dataset(), "all", START.replace(tzinfo=None), END)
    with pytest.raises(ValueError):
        compute(dataset(), "all", END, START)
    with pytest.raises(ValueError):
        compute(dataset(), "all", START, END, as_of=END.replace(tzinfo=None))
    bad = replace(dataset()[0], rating=6)
    with pytest.raises(ValueError):
        compute([bad], "all", START, END)
    with pytest.raises(ValueError):
        compute([replace(dataset()[0], status="lost")], "all", START, END)
    with pytest.raises(ValueError):
        compute([replace(dataset()[0], closed_at=t(2, 1))], "all", START, END)
    with pytest.raises(ValueError):
        due_soon(dataset(), END, -1)


# --- rank_zones ---------------------------------------------------------------------------------


def zone(key: str | None, on_time: float | None, closure: float | None, sat: float | None) -> Metrics:
    """A Metrics with only the ranking fields meaningful."""
    return Metrics(
        key=key, count=1, filed=1, due=1, closed=1, closed_on_time=1, overdue_open=0, rework=0, extended=0,
        closure_rate=closure, on_time_rate=on_time, rework_rate=None, extension_rate=None,
        mean_hours_to_close=None, p90_hours_to_close=None, satisfaction=sat, rated=0 if sat is None else 1,
    )


def test_rank_zones_from_dataset() -> None:
    ranked = rank_zones(compute(dataset(), "zone", START, END))
    # Z1 on time 0.4 > Z2 0.0 -> Z1 first; Z2 has the lower satisfaction (2.0 < 4.0) -> flagged
    assert [(r["key"], r["rank"], r["flag_lowest_satisfaction"]) for r in ranked] == [
        ("Z1", 1, False), ("Z2", 2, True)]
    assert ranked[0]["on_time_rate"] == pytest.approx(0.4)


def test_rank_zones_ordering_and_none_last() -> None:
    ranked = rank_zones([
        zone("Z5", None, 1.0, 5.0),   # no on-time rate: after every zone that has one
        zone("Z1", 0.5, 0.6, 3.0),    # ties Z2 on on_time, loses on closure
        zone("Z2", 0.5, 0.9, 2.0),
        zone("Z3", 0.8, 0.8, None),   # best on_time; unrated -> never flagged
        zone("Z4", 0.5, 0.6, 4.0),    # ties Z1 on on_time and closure, wins on satisfaction
        zone(None, 1.0, 1.0, 1.0),    # no zone: skipped
    ])
    assert [r["key"] for r in ranked] == ["Z3", "Z2", "Z4", "Z1", "Z5"]
    assert [r["rank"] for r in ranked] == [1, 2, 3, 4, 5]
    # lowest satisfaction among rated zones: Z2 (2.0)
    assert [r["key"] for r in ranked if r["flag_lowest_satisfaction"]] == ["Z2"]


def test_rank_zones_ties_share_rank_and_flag() -> None:
    ranked = rank_zones([
        zone("Z1", 0.5, 0.5, 3.0),
        zone("Z2", 0.5, 0.5, 3.0),   # identical to Z1: same rank, ordered by key
        zone("Z3", 0.4, 0.9, 3.0),   # also lowest satisfaction (tie)
        zone("Z4", 0.4, 0.9, 4.5),   # beats Z3 on satisfaction
        zone("Z5", 0.1, 0.1, None),
    ])
    assert [(r["key"], r["rank"]) for r in ranked] == [("Z1", 1), ("Z2", 1), ("Z4", 3), ("Z3", 4), ("Z5", 5)]
    # 3.0 is the minimum among rated zones, shared by Z1, Z2, Z3 -> all three flagged; Z5 unrated
    assert {r["key"] for r in ranked if r["flag_lowest_satisfaction"]} == {"Z1", "Z2", "Z3"}


def test_rank_zones_edge_cases() -> None:
    assert rank_zones([]) == []
    ranked = rank_zones([zone("Z1", None, None, None), zone("Z2", None, None, None)])
    assert [(r["key"], r["rank"], r["flag_lowest_satisfaction"]) for r in ranked] == [
        ("Z1", 1, False), ("Z2", 1, False)]
    with pytest.raises(ValueError):
        rank_zones([zone("Z1", 0.5, 0.5, 3.0), zone("Z1", 0.4, 0.5, 3.0)])


# --- supervision lists --------------------------------------------------------------------------


def test_overdue_list() -> None:
    # open at 04-01 00:00 with due_at < as_of, earliest first:
    # i11 (03-01; out of report range but lists do not filter), i4 (03-12), i13 (03-28; closed only 04-03).
    # Not listed: i5 rejected (due 03-20), i7 never filed, i9 not yet due, closed ones.
    assert [i.id for i in overdue(dataset(), END)] == ["i11", "i4", "i13"]
    # consistency with compute: over in-range incidents, the list length == overdue_open
    in_range = [i for i in dataset() if START <= i.reported_at < END]
    (m,) = compute(dataset(), "all", START, END)
    assert len(overdue(in_range, END)) == m.overdue_open == 2


def test_due_soon_list() -> None:
    # open at 04-01 00:00 with due_at in (as_of, as_of + within]:
    # i10 (due 04-01 12:00; closed only at 05:00, so open at as_of), i9 (due 04-02 00:00).
    # i7 (due 04-01 06:00) is not listed: still 'reported', never filed.
    assert [i.id for i in due_soon(dataset(), END, 24)] == ["i10", "i9"]  # 24 h: i9 exactly on the edge
    assert [i.id for i in due_soon(dataset(), END, 12)] == ["i10"]  # 12 h: i10 exactly on the edge
    assert due_soon(dataset(), END, 11) == []
    # later: at 04-01 06:00 i10 is closed, so only i9 is left
    assert [i.id for i in due_soon(dataset(), t(4, 1, 6), 24)] == ["i9"]
