"""The streamed incident import (incidents.bulk): bulk assignment equals the one-point rule,
batches change nothing, and a bad row in a late batch leaves nothing written (both backends)."""

from __future__ import annotations

import io
from dataclasses import replace

import pytest
import sqlalchemy as sa

from gridmap.errors import InputError
from gridmap.incidents.bulk import assign_many, check_rows, count_rows, import_csv
from gridmap.incidents.model import Event

from .conftest import GRIDS

HEADER = "id,reported_at,category,lon,lat,source,severity,description,status,closed_at,rating\n"


def _csv(n: int, bad_at: int | None = None) -> str:
    lines = []
    for i in range(n):
        # inside G1..G3, on the shared edge x = 116.1 (lowest code wins), just outside (nearest), far away (town queue)
        lon = (116.05, 116.15, 116.25, 116.1, 116.3005, 117.5)[i % 6]
        cat = "aliens" if i == bad_at else "exposed_rubbish"
        lines.append(f"R{i},2026-03-{1 + i % 28:02d}T09:00:00+08:00,{cat},{lon},39.05,热线,1,垃圾,closed,"
                     f"2026-03-{1 + i % 28:02d}T11:00:00+08:00,{1 + i % 5}\n")
    return HEADER + "".join(lines)


def test_bulk_assignment_equals_the_one_point_rule(services) -> None:
    svc = services.incidents
    rows = list(__import__("csv").DictReader(io.StringIO(_csv(24))))
    bulk, problems = check_rows(svc, rows, first_line=2)
    assert not problems
    one = [replace(i) for i in bulk]
    assign_many(svc, bulk)
    for inc in one:
        svc._assign(inc)
    fields = ("grid_code", "zone_code", "town_code", "plan", "assignment", "distance_m")
    assert [[getattr(i, f) for f in fields] for i in bulk] == [[getattr(i, f) for f in fields] for i in one]
    assert {i.grid_code for i in bulk[:4]} == {GRIDS[0], GRIDS[1], GRIDS[2]}  # the edge point goes to G1
    assert bulk[3].grid_code == GRIDS[0] and bulk[4].assignment == "nearest"


def _import(svc, text: str, size: int, skip_bad: bool = False):
    repo = svc.repo
    with repo.writer() as write:
        res = import_csv(svc, io.StringIO(text), lambda good: write(
            [(i, Event("", i.reported_at, "t", "import", None, i.status), None) for i in good]), size=size)
        if res.bad and not skip_bad:
            raise InputError(f"{res.bad} bad rows", res.problems)
    return res


def test_batches_write_the_same_rows(services) -> None:
    svc = services.incidents
    res = _import(svc, _csv(50), size=7)
    assert (res.rows, res.good, res.bad) == (50, 50, 0) and svc.repo.count() == 50
    stored = svc.repo.query(order="reported_at")
    by_ext = {i.extra.get("external_id"): i for i in stored}
    assert by_ext["R3"].grid_code == GRIDS[0] and by_ext["R0"].rating == 1 and by_ext["R5"].assignment in (
        "town_queue", "unassigned")
    assert sorted(int(i.id) for i in stored) == list(range(1, 51))  # ids continue across batches
    assert all(len(svc.repo.events(i.id)) == 1 for i in stored[:5])


def test_a_bad_row_in_a_late_batch_leaves_nothing(services) -> None:
    svc = services.incidents
    with pytest.raises(InputError) as err:
        _import(svc, _csv(40, bad_at=33), size=10)  # three batches written before the bad row is read
    problems = "; ".join(err.value.problems)  # zh_CN (the default): "category: 未知的事件类别 'aliens' / category: ..."
    assert "row 35 (R33): category: " in problems and "unknown category 'aliens'" in problems
    assert svc.repo.count() == 0
    res = _import(svc, _csv(40, bad_at=33), size=10, skip_bad=True)
    assert (res.good, res.bad) == (39, 1) and svc.repo.count() == 39


def test_count_rows(tmp_path) -> None:
    p = tmp_path / "a.csv"
    p.write_text(_csv(12), encoding="utf-8")
    assert count_rows(p) == 12


