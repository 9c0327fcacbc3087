"""The grid page: duty roster of the week, incident clocks, metrics, links to the patrol map."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from gridmap.incidents.actors import SYSTEM
from gridmap.maps import gridpage

from . import browser
from .conftest import GRIDS, sample_app


@pytest.fixture
def app(tmp_path: Path, sample_dir: Path):
    app = browser.with_maps(sample_app(tmp_path, sample_dir))
    yield app
    app.extensions["gridmap"].store.close()


def _token(app) -> dict:
    from gridmap.web.auth import create_token, create_user

    store = app.extensions["gridmap"].store
    create_user(store, "disp", "password123", "dispatcher")
    return {"Authorization": f"Bearer {create_token(store, 'disp')}"}


def test_grid_page_shows_roster_clocks_metrics_and_links(app):
    svc = app.extensions["gridmap"].incidents
    now = svc.clock()
    # a shift now for P3 in the grid, one tomorrow, one next month (not shown)
    svc.repo.add_shift(GRIDS[0], "P3", now - dt.timedelta(hours=1), now + dt.timedelta(hours=3))
    svc.repo.add_shift(GRIDS[0], "P1", now + dt.timedelta(days=1), now + dt.timedelta(days=1, hours=8))
    svc.repo.add_shift(GRIDS[0], "P1", now + dt.timedelta(days=30), now + dt.timedelta(days=30, hours=8))
    waiting = svc.report({"category": "exposed_rubbish", "lon": 116.05, "lat": 39.05, "description": "w"},
                         SYSTEM).incident
    late = svc.report({"category": "exposed_rubbish", "lon": 116.06, "lat": 39.05, "description": "late",
                       "reported_at": (now - dt.timedelta(days=3)).isoformat()}, SYSTEM).incident
    svc.act(late.id, "file", SYSTEM)
    svc.act(late.id, "dispatch", SYSTEM)
    inc = svc.repo.get(late.id)
    before = inc.version
    inc.due_at = now - dt.timedelta(hours=5)  # its limit passed five hours ago
    svc.repo.update(inc, before, [])
    c = app.test_client()
    data = c.get(f"/grids/{GRIDS[0]}.json").get_json()
    roster = data["roster"]
    assert [(r["person_id"], r["on_duty"]) for r in roster] == [("P3", True), ("P1", False)]
    assert all("phone" not in r for r in roster)  # the public sees names only
    token = _token(app)
    assert c.get(f"/grids/{GRIDS[0]}.json", headers=token).get_json()["roster"][0]["phone"] == "13800000003"
    clocks = {i["description"]: i["clock"] for i in data["incidents"]}
    clocks["w"] = next(i["clock"] for i in data["incidents"] if i["id"] == waiting.id)  # its text is not public yet
    assert clocks["w"] == {"due_at": None, "hours_left": None, "state": "waiting"}
    assert clocks["late"]["state"] == "overdue" and -5.1 < clocks["late"]["hours_left"] < -4.9
    month = data["metrics"][0]
    assert month["window"] == "30d" and month["count"] == 2 and month["overdue_open"] == 1
    assert month["closure_rate"] == 0.0  # one incident due (overdue), none closed
    html = c.get(f"/grids/{GRIDS[0]}").get_data(as_text=True)
    assert "在岗 on duty" in html and "王芳" in html and "超期 overdue" in html and "5.0 h late" in html
    assert data["links"]["patrol_pdf"] == f"/grids/{GRIDS[0]}/patrol.pdf" and data["links"]["patrol_pdf"] in html
    assert data["links"]["report"] == f"/report?grid={GRIDS[0]}"
    assert c.get(data["links"]["patrol_pdf"]).status_code == 401  # it lists phones: staff only
    pdf = c.get(data["links"]["patrol_pdf"], headers=token)
    assert pdf.status_code == 200 and pdf.data[:5] == b"%PDF-"


def test_clock_states():
    from gridmap.incidents.model import Incident

    now = dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc)
    tz = dt.timezone(dt.timedelta(hours=8))

    def inc(hours: float | None, status: str = "dispatched") -> Incident:
        due = None if hours is None else now + dt.timedelta(hours=hours)
        return Incident(id="1", category="c", lon=0, lat=0, reported_at=now - dt.timedelta(days=1), status=status,
                        due_at=due)

    assert gridpage.clock_json(inc(None, "reported"), now, 2, tz)["state"] == "waiting"
    assert gridpage.clock_json(inc(10), now, 2, tz) == {"due_at": "2026-05-02T06:00:00+08:00", "hours_left": 10.0,
                                                        "state": "ok"}
    assert gridpage.clock_json(inc(1.5), now, 2, tz)["state"] == "due_soon"
    assert gridpage.clock_json(inc(-0.5), now, 2, tz)["state"] == "overdue"


def test_static_files_are_gzipped_and_cached(app):
    import gzip

    c = app.test_client()
    plain = c.get("/static/vendor/leaflet/leaflet.js")
    raw = plain.get_data()
    plain.close()
    assert "Content-Encoding" not in plain.headers and raw[:200].find(b"Leaflet") >= 0
    packed = c.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == raw and len(packed.data) < len(raw) / 3
    assert packed.headers["Cache-Control"] == "public, max-age=86400"
    assert int(packed.headers["Content-Length"]) == len(packed.data)
    # a revalidation with the gzip ETag gets a 304, no body
    again = c.get("/static/vendor/leaflet/leaflet.js", headers={"Accept-Encoding": "gzip",
                                                                "If-None-Match": packed.headers["ETag"]})
    assert again.status_code in (200, 304)
    # fonts are compressed already: passed through
    font = next(p for p in (app.static_folder and __import__("pathlib").Path(app.static_folder).rglob("*.woff2")))
    rel = font.relative_to(app.static_folder).as_posix()
    r = c.get(f"/static/{rel}", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200 and "Content-Encoding" not in r.headers
    r.close()
