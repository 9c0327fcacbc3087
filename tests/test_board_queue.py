"""The board's queues in SQL on both backends: tab counts = rows, paging, filters, search, sort,
CSV export, and dispatch to a chosen person / department from the taxonomy only.

Each test fills the sample store (three grids) with incidents in known states through the
store's bulk path, then asks /board.json as a dispatcher (API token) and checks the answer
against the queue rules worked out in Python from the same incidents.
"""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest

from gridmap.incidents.model import Event, Incident
from gridmap.incidents.queue import QUEUES, queues_of
from gridmap.web.auth import create_token, create_user

from .conftest import GRIDS, ZONE

UTC = dt.timezone.utc
NOW = dt.datetime.now(UTC).replace(microsecond=0)
# (status, escalated, due in hours (None: no deadline), grid index, source, category, description)
PLAN = [
    ("reported", False, None, 0, "随手拍", "exposed_rubbish", "路边垃圾 100% 满"),
    ("reported", True, None, 1, "热线", "exposed_rubbish", "垃圾_堆放"),
    ("reported", False, None, 2, "web", "illegal_advert", "=HYPERLINK(\"http://evil\")"),
    ("filed", False, None, 0, "巡查", "exposed_rubbish", "+1 井盖"),
    ("filed", False, None, 1, "web", "illegal_advert", "-2 路面"),
    ("dispatched", False, 30, 0, "巡查", "exposed_rubbish", "@SUM(A1) 垃圾"),
    ("dispatched", True, -5, 1, "热线", "illegal_advert", "已超时 升级"),
    ("in_progress", False, -30, 2, "随手拍", "exposed_rubbish", "已超时"),
    ("in_progress", False, 10, 0, "随手拍", "illegal_advert", "处置中"),
    ("handled", False, 5, 1, "巡查", "exposed_rubbish", "待核查"),
    ("verified", False, -1, 2, "巡查", "illegal_advert", "已核查 待结案"),
    ("closed", False, -100, 0, "热线", "exposed_rubbish", "已结案"),
    ("closed", True, -100, 1, "热线", "illegal_advert", "已结案 升级过"),
    ("rejected", False, None, 2, "web", "exposed_rubbish", "不予立案"),
    ("merged", False, None, 0, "web", "exposed_rubbish", "重复"),
]


def make(svc) -> list[Incident]:
    """The PLAN's incidents, reported an hour apart (the first most recently)."""
    items = []
    for k, (status, esc, due, g, source, cat, text) in enumerate(PLAN):
        reported = NOW - dt.timedelta(hours=k + 1, days=k)
        inc = Incident(id="", category=cat, lon=116.05 + 0.1 * g, lat=39.05, reported_at=reported, status=status,
                       description=text, source=source, grid_code=GRIDS[g], zone_code=ZONE, escalated=esc,
                       due_at=None if due is None else NOW + dt.timedelta(hours=due),
                       dispatched_at=None if due is None else reported, assignee=None)
        items.append((inc, Event("", reported, "test", "import", None, status), None))
    return svc.repo.add_many(items)


@pytest.fixture
def board(services_app):
    app = services_app
    svc = app.extensions["gridmap"].incidents
    svc.clock = lambda: NOW
    incs = make(svc)
    store = app.extensions["gridmap"].store
    create_user(store, "disp", "password123", "dispatcher")
    create_user(store, "p5", "password123", "staff", person_id="P5")
    tokens = {u: {"Authorization": f"Bearer {create_token(store, u)}"} for u in ("disp", "p5")}
    client = app.test_client()

    def get(url, user="disp", status=200):
        r = client.get(url, headers=tokens[user])
        assert r.status_code == status, (url, r.status_code, r.get_data(as_text=True)[:500])
        return r

    def act(iid, user="disp", **body):
        return client.post(f"/api/v1/incidents/{iid}/actions", json=body, headers=tokens[user])

    return app, svc, incs, get, act


def every_row(get, url: str, per_page: int = 4) -> tuple[list[str], dict]:
    """All ids of a tab, page by page; and the first page's answer."""
    first = get(f"{url}&per_page={per_page}").get_json()
    ids = [r["id"] for r in first["incidents"]]
    for page in range(2, first["pages"] + 1):
        out = get(f"{url}&per_page={per_page}&page={page}").get_json()
        assert out["total"] == first["total"] and out["counts"] == first["counts"]
        ids += [r["id"] for r in out["incidents"]]
    return ids, first


