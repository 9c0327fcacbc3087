"""Issue #15, sessions, credentials and CSRF, on both store backends (the `services` fixture)."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from gridmap import create_app
from gridmap.cli import main
from gridmap.settings import Settings
from gridmap.web.auth import create_token, create_user, hash_token

from .pages import csrf

REPORT = {"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05, "description": "垃圾"}


def _app(services, **settings):
    app = create_app(Settings(db=services.settings.db, **settings))
    create_user(app.extensions["gridmap"].store, "disp", "secret-pass", "dispatcher")
    return app


def _login(client, password="secret-pass", user="disp", **kw):
    token = csrf(client.get("/login").get_data(as_text=True))
    return client.post("/login", data={"username": user, "password": password, "csrf_token": token}, **kw)


@pytest.fixture
def app(services):
    app = _app(services)
    yield app
    app.extensions["gridmap"].store.close()


def test_open311_ignores_the_session_cookie(services):
    """A logged-in browser's cookie no longer files Open311 reports as the user nor skips the anonymous limit."""
    app = _app(services, report_rate_limit="2 per minute")
    try:
        client = app.test_client()
        assert _login(client).status_code == 302
        form = {"service_code": "exposed_rubbish", "lat": "39.05", "long": "116.15", "description": "x"}
        codes = [client.post("/open311/v2/requests.json", data=form).status_code for _ in range(3)]
        assert codes == [201, 201, 429]
        iid = client.post("/api/v1/incidents", json=REPORT, headers={"X-CSRFToken": "none"})
        log = app.extensions["gridmap"].incidents.repo
        first = log.query(limit=1)[0]
        assert log.events(first.id)[0].actor == "public"
        assert iid.status_code in (201, 403)
    finally:
        app.extensions["gridmap"].store.close()


def test_reporter_token_in_the_body_does_not_skip_csrf(app):
    client = app.test_client()
    iid = client.post("/api/v1/incidents", json=REPORT).json["id"]
    assert _login(client).status_code == 302
    r = client.post(f"/api/v1/incidents/{iid}/actions", json={"action": "file", "reporter_token": "anything"})
    assert r.status_code == 403 and "CSRF" in r.json["detail"]
    assert app.extensions["gridmap"].incidents.repo.get(iid).status == "reported"


def test_logout_ends_the_session_on_the_server(app):
    client = app.test_client()
    assert _login(client).status_code == 302
    saved = client.get_cookie("session").value
    assert client.get("/api/v1/incidents").status_code == 200
    token = csrf(client.get("/login").get_data(as_text=True))
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    client.set_cookie("session", saved)  # the attacker's copy of the cookie
    assert client.get("/api/v1/incidents").status_code == 401
    assert _login(client).status_code == 302 and client.get("/api/v1/incidents").status_code == 200


def test_password_change_and_disable_end_sessions_and_tokens(app, tmp_path):
    store = app.extensions["gridmap"].store
    client = app.test_client()
    assert _login(client).status_code == 302
    runner = CliRunner()
    db = app.extensions["gridmap"].settings.db
    r = runner.invoke(main, ["--db", db, "users", "passwd", "disp", "--password", "new-secret-pass"])
    assert r.exit_code == 0, r.output
    assert client.get("/api/v1/incidents").status_code == 401  # the old session ended
    assert _login(client).status_code == 401
    assert _login(client, "new-secret-pass").status_code == 302
    tok = create_token(store, "disp", "phone")
    h = {"X-API-Key": tok}  # a header: the key stays out of access logs
    assert app.test_client().get("/api/v1/incidents", headers=h).status_code == 200
    r = runner.invoke(main, ["--db", db, "users", "list"])
    assert r.exit_code == 0 and "disp\tdispatcher" in r.output and "1 个令牌" in r.output  # the CLI in zh_CN
    r = runner.invoke(main, ["--db", db, "users", "disable", "disp"])
    assert r.exit_code == 0
    assert client.get("/api/v1/incidents").status_code == 401
    assert app.test_client().get("/api/v1/incidents", headers=h).status_code == 401
    assert _login(app.test_client(), "new-secret-pass").status_code == 401
    runner.invoke(main, ["--db", db, "users", "enable", "disp"])
    assert app.test_client().get("/api/v1/incidents", headers=h).status_code == 200
    r = runner.invoke(main, ["--db", db, "users", "revoke-token", "disp"])
    assert r.exit_code == 0 and "1 token(s) of disp revoked" in r.output
    assert app.test_client().get("/api/v1/incidents", headers=h).status_code == 401
    r = runner.invoke(main, ["--db", db, "users", "disable", "nobody"])
    assert r.exit_code == 1 and "no user 'nobody'" in r.output


