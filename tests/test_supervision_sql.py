"""Supervision lists paged in SQL (store/supervision_sql.py) give the Python lists
(metrics.overdue / due_soon) page by page, with totals and the staff filter, on both backends."""

from __future__ import annotations

import datetime as dt

from gridmap.incidents.metrics import due_soon, overdue
from gridmap.incidents.model import OPEN_STATUSES
from tests.test_metrics_db import _random_history, _store

NOW = dt.datetime(2024, 6, 1, 12, tzinfo=dt.timezone.utc)


def test_pages_equal_the_python_lists(empty_services) -> None:
    incs = _store(empty_services, _random_history(2500, seed=9))
    repo = empty_services.store.incidents
    horizon = NOW + dt.timedelta(hours=30)
    live = [i for i in incs if i.status in OPEN_STATUSES]  # as the API read them: open statuses, then the rules
    want_late = sorted(overdue(live, NOW), key=lambda i: (i.due_at, int(i.id)))
    want_soon = sorted(due_soon(live, NOW, 30), key=lambda i: (i.due_at, int(i.id)))
    assert want_late and want_soon
    got_late, got_soon, offset = [], [], 0
    while True:
        page = repo.supervision_page(NOW, horizon, limit=7, offset=offset)
        assert page["overdue_total"] == len(want_late) and page["due_soon_total"] == len(want_soon)
        assert len(page["overdue"]) <= 7 and len(page["due_soon"]) <= 7
        if not page["overdue"] and not page["due_soon"]:
            break
        got_late += page["overdue"]
        got_soon += page["due_soon"]
        offset += 7
    assert [i.id for i in got_late] == [i.id for i in want_late]
    assert [i.id for i in got_soon] == [i.id for i in want_soon]
    # filters: a zone, grids, a staff member's units (grid or zone)
    page = repo.supervision_page(NOW, horizon, limit=1000, zone_code="Z2")
    assert [i.id for i in page["overdue"]] == [i.id for i in want_late if i.zone_code == "Z2"]
    page = repo.supervision_page(NOW, horizon, limit=1000, grid_codes=["A", "C"])
    assert [i.id for i in page["due_soon"]] == [i.id for i in want_soon if i.grid_code in ("A", "C")]
    page = repo.supervision_page(NOW, horizon, limit=1000, within_units=["B", "Z2"])
    assert [i.id for i in page["overdue"]] == [i.id for i in want_late if i.grid_code == "B" or i.zone_code == "Z2"]
