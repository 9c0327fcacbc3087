"""Messages in the reader's language (issue #12, "Chinese first"): zh_CN by default with the English
kept, English only for en; chosen by ?lang= (a cookie), Accept-Language, then the `locale` setting;
the CLI by LC_ALL / LC_MESSAGES / LANG, then the setting. The catalogs are complete and compiled."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gridmap import i18n
from gridmap.errors import InputError
from gridmap.settings import Settings

from .conftest import sample_app
from .slowguard import assert_slow

ROOT = Path(__file__).resolve().parents[1]
TRANSLATIONS = ROOT / "gridmap" / "translations"
CJK = re.compile(r"[\u4e00-\u9fff]")
BAD_REPORT = {"category": "exposed_rubbish", "lon": 116.05, "lat": 39.05, "reporter_phone": "123"}


def _code_messages() -> dict[str, str]:
    """Every msgid pybabel extracts from the code and templates (babel.cfg, the README's keywords)."""
    from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
    from babel.messages.frontend import parse_mapping_cfg

    with open(ROOT / "babel.cfg", encoding="utf-8") as f:
        method_map, options_map = parse_mapping_cfg(f)
    keywords = {**DEFAULT_KEYWORDS, "tr": None, "ntr": (1, 2), "bi": None}
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=keywords):
        for msgid in (message if isinstance(message, tuple) else (message,)):
            if msgid:
                found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _po(locale: str):
    from babel.messages.pofile import read_po

    with open(TRANSLATIONS / locale / "LC_MESSAGES" / "gridmap.po", "rb") as f:
        return read_po(f, locale=locale)


def test_every_message_in_the_code_has_a_chinese_translation():
    code = _code_messages()
    assert len(code) > 100  # the extraction found the converted modules (not an empty walk)
    zh = _po("zh_CN")
    missing = []
    for msgid, where in sorted(code.items()):
        entry = zh.get(msgid) or next((m for m in zh if isinstance(m.id, tuple) and msgid in m.id), None)  # ntr: both forms
        text = entry and (entry.string[0] if isinstance(entry.string, tuple) else entry.string)
        if not text or entry.fuzzy or not CJK.search(text):
            missing.append(f"{where}: {msgid!r}")
    assert missing == [], "translate these in gridmap/translations/zh_CN (README, Translations):\n" + "\n".join(missing)


def test_translations_keep_the_placeholders_and_the_compiled_catalogs_are_current():
    """Each zh_CN entry uses only its msgid's %(name)s placeholders and formats; the shipped .mo says what the .po says."""
    for locale in ("zh_CN", "en"):
        po = _po(locale)
        with open(TRANSLATIONS / locale / "LC_MESSAGES" / "gridmap.mo", "rb") as f:
            mo = gettext.GNUTranslations(f)
        for m in po:
            if not m.id or isinstance(m.id, tuple):
                continue
            names = set(re.findall(r"%\((\w+)\)", m.id))
            if m.string:
                assert set(re.findall(r"%\((\w+)\)", m.string)) <= names, m.id
                if names:
                    m.string % {n: "x" for n in names}  # no stray % in the translation
            assert mo.gettext(m.id) == (m.string or m.id), f"{locale}: recompile (pybabel compile, README): {m.id!r}"


def test_language_tags_and_the_posix_variables():
    assert [i18n.normalize(t) for t in ("zh-CN", "zh_CN.UTF-8", "zh-Hans", "ZH", "en-US", "en_GB.UTF-8", "fr", "C", "")] \
        == ["zh_CN", "zh_CN", "zh_CN", "zh_CN", "en", "en", None, None, None]
    assert i18n.environ_locale({"LANG": "en_US.UTF-8"}) == "en"
    assert i18n.environ_locale({"LC_ALL": "zh_CN.UTF-8", "LANG": "en_US.UTF-8"}) == "zh_CN"
    assert i18n.environ_locale({"LC_MESSAGES": "en_US.UTF-8", "LANG": "zh_CN.UTF-8"}) == "en"
    assert i18n.environ_locale({"LANG": "C.UTF-8"}) is None  # then the setting decides
    assert i18n.first_supported(["fr-FR", "de", "en-GB", "zh"]) == "en"


def test_the_locale_setting_is_checked_and_normalised():
    assert Settings.load({"locale": "en-US"}, environ={}).locale == "en"
    assert Settings.load(environ={}).locale == "zh_CN"
    with pytest.raises(InputError, match="locale must be zh_CN or en"):
        Settings.load({"locale": "fr"}, environ={})