def test_large_batches_store_what_small_ones_store(services) -> None:
    """PostgreSQL COPYs batches of 1,000 rows or more (executemany below): the rows read back the same."""
    svc = services.incidents
    text = _csv(1200)
    _import(svc, text, size=1500)  # one batch: COPY on PostgreSQL, driver executemany on SQLite
    _import(svc, text, size=500)  # batches under 1,000: the plain INSERT path on both
    stored = svc.repo.query(order="reported_at")
    assert len(stored) == 2400
    pairs: dict[str, list] = {}
    for inc in sorted(stored, key=lambda i: int(i.id)):
        pairs.setdefault(inc.extra["external_id"], []).append(inc)
    for big, small in pairs.values():
        assert int(big.id) < int(small.id)
        assert replace(big, id="", version=0) == replace(small, id="", version=0)
    ev = svc.repo.events(pairs["R7"][0].id)
    assert [(e.action, e.to_status, e.actor) for e in ev] == [("import", "closed", "t")]


def _indexes(store) -> list[tuple[str, str]]:
    """The indexes of incidents and incident_events, with their definitions, as the database holds them."""
    with store.engine.connect() as conn:
        if store.backend == "postgresql":
            sql = ("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                   "AND tablename IN ('incidents', 'incident_events') ORDER BY 1")
        else:
            sql = ("SELECT name, coalesce(sql, '') FROM sqlite_master WHERE type = 'index' "
                   "AND tbl_name IN ('incidents', 'incident_events') ORDER BY 1")
        return [tuple(r) for r in conn.exec_driver_sql(sql).all()]


def _import_expecting(svc, text: str, size: int):
    with svc.repo.writer(expected=text.count("\n") - 1) as write:
        res = import_csv(svc, io.StringIO(text), lambda good: write(
            [(i, Event("", i.reported_at, "t", "import", None, i.status), None) for i in good]), size=size)
        if res.bad:
            raise InputError(f"{res.bad} bad rows", res.problems)
    return res


def test_a_big_import_rebuilds_the_indexes_and_stores_the_same(services, monkeypatch) -> None:
    """A load big enough (bulkload.MIN_ROWS, 50 here) drops the secondary indexes and builds them
    again before the commit: the same indexes after, the same rows and roll-ups as a small import."""
    from gridmap.store import bulkload, rollup, schema

    from .test_rollup import _rebuilt, _tables

    store = services.store
    before = _indexes(store)
    assert len(before) >= 15 and any(name == "ix_incidents_metrics" for name, _ in before)
    seen: list[list] = []
    drop = bulkload.drop_indexes
    monkeypatch.setattr(bulkload, "MIN_ROWS", 50)
    monkeypatch.setattr(bulkload, "drop_indexes", lambda *a: seen.append(drop(*a)) or seen[-1])
    _import_expecting(services.incidents, _csv(120), size=25)
    assert len(seen) == 1 and len(seen[0]) == len([n for n, _ in before if not n.endswith("_pkey")])  # not the keys
    assert _indexes(store) == before
    assert store.incidents.count() == 120
    assert _tables(store) == _rebuilt(store)  # the roll-ups summed in Python equal SQL's rebuild
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.sum(schema.rollup_day.c["count"]))).scalar() == 120
    # a second, small import (under half the table's rows on SQLite; a table not empty on PostgreSQL)
    # keeps the indexes in place
    _import_expecting(services.incidents, _csv(55), size=25)
    assert len(seen) == 1 and _indexes(store) == before and store.incidents.count() == 175
    assert _tables(store) == _rebuilt(store)
    assert rollup.LIMIT_HOURS == 2.0


def test_a_bad_row_in_a_big_import_leaves_the_indexes_and_nothing(services, monkeypatch) -> None:
    """The drop, the load and the rebuild are one transaction: a bad row late in the file rolls all back."""
    from gridmap.store import bulkload

    store = services.store
    before = _indexes(store)
    monkeypatch.setattr(bulkload, "MIN_ROWS", 50)
    with pytest.raises(InputError):
        _import_expecting(services.incidents, _csv(120, bad_at=110), size=25)
    assert store.incidents.count() == 0
    assert _indexes(store) == before
    with store.connect() as conn:  # the roll-ups too
        assert conn.exec_driver_sql("SELECT count(*) FROM incident_rollup_day").scalar() == 0


@pytest.mark.parametrize(("backend", "expected", "existing", "worth"), [
    ("sqlite", 49_999, 0, False), ("sqlite", 50_000, 0, True), ("sqlite", 50_000, 100_001, False),
    ("sqlite", 1_000_000, 2_000_000, True), ("postgresql", 1_000_000, 0, True),
    ("postgresql", 1_000_000, 1, False), ("postgresql", 49_999, 0, False)])
def test_when_a_load_drops_the_indexes(backend, expected, existing, worth) -> None:
    from gridmap.store import bulkload

    assert bulkload.worth_it(backend, expected, existing) is worth
