"""Reply templates per status and category (incidents/replies.py): the auto-acknowledgement when
a report is filed, the reply and expected completion on the status page, Open311 status_notes
and expected_datetime; a bad template file is refused naming every problem."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from gridmap.errors import InputError
from gridmap.incidents.actors import SYSTEM
from gridmap.incidents.replies import Replies
from gridmap.incidents.taxonomy import Taxonomy

from .conftest import sample_app


@pytest.fixture
def app(tmp_path: Path, sample_dir: Path):
    app = sample_app(tmp_path, sample_dir)
    yield app
    app.extensions["gridmap"].store.close()


def report(c, category="exposed_rubbish"):
    r = c.post("/api/v1/incidents", json={"category": category, "lon": 116.05, "lat": 39.05, "description": "x"})
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_the_reporter_gets_an_acknowledgement_with_an_expected_time(app):
    c = app.test_client()
    out = report(c)
    ack = out["acknowledgement"]
    assert ack["text"].startswith(f"已收到您的报事 #{out['id']}（") and "We have received report" in ack["text"]
    expected = dt.datetime.fromisoformat(ack["expected_at"])
    assert expected > dt.datetime.fromisoformat(out["reported_at"]) and ack["expected_at"][:16].replace("T", " ") in ack["text"]
    safety = report(c, "production_safety")["acknowledgement"]["text"]
    assert "安全生产隐患" in safety and "110/119" in safety  # the category's own template wins over "*"


def test_the_status_page_and_open311_show_the_reply_and_the_expected_time(app):
    c = app.test_client()
    iid = report(c)["id"]
    html = c.get(f"/status/{iid}").get_data(as_text=True)
    assert 'id="reply"' in html and "已收到您的报事" in html and 'id="expected-at"' in html
    (req,) = json.loads(c.get(f"/open311/v2/requests/{iid}.json").get_data())
    assert req["status_notes"].startswith("已收到您的报事") and req["expected_datetime"]
    loop = app.extensions["gridmap"].incidents
    loop.act(iid, "file", SYSTEM)
    loop.act(iid, "dispatch", SYSTEM)
    due = loop.repo.get(iid).due_at
    (req,) = json.loads(c.get(f"/open311/v2/requests/{iid}.json").get_data())
    assert req["status_notes"].startswith(f"#{iid} 已派给")
    assert dt.datetime.fromisoformat(req["expected_datetime"]) == due.replace(microsecond=0)
    html = c.get(f"/status/{iid}").get_data(as_text=True)
    assert "已派给" in html and 'id="expected-at"' not in html  # the due time is shown instead


def test_a_bad_template_file_is_refused_naming_every_problem(tmp_path: Path):
    bad = tmp_path / "r.toml"
    bad.write_text('[[reply]]\nstatus = "lost"\ncategory = "*"\ntext = "hi {name}"\n'
                   '[[reply]]\nstatus = "closed"\ncategory = "no_such"\ntext = "ok"\n', encoding="utf-8")
    with pytest.raises(InputError) as exc:
        Replies.load(bad, Taxonomy.load())
    msg = str(exc.value)
    assert "status 'lost'" in msg and "placeholder(s) ['name']" in msg and "category 'no_such'" in msg
    with pytest.raises(InputError, match="does not exist"):
        Replies.load(tmp_path / "missing.toml")


def test_the_setting_names_another_file(tmp_path: Path, sample_dir: Path):
    mine = tmp_path / "mine.toml"
    mine.write_text('[[reply]]\nstatus = "reported"\ncategory = "*"\ntext = "收到 #{id}，{expected} 前处理"\n',
                    encoding="utf-8")
    from gridmap.app import create_app
    from gridmap.settings import Settings

    app = create_app(Settings(db=str(tmp_path / "s.db"), reply_templates=str(mine)))
    try:
        assert app.extensions["gridmap"].incidents.replies.texts == {("reported", "*"): "收到 #{id}，{expected} 前处理"}
    finally:
        app.extensions["gridmap"].store.close()
