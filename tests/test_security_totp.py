"""Issue #15, two-factor login (TOTP) on both store backends: enrolment (CLI and page), the second
step, one-time use of a code, throttling, recovery codes, and the setting that requires it."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from click.testing import CliRunner

from gridmap import create_app
from gridmap.cli import main
from gridmap.settings import Settings
from gridmap.web.auth import create_user
from gridmap.web.twofactor import enrol

from .pages import csrf


def _app(services, **settings):
    app = create_app(Settings(db=services.settings.db, **settings))
    create_user(app.extensions["gridmap"].store, "disp", "secret-pass", "dispatcher")
    return app


@pytest.fixture
def app(services):
    app = _app(services)
    yield app
    app.extensions["gridmap"].store.close()


def _password(client, user="disp", password="secret-pass", next_=""):
    token = csrf(client.get("/login").get_data(as_text=True))
    q = f"?next={next_}" if next_ else ""
    return client.post(f"/login{q}", data={"username": user, "password": password, "csrf_token": token})


def _code(client, code, next_=""):
    page = client.get("/login/totp" + (f"?next={next_}" if next_ else ""))
    assert page.status_code == 200, page.status_code
    return client.post("/login/totp" + (f"?next={next_}" if next_ else ""),
                       data={"code": code, "csrf_token": csrf(page.get_data(as_text=True))})


def _next_step_code(secret):
    """The code of the next 30-second step (accepted for clock drift): a later code without waiting."""
    return pyotp.TOTP(secret).at(time.time() + 30)


def test_cli_enrolment_prints_the_uri_once_and_login_then_needs_the_code(app):
    store = app.extensions["gridmap"].store
    client = app.test_client()
    assert _password(client).status_code == 302
    assert client.get("/api/v1/incidents").status_code == 200
    r = CliRunner().invoke(main, ["--db", app.extensions["gridmap"].settings.db, "users", "totp", "disp"])
    assert r.exit_code == 0, r.output
    secret = re.search(r"secret: (?:密钥 )?([A-Z2-7]+)", r.output).group(1)  # zh_CN: "secret: 密钥 ..."
    uri = re.search(r"otpauth URI: (\S+)", r.output).group(1)
    assert pyotp.parse_uri(uri).secret == secret and "issuer=gridmap" in uri and "disp" in uri
    assert len(re.findall(r"^  [0-9a-f]{5}-[0-9a-f]{5}$", r.output, re.M)) == 10
    assert client.get("/api/v1/incidents").status_code == 401  # enrolling ended the old session
    r = CliRunner().invoke(main, ["--db", app.extensions["gridmap"].settings.db, "users", "list"])
    assert "disp\tdispatcher\t-\t启用\t2FA\t" in r.output  # the CLI speaks the process's zh_CN

    # the password alone no longer signs in: it leads to the second step
    r = _password(client, next_="/board")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login/totp")
    assert client.get("/api/v1/incidents").status_code == 401
    assert _code(client, "000000" if pyotp.TOTP(secret).now() != "000000" else "111111").status_code == 401
    code = pyotp.TOTP(secret).now()
    r = _code(client, code, next_="/board")
    assert r.status_code == 302 and r.headers["Location"] == "/board"
    assert client.get("/api/v1/incidents").status_code == 200

    # the same code, within its window, does not sign in a second browser
    other = app.test_client()
    assert _password(other).status_code == 302
    r = _code(other, code)
    assert r.status_code == 401 and "已使用" in r.get_data(as_text=True)
    assert other.get("/api/v1/incidents").status_code == 401
    assert store.users.list()[0]["totp"]


def test_the_secret_is_never_shown_again_and_off_turns_it_off(app):
    store = app.extensions["gridmap"].store
    secret, _uri, _codes = enrol(store, "disp")
    client = app.test_client()
    _password(client)
    assert _code(client, pyotp.TOTP(secret).now()).status_code == 302
    page = client.get("/account/totp").get_data(as_text=True)
    assert "已启用两步验证" in page and secret not in page and "<svg" not in page and "10" in page
    r = CliRunner().invoke(main, ["--db", app.extensions["gridmap"].settings.db, "users", "totp", "disp", "--off"])
    assert r.exit_code == 0, r.output
    assert client.get("/api/v1/incidents").status_code == 401
    fresh = app.test_client()
    assert _password(fresh).headers["Location"] == "/"  # the password alone again
    assert fresh.get("/api/v1/incidents").status_code == 200
    r = CliRunner().invoke(main, ["--db", app.extensions["gridmap"].settings.db, "users", "totp", "nobody"])
    assert r.exit_code == 1 and "no user 'nobody'" in r.output


def test_wrong_codes_are_throttled_like_passwords(services):
    app = _app(services, login_max_failures=3)
    try:
        secret, _uri, _codes = enrol(app.extensions["gridmap"].store, "disp")
        client = app.test_client()
        _password(client)
        good = pyotp.TOTP(secret).now()
        wrong = f"{(int(good) + 1) % 1000000:06d}"
        assert [_code(client, wrong).status_code for _ in range(3)] == [401, 401, 401]
        r = _code(client, good)  # the right code, past the limit
        assert r.status_code == 429 and "验证码错误次数过多" in r.get_data(as_text=True)
        assert client.get("/api/v1/incidents").status_code == 401
    finally:
        app.extensions["gridmap"].store.close()


def test_a_recovery_code_works_once(app):
    _secret, _uri, codes = enrol(app.extensions["gridmap"].store, "disp")
    client = app.test_client()
    _password(client)
    assert _code(client, codes[3].upper()).status_code == 302
    assert client.get("/api/v1/incidents").status_code == 200
    again = app.test_client()
    _password(again)
    assert _code(again, codes[3]).status_code == 401
    assert app.extensions["gridmap"].store.totp.recovery_left("disp") == 9


def test_the_second_step_needs_the_password_step_first(app):
    enrol(app.extensions["gridmap"].store, "disp")
    client = app.test_client()
    r = client.get("/login/totp")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    r = client.post("/login/totp", data={"code": "123456"})
    assert r.status_code in (302, 400)  # no pending password step (and no CSRF token): never signed in
    assert client.get("/api/v1/incidents").status_code == 401


def test_required_roles_are_sent_to_enrol_and_confirm_with_a_code(services):
    app = _app(services, totp_required_roles="dispatcher,admin")
    try:
        store = app.extensions["gridmap"].store
        create_user(store, "plan", "secret-pass", "planner")
        client = app.test_client()
        r = _password(client, next_="/board")
        assert r.status_code == 302 and r.headers["Location"].startswith("/account/totp")
        assert client.get("/api/v1/incidents").status_code == 401  # not signed in before enrolling
        page = client.get("/account/totp?next=/board").get_data(as_text=True)
        assert "<svg" in page and "您的角色必须使用两步验证" in page
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
        assert store.users.user("disp")["totp_secret"] is None  # pending, not yet on
        r = client.post("/account/totp?next=/board", data={"code": "12", "csrf_token": csrf(page)})
        assert r.status_code == 422 and "验证码不正确" in r.get_data(as_text=True)
        first = pyotp.TOTP(secret).now()
        r = client.post("/account/totp?next=/board", data={"code": first, "csrf_token": csrf(page)})
        body = r.get_data(as_text=True)
        assert r.status_code == 200 and len(re.findall(r"<code>[0-9a-f]{5}-[0-9a-f]{5}</code>", body)) == 10
        assert client.get("/api/v1/incidents").status_code == 200
        assert store.users.user("disp")["totp_secret"] == secret
        # the code used to confirm is spent too; the next login needs a later one
        other = app.test_client()
        _password(other)
        assert _code(other, first).status_code == 401
        # a planner (not a required role) signs in with the password alone
        plan = app.test_client()
        assert _password(plan, user="plan").headers["Location"] == "/"
        assert plan.get("/api/v1/incidents").status_code == 200
    finally:
        app.extensions["gridmap"].store.close()


def test_turning_the_requirement_on_ends_sessions_without_the_second_factor(services):
    app = _app(services)
    client = app.test_client()
    assert _password(client).status_code == 302
    cookie = client.get_cookie("session").value
    app.extensions["gridmap"].store.close()
    strict = create_app(Settings(db=services.settings.db, totp_required_roles="dispatcher"))
    try:
        c = strict.test_client()
        c.set_cookie("session", cookie)
        assert c.get("/api/v1/incidents").status_code == 401
    finally:
        strict.extensions["gridmap"].store.close()


def test_unknown_roles_in_the_setting_are_refused():
    from gridmap.errors import InputError

    with pytest.raises(InputError, match="totp_required_roles: unknown role"):
        Settings.load({"totp_required_roles": "staff,boss"}, environ={})


def test_a_page_enrolled_user_also_needs_a_fresh_code_later(app):
    client = app.test_client()
    assert _password(client).status_code == 302
    page = client.get("/account/totp").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    assert client.get("/account/totp").get_data(as_text=True).count(secret) == 1  # the same pending secret
    code = pyotp.TOTP(secret).now()
    r = client.post("/account/totp", data={"code": code, "csrf_token": csrf(page)})
    assert r.status_code == 200 and "恢复码" in r.get_data(as_text=True)
    assert client.get("/api/v1/incidents").status_code == 200  # this browser stays signed in
    other = app.test_client()
    _password(other)
    assert _code(other, code).status_code == 401  # spent
    assert _code(other, pyotp.TOTP(secret).at(time.time() - 30)).status_code == 401  # an earlier step: too late
    assert _code(other, _next_step_code(secret)).status_code == 302
