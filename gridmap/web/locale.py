"""The language of each request: ?lang= (kept in a cookie), else Accept-Language, else the `locale` setting."""

from __future__ import annotations

from flask import Flask, Response, g, request
from markupsafe import Markup, escape

from ..i18n import catalog, current_locale, first_supported, normalize, reset_locale, use_locale
from . import js_messages

COOKIE = "gridmap_lang"


def request_locale(default: str) -> str:
    """The locale this request asks for (see the module docstring)."""
    explicit = normalize(request.args.get("lang")) or normalize(request.cookies.get(COOKIE))
    if explicit:
        return explicit
    tags = [tag for tag, _q in request.accept_languages]  # werkzeug sorts them by quality
    return first_supported(tags) or default


def html_lang() -> str:
    """The page's <html lang> value."""
    return "zh-CN" if current_locale() == "zh_CN" else "en"


def bilingual(msgid: str, br: bool = False) -> Markup:
    """Chinese with the English after it in a `.en` span (hidden on a phone's top bar) for zh_CN; English alone for en.

    Templates call ``{{ bi("Sign out") }}``: the zh_CN catalog holds the Chinese only ("退出").
    """
    zh = catalog(current_locale()).gettext(msgid)
    if current_locale() == "en" or zh == msgid:
        return escape(msgid)
    if zh.endswith(msgid):  # a msgid the pages also show whole ("登录 Sign in"): its Chinese part
        zh = zh[:-len(msgid)].rstrip(" /")
    return Markup('{}{}<span class="en" lang="en">{}{}</span>').format(zh, Markup("<br>") if br else "",
                                                                     "" if br else " ", msgid)


def init_app(app: Flask, default: str) -> None:
    """Choose each request's language before its view runs; templates get `_`/`gettext` (jinja2.ext.i18n)."""

    @app.before_request
    def _choose():
        g.gridmap_locale_token = use_locale(request_locale(default))

    @app.after_request
    def _remember(resp: Response) -> Response:
        resp.vary.add("Accept-Language")  # the same URL answers in another language for another browser
        asked = normalize(request.args.get("lang"))
        if asked and request.cookies.get(COOKIE) != asked:
            resp.set_cookie(COOKIE, asked, max_age=365 * 86400, samesite="Lax", httponly=True,
                            secure=request.is_secure)
        return resp

    @app.teardown_request
    def _forget(_exc):
        token = g.pop("gridmap_locale_token", None)
        if token is not None:
            reset_locale(token)

    app.jinja_env.add_extension("jinja2.ext.i18n")
    # newstyle: Jinja fills the %(name)s placeholders itself (and escapes them)
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: catalog(current_locale()).gettext(s),
        ngettext=lambda s, p, n: catalog(current_locale()).ngettext(s, p, n),
        newstyle=True)
    app.jinja_env.globals["html_lang"] = html_lang
    app.jinja_env.globals["bi"] = bilingual
    app.jinja_env.globals["js_messages"] = js_messages.dictionary
