"""Issue #12: the top bar fits the user, pages a role may not open say so, the public gets a
friendly page for the patrol PDF, and the read-only leader role (sees, never acts, no reporters'
personal data). Flask test client over the three-grid sample store; the leader's user row is
written to both backends."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from gridmap.cli import main
from gridmap.web.auth import create_user

from . import pages
from .conftest import GRIDS, sample_app

PHONE = "13912345678"
NAME = "王小明"


@pytest.fixture
def app(tmp_path: Path, sample_dir: Path):
    app = sample_app(tmp_path, sample_dir)
    c = app.test_client()
    r = c.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": 116.05, "lat": 39.05,
                                          "description": "垃圾堆在路口", "reporter_phone": PHONE,
                                          "reporter_name": NAME})
    assert r.status_code == 201, r.get_json()
    store = app.extensions["gridmap"].store
    for user, role in (("disp", "dispatcher"), ("plan", "planner"), ("boss", "admin"), ("lead", "leader")):
        create_user(store, user, "password123", role)
    create_user(store, "p5", "password123", "staff", person_id="P5")
    app.config["incident_id"] = r.get_json()["id"]
    yield app
    store.close()


def links(html: str) -> list[str]:
    """The hrefs of the top bar."""
    bar = re.search(r'<nav class="gm-nav".*?</nav>', html, re.S).group(0)
    return re.findall(r'<a href="([^"]+)"', bar)


def test_the_public_bar_has_public_links_and_a_sign_in(app):
    html = app.test_client().get("/map").get_data(as_text=True)
    assert links(html) == ["/", "/map", "/report", "/my-reports", "/login?next=/map"]
    assert "退出" not in html and 'href="#main"' in html and 'id="main"' in html  # skip link and its target


@pytest.mark.parametrize("user, shown, hidden", [
    ("disp", ["/board", "/dashboard"], ["/planner"]),
    ("lead", ["/board", "/dashboard"], ["/planner"]),
    ("p5", ["/board", "/dashboard"], ["/planner"]),
    ("plan", ["/board", "/dashboard", "/planner"], []),
    ("boss", ["/board", "/dashboard", "/planner"], []),
])
def test_the_signed_in_bar_shows_who_a_sign_out_and_only_usable_links(app, user, shown, hidden):
    c = app.test_client()
    pages.login(c, user)
    for path in ("/", "/map", "/report", "/my-reports", "/board", "/dashboard?as_of=2026-11-01"):
        r = c.get(path)
        assert r.status_code == 200, path
        html = r.get_data(as_text=True)
        hrefs = links(html)
        assert all(s in hrefs for s in shown) and not any(h in hrefs for h in hidden), (path, hrefs)
        assert not any(h.startswith("/login") for h in hrefs), path
        bar = re.search(r'<nav class="gm-nav".*?</nav>', html, re.S).group(0)
        assert f">{user} · " in bar and 'action="/logout"' in bar and 'name="csrf_token"' in bar, path


def test_sign_out_from_the_bar_ends_the_session(app):
    c = app.test_client()
    pages.login(c, "disp")
    html = c.get("/map").get_data(as_text=True)
    r = c.post("/logout", data={"csrf_token": pages.csrf(html)})
    assert r.status_code == 302
    assert c.get("/board").headers["Location"].startswith("/login")


@pytest.mark.parametrize("user", ["disp", "lead", "p5"])
def test_a_page_the_role_may_not_open_says_so(app, user):
    c = app.test_client()
    pages.login(c, user)
    r = c.get("/planner")
    html = r.get_data(as_text=True)
    assert r.status_code == 403 and "Location" not in r.headers
    assert "需要规划员权限" in html and "planner rights" in html and f"<b>{user}</b>" in html
    assert 'name="password"' not in html  # not the login form again


def test_the_public_gets_a_friendly_page_for_the_patrol_pdf(app):
    r = app.test_client().get(f"/grids/{GRIDS[0]}/patrol.pdf?paper=A3")
    html = r.get_data(as_text=True)
    assert r.status_code == 401 and r.mimetype == "text/html"
    assert "请先登录" in html and "网格员姓名和电话" in html
    assert f'href="/login?next=/grids/{GRIDS[0]}/patrol.pdf?paper%3DA3"' in html or \
        f"/login?next=/grids/{GRIDS[0]}/patrol.pdf" in html
    assert not html.lstrip().startswith("{")  # not the JSON error


# -- the leader ----------------------------------------------------------------------------------
def test_the_leader_reads_the_board_without_actions_or_reporters_data(app):
    c = app.test_client()
    pages.login(c, "lead")
    iid = app.config["incident_id"]
    html = c.get("/board?queue=all").get_data(as_text=True)
    assert "垃圾堆在路口" in html and PHONE not in html and NAME not in html
    assert "只读 Read-only" in html
    data = c.get("/board.json?queue=all").get_json()
    row = next(i for i in data["incidents"] if i["id"] == iid)
    assert row["buttons"] == [] and row.get("reporter_phone") is None and row.get("reporter_name") is None
    assert data["actor"]["can_act"] is False
    one = c.get(f"/api/v1/incidents/{iid}").get_json()
    assert one.get("reporter_phone") is None and one["assignee"] is not None  # office data yes, reporter no
    assert PHONE not in c.get("/board.csv?queue=all").get_data(as_text=True)
    assert c.get("/dashboard?as_of=2026-11-01").status_code == 200
    assert c.get("/api/v1/metrics?by=town&from=2020-01-01&to=2030-01-01").status_code == 200
    assert c.get("/map").status_code == 200


def test_the_leader_may_not_act(app):
    c = app.test_client()
    pages.login(c, "lead")
    iid = app.config["incident_id"]
    token = pages.csrf(c.get("/board").get_data(as_text=True))
    version = c.get(f"/api/v1/incidents/{iid}").get_json()["version"]
    for action in ("file", "dispatch", "reject", "close"):
        r = c.post(f"/api/v1/incidents/{iid}/actions", json={"action": action, "version": version},
                   headers={"X-CSRFToken": token})
        assert r.status_code == 403, (action, r.get_json())
    assert c.get(f"/board/people.json?id={iid}").status_code == 403
    assert c.post("/api/v1/supervision/run", headers={"X-CSRFToken": token}).status_code == 403
    # the audit log is office data a leader reads (policy.py: incident_internal), without acting on it
    log = c.get(f"/api/v1/incidents/{iid}/events")
    assert log.status_code == 200 and PHONE not in log.get_data(as_text=True)


def test_the_dispatcher_still_sees_the_reporter(app):
    c = app.test_client()
    pages.login(c, "disp")
    one = c.get(f"/api/v1/incidents/{app.config['incident_id']}").get_json()
    assert one["reporter_phone"] == PHONE


def test_users_add_role_leader_on_both_backends(db_url, tmp_path: Path):
    r = CliRunner().invoke(main, ["--db", db_url, "users", "add", "chief", "--role", "leader",
                                  "--password", "password123"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["--db", db_url, "users", "list"])
    assert "chief\tleader" in r.output
    r = CliRunner().invoke(main, ["--db", db_url, "users", "add", "x", "--role", "boss", "--password", "password123"])
    assert r.exit_code != 0 and "leader" in r.output