def test_tokens_expire(app):
    store = app.extensions["gridmap"].store
    tok = create_token(store, "disp", days=30)
    client = app.test_client()
    assert client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {tok}"}).status_code == 200
    store.users.set_token_expiry(hash_token(tok), dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=1))
    r = client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401 and "expired" in r.json["detail"]


def test_login_is_throttled_per_account_and_address(services):
    app = _app(services, login_max_failures=5, login_max_failures_per_address=8)
    try:
        client = app.test_client()
        codes = [_login(client, "wrong-pass").status_code for _ in range(5)]
        assert codes == [401] * 5
        r = _login(client)  # the right password, after the limit: still refused
        assert r.status_code == 429 and "too many failed logins" in r.get_data(as_text=True)
        store = app.extensions["gridmap"].store
        create_user(store, "other", "secret-pass", "dispatcher")
        for _ in range(3):  # the same address tries other accounts: the per-address limit stops it
            _login(client, "wrong-pass", user="other")
        assert _login(client, user="other").status_code == 429
        far = app.test_client()
        r = _login(far, user="other", environ_base={"REMOTE_ADDR": "10.0.0.9"})
        assert r.status_code == 302  # another address, an account below its limit
    finally:
        app.extensions["gridmap"].store.close()


def test_cookies_are_samesite_and_secure_behind_https(services):
    app = _app(services, proxy_hops=1)
    try:
        client = app.test_client()
        r = _login(client)
        cookie = r.headers["Set-Cookie"]
        assert "SameSite=Lax" in cookie and "HttpOnly" in cookie and "Secure" not in cookie
        https = app.test_client()
        h = {"X-Forwarded-Proto": "https", "Referer": "https://localhost/login"}  # flask-wtf checks it on HTTPS
        token = csrf(https.get("/login", headers=h).get_data(as_text=True))
        r = https.post("/login", data={"username": "disp", "password": "secret-pass", "csrf_token": token}, headers=h)
        assert r.status_code == 302 and "Secure" in r.headers["Set-Cookie"]
    finally:
        app.extensions["gridmap"].store.close()


def test_workers_share_one_secret_key(services):
    """Two processes (apps) over one store without secret_key sign sessions alike: login works across them."""
    a, b = _app(services), create_app(Settings(db=services.settings.db))
    try:
        assert a.config["SECRET_KEY"] == b.config["SECRET_KEY"] and len(a.config["SECRET_KEY"]) == 64
        ca, cb = a.test_client(), b.test_client()
        token = csrf(ca.get("/login").get_data(as_text=True))  # form from worker A ...
        cb.set_cookie("session", ca.get_cookie("session").value)
        r = cb.post("/login", data={"username": "disp", "password": "secret-pass", "csrf_token": token})
        assert r.status_code == 302  # ... posted to worker B
    finally:
        a.extensions["gridmap"].store.close()
        b.extensions["gridmap"].store.close()


def test_migration_0007_hashes_existing_reporter_tokens(db_url):
    """A store at revision 0003 with a plaintext reporter token migrates; the reporter can still use it."""
    from pathlib import Path

    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    import gridmap.store
    from gridmap.hashing import hash_secret
    from gridmap.store import normalise_url, open_store
    from gridmap.store.base import HEAD_REVISION

    engine = sa.create_engine(normalise_url(db_url))
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(gridmap.store.__file__).parent / "migrations"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")  # the revision before 0007_security
        conn.execute(sa.text(
            "INSERT INTO incidents (id, category, description, lon, lat, reported_at, source, severity, "
            "reporter_token, status, assignment, handling_level) VALUES (1, 'exposed_rubbish', 'x', 116.1, 39.05, "
            ":t, 'web', 1, 'plain-secret-token', 'reported', 'inside', 'grid')"),
            {"t": dt.datetime(2026, 1, 1)})
    engine.dispose()
    store = open_store(db_url)
    try:
        assert store.info().schema_revision == HEAD_REVISION
        assert store.incidents.reporter_token(1) == hash_secret("plain-secret-token")
        assert store.users.list() == []
    finally:
        store.close()