def test_tab_counts_equal_rows_on_every_page(board):
    app, svc, incs, get, _ = board
    expected = {q: {i.id for i in incs if q in queues_of(i, NOW)} for q in QUEUES}
    assert {q: len(v) for q, v in expected.items()} == {"new": 5, "active": 4, "handled": 2, "overdue": 3,
                                                       "escalated": 2, "all": 15}
    for q in QUEUES:
        ids, first = every_row(get, f"/board.json?queue={q}")
        assert len(ids) == len(set(ids)) == first["counts"][q] == first["total"] == len(expected[q]), q
        assert set(ids) == expected[q], q
        assert first["pages"] == max(1, -(-len(ids) // 4)) and first["shown"] == min(4, len(ids))
    # every incident is findable, closed ones too: "all" holds each one exactly once
    assert sorted(every_row(get, "/board.json?queue=all", per_page=1)[0], key=int) == sorted((i.id for i in incs), key=int)
    past = get("/board.json?queue=new&page=99").get_json()
    assert past["incidents"] == [] and past["total"] == 5


def test_queue_orders_and_sorts(board):
    _, _, incs, get, _ = board
    by_id = {i.id: i for i in incs}
    new = [r["id"] for r in get("/board.json?queue=new").get_json()["incidents"]]
    assert new == sorted(new, key=lambda i: by_id[i].reported_at)  # first come, first served
    active = get("/board.json?queue=active").get_json()["incidents"]
    assert [r["due_at"] for r in active] == sorted(r["due_at"] for r in active)  # earliest deadline first
    newest = [r["id"] for r in get("/board.json?queue=all&sort=newest&per_page=200").get_json()["incidents"]]
    assert newest == [i.id for i in sorted(incs, key=lambda i: i.reported_at, reverse=True)]
    oldest = [r["id"] for r in get("/board.json?queue=all&sort=oldest&per_page=200").get_json()["incidents"]]
    assert oldest == newest[::-1]
    due = get("/board.json?queue=all&sort=due&per_page=200").get_json()["incidents"]
    dues = [r["due_at"] for r in due if r["due_at"]]
    assert dues == sorted(dues) and all(r["due_at"] is None for r in due[len(dues):])  # no deadline last


@pytest.mark.parametrize("args, pick", [
    ("zone=" + ZONE, lambda i: True),
    ("grid=" + GRIDS[1], lambda i: i.grid_code == GRIDS[1]),
    ("category=illegal_advert", lambda i: i.category == "illegal_advert"),
    ("category=illegal_advert&category=exposed_rubbish", lambda i: True),
    ("status=closed,rejected", lambda i: i.status in ("closed", "rejected")),
    ("source=热线", lambda i: i.source == "热线"),
    ("q=垃圾", lambda i: "垃圾" in i.description or i.category == "exposed_rubbish"),  # 暴露垃圾
    ("q=100%25", lambda i: "100%" in i.description),  # % is a character, not a wildcard
    ("q=_", lambda i: "_" in i.description),
    ("q=第2网格", lambda i: i.grid_code == GRIDS[1]),  # a place: the grid's name
    ("q=第一管区", lambda i: i.zone_code == ZONE),
    ("q=" + GRIDS[2], lambda i: i.grid_code == GRIDS[2]),  # a grid's code
    ("q=广告", lambda i: i.category == "illegal_advert" or "广告" in i.description),  # a category's name
])
def test_filters_and_search(board, args, pick):
    _, svc, incs, get, _ = board
    if "广告" in args:
        assert "广告" in svc.taxonomy.get("illegal_advert").name + svc.taxonomy.get("illegal_advert").group
    ids, first = every_row(get, f"/board.json?queue=all&{args}")
    assert set(ids) == {i.id for i in incs if pick(i)} and first["counts"]["all"] == len(ids)
    # the open tabs are filtered the same way
    expected_new = {i.id for i in incs if pick(i) and "new" in queues_of(i, NOW)}
    assert first["counts"]["new"] == len(expected_new)
    for q in QUEUES:  # every tab's count under the filter (a text search counts them in one scan)
        assert first["counts"][q] == len({i.id for i in incs if pick(i) and q in queues_of(i, NOW)}), q
    assert set(every_row(get, f"/board.json?queue=new&{args}")[0]) == expected_new


def test_search_by_number_and_dates(board):
    _, _, incs, get, _ = board
    target = incs[7]
    for q in (target.id, "#" + target.id):
        rows = get(f"/board.json?q={q.replace('#', '%23')}").get_json()["incidents"]
        assert target.id in [r["id"] for r in rows]
    day = lambda k: (incs[k].reported_at.astimezone(dt.timezone(dt.timedelta(hours=8)))).date().isoformat()
    ids, _ = every_row(get, f"/board.json?queue=all&from={day(6)}&to={day(3)}")
    assert set(ids) == {i.id for i in incs[3:7]}


def test_staff_see_their_grids_only_in_counts_and_rows(board):
    _, _, incs, get, _ = board
    first = get("/board.json?queue=all&per_page=200", user="p5").get_json()
    mine = {i.id for i in incs if i.grid_code == GRIDS[1]}
    assert {r["id"] for r in first["incidents"]} == mine and first["counts"]["all"] == len(mine)
    assert first["counts"]["new"] == len([i for i in incs if i.id in mine and "new" in queues_of(i, NOW)])


@pytest.mark.parametrize("args, word", [
    ("queue=nope", "queue"), ("page=0", "page"), ("per_page=1000", "per_page"), ("page=x", "page"),
    ("from=2024-13-01", "from"), ("to=1969-01-01", "to"), ("from=2024-05-02&to=2024-05-01", "to"),
    ("category=nope", "category"), ("status=open", "status"), ("sort=random", "sort"),
])
def test_bad_arguments_are_422_naming_them(board, args, word):
    _, _, _, get, _ = board
    out = get(f"/board.json?{args}", status=422).get_json()
    assert word in out["detail"]
    get(f"/board.csv?{args}", status=422)


def test_csv_export_is_what_is_filtered_and_safe_for_excel(board):
    _, _, incs, get, _ = board
    r = get("/board.csv?queue=all&category=exposed_rubbish&per_page=2")  # the export ignores paging
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    raw = r.get_data()
    assert raw.startswith("\ufeff".encode("utf-8"))  # BOM: Excel reads it as UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    head, body = rows[0], rows[1:]
    assert head[0] == "编号 id" and "描述 description" in head
    assert sorted(int(x[0]) for x in body) == sorted(int(i.id) for i in incs if i.category == "exposed_rubbish")
    desc = {x[0]: x[head.index("描述 description")] for x in body}
    by_text = {i.description: i.id for i in incs}
    assert desc[by_text["+1 井盖"]] == "'+1 井盖"
    assert desc[by_text["@SUM(A1) 垃圾"]] == "'@SUM(A1) 垃圾"
    assert desc[by_text["路边垃圾 100% 满"]] == "路边垃圾 100% 满"
    every = list(csv.reader(io.StringIO(get("/board.csv?queue=all").get_data().decode("utf-8-sig"))))[1:]
    desc = {x[0]: x[head.index("描述 description")] for x in every}
    assert desc[by_text['=HYPERLINK("http://evil")']] == "'=HYPERLINK(\"http://evil\")"
    assert desc[by_text["-2 路面"]] == "'-2 路面"
    assert all(not c.startswith(("=", "+", "-", "@")) for x in every for c in x)
    assert f'"{by_text["+1 井盖"]}","filed"'.encode() in raw  # every cell quoted, numbers too
    assert raw.decode("utf-8-sig").split("\r\n")[0].startswith('"编号 id"')


def test_dispatch_to_a_chosen_person(board):
    app, svc, incs, get, act = board
    filed = incs[3]  # filed, in GRIDS[0]: leader P1, instructor P2, worker P3
    svc.repo.add_shift(GRIDS[0], "P1", NOW - dt.timedelta(hours=1), NOW + dt.timedelta(hours=8))
    out = get(f"/board/people.json?id={filed.id}").get_json()
    people = {p["person_id"]: p for p in out["people"]}
    assert out["unit"] == GRIDS[0] and set(people) == {"P1", "P2", "P3"}
    assert people["P1"]["on_duty"] and not people["P3"]["on_duty"] and people["P1"]["roles"] == ["网格长"]
    assert out["default"] == "P1" and out["people"][0]["person_id"] == "P1"  # on duty: the router's pick
    assert all(isinstance(p["open_load"], int) for p in out["people"])
    bad = act(filed.id, action="dispatch", version=1, assignee="NOBODY")
    assert bad.status_code == 422 and "NOBODY" in bad.get_json()["detail"]
    assert svc.repo.get(filed.id).version == 1  # nothing was written
    assert act(filed.id, action="dispatch", version=1, assignee="P3").status_code == 200
    row = get(f"/board.json?id={filed.id}").get_json()["incidents"][0]
    assert row["assignee"] == "P3" and row["assignee_name"] == "王芳" and row["queues"] == ["active", "all"]
    assert get(f"/board/people.json?id={filed.id}").get_json()["people"][0]["person_id"] == "P3"
    # whom a transfer to another grid would reach (GRIDS[2] has only a leader)
    there = get(f"/board/people.json?id={filed.id}&grid={GRIDS[2]}").get_json()
    assert there["unit"] == GRIDS[2] and there["default"] == "P6"
    assert get(f"/board/people.json?id={filed.id}&grid=nope", status=422).get_json()["status"] == 422
    assert act(filed.id, action="transfer", version=2, grid_code=GRIDS[2], note="不属本网格").status_code == 200
    assert svc.repo.get(filed.id).assignee == "P6"


def test_escalation_department_only_from_the_taxonomy(board):
    app, svc, incs, get, act = board
    inc = incs[8]  # in progress
    specs = get("/board.json").get_json()["action_specs"]
    options = [o[0] for o in specs["escalate"]["fields"][1]["options"]]
    assert "" in options and "城管局" in options and len(options) > 3
    bad = act(inc.id, action="escalate", version=1, level="department", department="<b>随便哪个局</b>")
    assert bad.status_code == 422 and "随便哪个局" in bad.get_json()["detail"] and "城管局" in bad.get_json()["detail"]
    after = svc.repo.get(inc.id)
    assert after.version == 1 and not after.escalated and after.department is None
    ok = act(inc.id, action="escalate", version=1, level="department", department="城管局")
    assert ok.status_code == 200 and svc.repo.get(inc.id).department == "城管局"
    assert specs["close"]["confirm"] and specs["reject"]["confirm"] and "confirm" not in specs["file"]


def test_text_search_reads_the_covering_indexes_not_the_table(board):
    """SQLite: under a text search (words, a category name) the tab counts read ix_incidents_queue and
    ix_incidents_text alone (migration 0014), not every row of the table: at 1M incidents that is
    the difference between 0.4 s and 0.2 s. The page itself is also fetched (it needs the rows)."""
    import sqlalchemy as sa

    app, svc, incs, get, act = board
    store = app.extensions["gridmap"].store
    if store.backend != "sqlite":
        pytest.skip("the plan is SQLite's; PostgreSQL plans by its statistics")
    seen: list[tuple[str, object]] = []

    def grab(conn, cursor, statement, params, context, many):
        if statement.lstrip().upper().startswith("SELECT") and "count(" in statement and "LIKE" in statement:
            seen.append((statement, params))

    sa.event.listen(store.engine, "before_cursor_execute", grab)
    try:
        out = get("/board.json?queue=all&q=垃圾").get_json()
    finally:
        sa.event.remove(store.engine, "before_cursor_execute", grab)
    # 垃圾 is in descriptions and in a category's name (暴露垃圾): both are searched
    words = sum(1 for p in PLAN if "垃圾" in p[6])
    assert out["counts"]["all"] > words and len(seen) == 2, (out["counts"], len(seen))
    with store.engine.connect() as conn:
        plans = [" / ".join(r[3] for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + s, p).all()) for s, p in seen]
    assert any("COVERING INDEX ix_incidents_queue" in p for p in plans), plans
    assert any("COVERING INDEX ix_incidents_text" in p for p in plans), plans
    assert not any("SCAN incidents" in p and "INDEX" not in p for p in plans), plans