def test_a_message_follows_the_locale_of_its_context():
    token = i18n.use_locale("en")
    try:
        assert i18n.tr("no user %(name)r", name="li") == "no user 'li'"
        assert i18n.tr("... and %(n)s more", n=3) == "... and 3 more"
    finally:
        i18n.reset_locale(token)
    assert i18n.current_locale() == "zh_CN"
    assert i18n.tr("no user %(name)r", name="li") == "没有用户 'li' / no user 'li'"


@pytest.fixture
def client(tmp_path, sample_dir):
    app = sample_app(tmp_path, sample_dir)
    yield app.test_client()
    app.extensions["gridmap"].store.close()


def test_api_errors_are_chinese_first_by_default_and_english_for_an_english_browser(client):
    zh = client.post("/api/v1/incidents", json=BAD_REPORT)
    en = client.post("/api/v1/incidents", json=BAD_REPORT, headers={"Accept-Language": "en-US,en;q=0.9,zh;q=0.5"})
    assert zh.status_code == en.status_code == 422
    assert set(zh.get_json()) == set(en.get_json()) == {"status", "title", "detail"}  # keys clients depend on
    assert zh.get_json()["title"] == en.get_json()["title"] == "InputError"
    assert zh.get_json()["detail"].startswith("报事有 1 处问题，未保存 / the report has 1 problem(s)")
    assert "reporter_phone: '123' 不是电话号码 / reporter_phone: '123' is not a phone number" in zh.get_json()["detail"]
    assert en.get_json()["detail"] == ("the report has 1 problem(s); nothing was stored\n"
                                       "  - reporter_phone: '123' is not a phone number")
    assert "Accept-Language" in en.headers["Vary"]
    # a browser preferring a language we lack falls through to its next choice, then to the setting
    assert not CJK.search(client.post("/api/v1/incidents", json=BAD_REPORT,
                                      headers={"Accept-Language": "fr-FR, en;q=0.8"}).get_json()["detail"])
    assert CJK.search(client.post("/api/v1/incidents", json=BAD_REPORT,
                                  headers={"Accept-Language": "fr-FR, de;q=0.8"}).get_json()["detail"])


