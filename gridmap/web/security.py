"""Request and response hardening (issue #15): cookie flags, security headers, request shape, host.

- Session cookie: HttpOnly, SameSite=Lax, and Secure whenever the request came over HTTPS
  (directly, or behind `proxy_hops` proxies sending X-Forwarded-Proto: https) or
  `public_url` is https.
- Headers on every response: a Content-Security-Policy whose script-src allows only this
  site's files and inline scripts carrying this response's nonce (the folium maps' inline
  scripts get it in the templates; an injected <script> does not), frame-ancestors 'none' +
  X-Frame-Options: DENY, X-Content-Type-Options: nosniff, Referrer-Policy.
- Request shape: a NUL character or a lone UTF-16 surrogate anywhere in the query, the
  form or a JSON body, or JSON nested deeper than MAX_JSON_DEPTH, is refused with 422 before
  any view runs (they gave 500s: PostgreSQL refuses NUL in text, UTF-8 refuses surrogates,
  Python's JSON parser recurses).
- Host: with `public_url` set, links the app builds (status_url, OGC links) use it instead
  of the request's Host header; `trusted_hosts` makes Flask refuse other Host headers (400).
"""

from __future__ import annotations

import re
import secrets
from urllib.parse import urlsplit

import numpy as np
from flask import Flask, g, request
from flask.sessions import SecureCookieSessionInterface
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix

from ..errors import InputError
from ..i18n import N_, tr

MAX_JSON_DEPTH = 64
_BAD_CHARS = re.compile("[\x00\ud800-\udfff]")


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure when this request itself is HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)


def init_app(app: Flask, settings) -> None:
    """Install the cookie flags, headers, request guard and host handling."""
    public = urlsplit(settings.public_url) if settings.public_url else None
    app.session_interface = _SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
                      SESSION_COOKIE_SECURE=bool(public and public.scheme == "https"))
    hosts = [h.strip() for h in settings.trusted_hosts.split(",") if h.strip()]
    if hosts:
        app.config["TRUSTED_HOSTS"] = hosts
    img_src = " ".join(sorted({"'self'", "data:", "blob:", *_origins(settings.basemap_url)}))

    if public is not None and public.netloc:  # never reflect the client's Host header into links
        inner = getattr(app.wsgi_app, "app", None) if isinstance(app.wsgi_app, ProxyFix) else None
        if inner is not None:  # inside ProxyFix: public_url wins over X-Forwarded-Host too
            app.wsgi_app.app = _PublicHost(inner, public)
        else:
            app.wsgi_app = _PublicHost(app.wsgi_app, public)

    @app.before_request
    def _guard():
        check_request_shape()

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault("Content-Security-Policy",
                     f"default-src 'self'; script-src 'self' 'nonce-{csp_nonce()}'; "
                     f"style-src 'self' 'unsafe-inline'; img-src {img_src}; connect-src 'self'; "
                     "font-src 'self' data:; object-src 'none'; base-uri 'self'; form-action 'self'; "
                     "frame-ancestors 'none'")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        return response

    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.jinja_env.filters["nonce_scripts"] = nonce_scripts


class _PublicHost:
    """WSGI middleware: every request is seen as addressed to `public_url` (host and scheme)."""

    def __init__(self, app, public):
        self.app, self.host, self.scheme = app, public.netloc, public.scheme or "http"

    def __call__(self, environ, start_response):
        environ["HTTP_HOST"] = self.host
        environ["wsgi.url_scheme"] = self.scheme
        return self.app(environ, start_response)


def csp_nonce() -> str:
    """This response's CSP nonce (one per request)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def nonce_scripts(html: str) -> Markup:
    """Our own generated markup (folium's map head) with the nonce on each of its <script> tags."""
    return Markup(re.sub(r"<script(?=[\s>])", f'<script nonce="{csp_nonce()}"', str(html)))


def _origins(urls: str) -> set[str]:
    out = set()
    for url in (urls or "").split("|"):
        parts = urlsplit(url.strip())
        if parts.scheme in ("http", "https") and parts.netloc:
            out.add(f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}")
    return out


def check_request_shape() -> None:
    """InputError (422) for NUL, lone surrogates or too-deep JSON anywhere in the request."""
    for source, name in ((request.args, N_("query parameter")), (request.form, N_("form field"))):
        for key, values in source.lists():
            for value in [key, *values]:
                if isinstance(value, str) and _BAD_CHARS.search(value):
                    raise InputError(tr("%(where)s %(key)s: contains a NUL character or an unpaired surrogate",
                                        where=tr(name), key=_show(key)))
    if request.is_json and request.content_length:
        raw = request.get_data(cache=True)
        depth = _json_depth(raw)
        if depth > MAX_JSON_DEPTH:
            raise InputError(tr("the JSON body is nested %(depth)s levels deep, more than %(limit)s",
                                depth=depth, limit=MAX_JSON_DEPTH))
        body = request.get_json(silent=True)
        bad = _bad_string(body)
        if bad is not None:
            raise InputError(tr("JSON field %(key)s: contains a NUL character or an unpaired surrogate", key=_show(bad)))


_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_OPENERS, _CLOSERS = np.frombuffer(b"[{", np.uint8), np.frombuffer(b"]}", np.uint8)


def _json_depth(raw: bytes) -> int:
    """The deepest nesting of [ and { outside strings, at most MAX_JSON_DEPTH + 1 (vectorised: a
    1 MB body costs milliseconds, where a byte-by-byte Python loop cost a tenth of a second)."""
    outside = np.frombuffer(_JSON_STRING.sub(b'""', raw), np.uint8)
    steps = np.isin(outside, _OPENERS).astype(np.int32) - np.isin(outside, _CLOSERS)
    deepest = int(np.cumsum(steps).max(initial=0))
    return min(deepest, MAX_JSON_DEPTH + 1)


def _bad_string(value, path: str = "body") -> str | None:
    """The path of the first string (key or value) holding NUL or a lone surrogate, else None."""
    stack = [(value, path)]
    while stack:
        v, p = stack.pop()
        if isinstance(v, str):
            if _BAD_CHARS.search(v):
                return p
        elif isinstance(v, dict):
            for k, x in v.items():
                if _BAD_CHARS.search(k):
                    return f"{p}.<key>"
                stack.append((x, f"{p}.{k}"))
        elif isinstance(v, list):
            stack.extend((x, f"{p}[{i}]") for i, x in enumerate(v))
    return None


def _show(text: str) -> str:
    return repr(_BAD_CHARS.sub("?", text)[:40])
