"""Board text search by index (store/textsearch.py, migration 0012), on SQLite and PostGIS: every
substring of 1, 2 or more characters finds exactly what ``description LIKE`` finds, the index
follows inserts, updates and deletes in their transaction, and the query plan uses it."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
import sqlalchemy as sa

from gridmap.incidents.model import Event
from gridmap.store import schema
from gridmap.store.textsearch import description_has
from tests.test_metrics import SH, inc

TEXTS = ["小区井盖丢失", "路灯不亮", "井盖", "垃圾井", "道路破损 100% 修_复", 'say "hi" Road', "老旧小区楼道堆物"]


def _stored(services, texts=TEXTS) -> list:
    r = dt.datetime(2024, 3, 1, 9, tzinfo=SH)
    incs = [replace(inc(f"t{k}", "A", "w1", "road", r, "filed"), id="", extra={}, description=d)
            for k, d in enumerate(texts)]
    services.store.incidents.add_many([(i, Event("", r, "test", "import", None, "filed"), None) for i in incs])
    return incs


def _found(store, text: str) -> set[str]:
    t = schema.incidents
    with store.connect() as conn:
        return set(conn.execute(sa.select(t.c.description).where(description_has(text))).scalars())


def _like(store, text: str) -> set[str]:
    t = schema.incidents
    pat = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    with store.connect() as conn:
        return set(conn.execute(sa.select(t.c.description).where(t.c.description.like(pat, escape="\\"))).scalars())


QUERIES = ["井", "盖", "失", "井盖", "小区", "盖丢失", "井盖丢", "路灯不亮", "区井", "不亮", "堆物", "100%", "修_复",
           '"hi"', "Road", "破损 1", "无此词", "亮亮"]


def test_every_substring_length_finds_what_like_finds(empty_services) -> None:
    _stored(empty_services)
    for q in QUERIES:
        assert _found(empty_services.store, q) == _like(empty_services.store, q), q
    assert _found(empty_services.store, "井") == {"小区井盖丢失", "井盖", "垃圾井"}  # 井 last in 垃圾井
    assert _found(empty_services.store, "井盖") == {"小区井盖丢失", "井盖"}


def test_index_follows_updates_and_deletes(empty_services) -> None:
    incs = _stored(empty_services)
    repo, store = empty_services.store.incidents, empty_services.store
    cur = repo.get(incs[1].id)
    repo.update(replace(cur, description="路灯坏了 井盖松动"), cur.version, [])
    assert _found(store, "路灯") == {"路灯坏了 井盖松动"}
    assert _found(store, "不亮") == set()
    assert _found(store, "松动") == {"路灯坏了 井盖松动"}
    with store.transaction() as conn:
        conn.execute(schema.incident_events.delete().where(schema.incident_events.c.incident_id == int(incs[2].id)))
        conn.execute(schema.incidents.delete().where(schema.incidents.c.id == int(incs[2].id)))
    assert _found(store, "井盖") == {"小区井盖丢失", "路灯坏了 井盖松动"}
    with pytest.raises(RuntimeError):  # a rolled-back write leaves the index as it was
        with store.transaction() as conn:
            conn.execute(schema.incidents.update().where(schema.incidents.c.id == int(incs[0].id))
                         .values(description="全新文字"))
            raise RuntimeError
    assert _found(store, "全新") == set() and "小区井盖丢失" in _found(store, "小区")


def test_query_plan_uses_the_index(empty_services) -> None:
    _stored(empty_services, TEXTS * 30)
    store = empty_services.store
    t = schema.incidents
    with store.connect() as conn:
        for q in ("井盖", "盖丢失"):
            stmt = sa.select(t.c.id).where(description_has(q))
            sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            if store.backend == "sqlite":
                plan = " ".join(str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql).all())
                assert "incidents_fts VIRTUAL TABLE INDEX 0:M" in plan, plan  # a MATCH on the trigram index
                assert "LIKE" not in sql
            else:
                conn.exec_driver_sql("ANALYZE incidents")
                conn.exec_driver_sql("SET enable_seqscan = off")  # a few rows: the planner would rather scan
                plan = " ".join(r[0] for r in conn.exec_driver_sql("EXPLAIN " + sql).all())
                assert "ix_incidents_text_trgm" in plan, plan


def test_board_search_finds_two_character_words(empty_services) -> None:
    from gridmap.store.board import BoardFilter, BoardQueries

    _stored(empty_services)
    now = dt.datetime(2024, 3, 2, tzinfo=SH)
    q = BoardQueries(empty_services.store)
    f = BoardFilter(text="井盖")
    assert {i.description for i in q.page(f, "all", now)} == {"小区井盖丢失", "井盖"}
    assert q.counts(f, now)["all"] == 2 and q.counts(BoardFilter(text="井"), now)["new"] == 3