def test_http_error_pages_and_json_in_both_languages(client):
    page = client.get("/no-such-page")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert '<html lang="zh-CN">' in html and "<h1>404 未找到 / Not Found</h1>" in html
    assert "没有这个页面或记录" in html and "The requested URL was not found" not in html
    en = client.get("/no-such-page", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in en and "<h1>404 Not Found</h1>" in en and not CJK.search(re.split(r"<main[^>]*>", en)[1])
    body = client.get("/api/v1/units/NOPE", headers={"Accept-Language": "en"}).get_json()
    assert body["status"] == 404 and body["title"] == "NotFound" and not CJK.search(body["detail"])
    # 401 (a write without a login) and 405, as JSON
    for lang, check in (("zh-CN", CJK.search), ("en", lambda s: not CJK.search(s))):
        r = client.post("/api/v1/incidents/1/actions", json={"action": "dispatch"}, headers={"Accept-Language": lang})
        assert r.status_code in (401, 403) and check(r.get_json()["detail"]), r.get_json()
        r = client.delete("/api/v1/info", headers={"Accept-Language": lang})
        assert r.status_code == 405 and check(r.get_json()["detail"]), r.get_json()
        assert r.get_json()["title"] == "Method Not Allowed"


def test_login_failure_speaks_the_browsers_language(client):
    from .pages import csrf

    for lang, want, unwanted in (("zh-CN,zh;q=0.9", "用户名或密码错误 / wrong user name or password", None),
                                 ("en-GB", "wrong user name or password", "用户名或密码错误")):
        h = {"Accept-Language": lang}
        token = csrf(client.get("/login", headers=h).get_data(as_text=True))
        r = client.post("/login", data={"username": "nobody", "password": "wrongwrong", "csrf_token": token}, headers=h)
        html = r.get_data(as_text=True)
        assert r.status_code == 401 and want in html
        if unwanted:
            assert unwanted not in html and "<h1>Sign in</h1>" in html
        else:
            assert "<h1>登录 Sign in</h1>" in html


def test_lang_parameter_is_kept_in_a_cookie_and_beats_accept_language(client):
    r = client.get("/no-such-page?lang=en", headers={"Accept-Language": "zh-CN"})
    assert "<h1>404 Not Found</h1>" in r.get_data(as_text=True)
    assert "gridmap_lang=en" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    later = client.get("/no-such-page", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "<h1>404 Not Found</h1>" in later  # the cookie remembers the choice
    back = client.get("/no-such-page?lang=zh-CN").get_data(as_text=True)
    assert "404 未找到 / Not Found" in back


def test_open311_errors_keep_the_georeport_shape_in_each_language(client):
    for lang, check in (("zh-CN", CJK.search), ("en", lambda s: not CJK.search(s))):
        r = client.get("/open311/v2/requests.json?status=pending", headers={"Accept-Language": lang})
        body = r.get_json()
        assert r.status_code == 400 and isinstance(body, list) and set(body[0]) == {"code", "description"}
        assert body[0]["code"] == 400 and check(body[0]["description"]) and "pending" in body[0]["description"]
        x = client.get("/open311/v2/services/nope.xml", headers={"Accept-Language": lang})
        assert x.status_code == 404 and b"<errors>" in x.data and check(x.get_data(as_text=True))


def test_the_locale_setting_is_the_default_of_the_web(tmp_path, sample_dir):
    from gridmap.app import create_app

    app = sample_app(tmp_path, sample_dir)
    app.extensions["gridmap"].store.close()
    app = create_app(Settings(db=str(tmp_path / "s.db"), locale="en"))
    try:
        c = app.test_client()
        assert not CJK.search(c.post("/api/v1/incidents", json=BAD_REPORT).get_json()["detail"])
        assert CJK.search(c.post("/api/v1/incidents", json=BAD_REPORT,
                                 headers={"Accept-Language": "zh-CN"}).get_json()["detail"])
    finally:
        app.extensions["gridmap"].store.close()


def test_planner_refusal_is_translated():
    from gridmap.plans.refusals import StaffingRefused

    gaps = [{"code": "G1", "name": "一网格", "open_incidents": 2, "problem": "no leader"}]
    assert str(StaffingRefused(3, gaps)).startswith("网格缺少完整的1+1+N队伍，不能发布 / plan 3: 1 grid(s)")
    token = i18n.use_locale("en")
    try:
        text = str(StaffingRefused(3, gaps))
    finally:
        i18n.reset_locale(token)
    assert text.startswith("plan 3: 1 grid(s) with open incidents lack a full team") and "G1 一网格: 2 open incident(s)" in text


# -- end to end: the command line, a real browser, the installed wheel ---------------------------
def _gm(*args, env_over: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    assert_slow("a gridmap subprocess")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRIDMAP_", "LC_", "LANG"))}
    env.update(env_over)
    return subprocess.run([sys.executable, "-m", "gridmap", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.slow
def test_cli_follows_lang_lc_all_and_the_setting(tmp_path):
    en = _gm("locate", "200", "95", env_over={"LANG": "en_US.UTF-8"}, cwd=tmp_path)
    assert en.returncode == 1
    assert en.stderr.strip() == "error: point (200.0, 95.0) is not a valid lon/lat"
    zh = _gm("locate", "200", "95", env_over={"LANG": "zh_CN.UTF-8"}, cwd=tmp_path)
    assert zh.returncode == 1
    assert zh.stderr.strip() == ("错误 / error: 点 (200.0, 95.0) 不是有效的经纬度 / point (200.0, 95.0) is not a valid "
                                 "lon/lat")
    # LC_ALL beats LANG; with LANG=C the `locale` setting (here from the environment) decides
    assert _gm("locate", "200", "95", env_over={"LANG": "zh_CN.UTF-8", "LC_ALL": "en_US.UTF-8"},
               cwd=tmp_path).stderr.startswith("error: point")
    assert _gm("locate", "200", "95", env_over={"LANG": "C.UTF-8", "GRIDMAP_LOCALE": "en"},
               cwd=tmp_path).stderr.startswith("error: point")
    assert _gm("locate", "200", "95", env_over={"LANG": "C.UTF-8"}, cwd=tmp_path).stderr.startswith("错误 / error")


@pytest.mark.slow
def test_pages_in_chromium_with_an_english_and_a_chinese_browser(tmp_path, sample_dir):
    from . import browser
    from .live_server import live_server

    browser.require_browser()
    app = sample_app(tmp_path, sample_dir)
    try:
        with live_server(app) as base, browser.chromium() as chrome:
            for locale, size in (("en-US", (1400, 900)), ("zh-CN", (390, 844))):
                ctx = chrome.new_context(locale=locale, viewport={"width": size[0], "height": size[1]})
                page = ctx.new_page()
                log = browser.watch(page)
                page.goto(f"{base}/login")
                page.fill("input[name=username]", "nobody")
                page.fill("input[name=password]", "wrongwrong")
                page.click("button[type=submit]")
                page.wait_for_load_state("load")
                error = page.inner_text("p.bad")
                lang = page.evaluate("() => document.documentElement.lang")
                browser.screenshot(page, tmp_path, f"i18n_login_{locale}_{size[0]}.png")
                page.goto(f"{base}/grids/NOPE", wait_until="load")
                heading = page.inner_text("h1")
                browser.screenshot(page, tmp_path, f"i18n_404_{locale}_{size[0]}.png")
                if locale == "en-US":
                    assert lang == "en" and error == "wrong user name or password"
                    assert heading == "404 Not Found" and page.title().startswith("404 Not Found")
                else:
                    assert lang == "zh-CN" and error == "用户名或密码错误 / wrong user name or password"
                    assert heading == "404 未找到 / Not Found"
                assert log.problems_except("401", "404") == []
                ctx.close()
    finally:
        app.extensions["gridmap"].store.close()


@pytest.mark.slow
def test_the_built_wheel_ships_the_compiled_catalogs(tmp_path):
    """`pip install .` (not -e): the wheel holds the .mo files and an installed gridmap translates with them."""
    assert_slow("a wheel build")
    src = tmp_path / "src"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, files):
        (src / name.decode()).parent.mkdir(parents=True, exist_ok=True)
        if (ROOT / name.decode()).is_file():
            shutil.copy2(ROOT / name.decode(), src / name.decode())
    # pip, as the README installs: its isolated build fetches the build backend pyproject.toml names
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("gridmap-*.whl"))
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        assert {"gridmap/translations/zh_CN/LC_MESSAGES/gridmap.mo", "gridmap/translations/en/LC_MESSAGES/gridmap.mo",
                "gridmap/translations/zh_CN/LC_MESSAGES/gridmap.po"} <= names
        z.extractall(tmp_path / "site")
    out = subprocess.run([sys.executable, "-c", "import gridmap.i18n as i; print(i.__file__); "
                          "print(i.tr('wrong user name or password'))"], cwd=tmp_path, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, check=True).stdout
    where, text = out.strip().splitlines()
    assert where.startswith(str(tmp_path / "site")) and text == "用户名或密码错误 / wrong user name or password"


def test_every_tr_call_fills_the_placeholders_its_message_names():
    """A missing %(name)s argument would raise KeyError where the user should have read a message;
    a local variable named `tr` would shadow the function in a module that imports it."""
    import ast

    bad = []
    for path in sorted((ROOT / "gridmap").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imports_tr = any(isinstance(n, ast.ImportFrom) and n.module and n.module.endswith("i18n")
                         and any(a.name == "tr" for a in n.names) for n in ast.walk(tree))
        def where(node) -> str:  # only for a finding: building it for each of ~10^6 nodes took seconds
            return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"

        for node in ast.walk(tree):
            if imports_tr and isinstance(node, ast.Name) and node.id == "tr" and isinstance(node.ctx, ast.Store):
                bad.append(f"{where(node)}: a local `tr` shadows gridmap.i18n.tr")
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "tr"):
                continue
            if not node.args or not isinstance(node.args[0], ast.Constant) or any(k.arg is None for k in node.keywords):
                continue  # tr(table[code]) of an N_() id, or tr(msgid, **shared)
            names = set(re.findall(r"%\((\w+)\)", node.args[0].value))
            given = {k.arg for k in node.keywords}
            if names != given:
                bad.append(f"{where(node)}: {node.args[0].value[:60]!r} names {sorted(names)}, the call gives {sorted(given)}")
    assert bad == []


def test_field_prefixed_problems_keep_their_ascii_prefix_in_chinese():
    """report.js puts each "  - field: problem" line next to its field: the prefix survives translation."""
    bad = []
    for m in _po("zh_CN"):
        pre = m.id and isinstance(m.id, str) and re.match(r"^(%\(\w+\)s|[a-z_][\w\[\]#.=-]*): ", m.id)
        if pre and pre.group(1) != "error" and not m.string.startswith(pre.group(0)):  # the CLI's "错误 / error: ..."
            bad.append(f"{m.id!r} -> {m.string!r}")
    assert bad == []


def test_the_report_page_script_finds_the_field_of_a_chinese_problem(client):
    detail = client.post("/api/v1/incidents", json=BAD_REPORT).get_json()["detail"]
    lines = detail.split("\n")[1:]
    assert [re.match(r"^\s*-\s*([a-z_]+):\s*", line).group(1) for line in lines] == ["reporter_phone"]  # report.js's regex
