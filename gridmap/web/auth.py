"""Who is calling: API token (Authorization: Bearer, or X-API-Key), session login, or the public.

Passwords are hashed with werkzeug's scrypt; API tokens are stored as SHA-256 hashes and
may expire. A request authenticated by the session cookie that writes must carry the CSRF
token (form field csrf_token or header X-CSRFToken); token and anonymous requests carry no
cookie authority, so need none. Open311 ignores the session cookie altogether (an api_key,
or anonymous and rate-limited).

A session cookie names the user and the user's session generation; logout, a password
change and disabling the user bump the generation, so a saved cookie stops working. Failed
logins are counted in the store per account and per client address (several workers see the
same counts): past the limit, logins are refused (429) even with the right password.
"""

from __future__ import annotations

import datetime as dt

from flask import g, request, session
from flask_wtf.csrf import validate_csrf
from werkzeug.security import check_password_hash
from wtforms.validators import ValidationError

from ..accounts import create_token, create_user, hash_token, set_password  # noqa: F401  (re-exported for the web)
from ..errors import Forbidden, Throttled, Unauthorized
from ..i18n import tr
from ..incidents.actors import PUBLIC, Actor
from . import services

UTC = dt.timezone.utc


def check_throttle(store, settings, account_key: str, address: str | None, message: str):
    """Throttled (429, `message` with {minutes}) once the account key or the address has too many
    failures within login_lockout_minutes; else (keys to count a failure under, now, the window)."""
    keys = [account_key] + ([f"addr:{address}"] if address else [])
    window = dt.timedelta(minutes=settings.login_lockout_minutes)
    limits = {keys[0]: settings.login_max_failures}
    if address:
        limits[keys[1]] = settings.login_max_failures_per_address
    now = dt.datetime.now(UTC)
    counts = store.security.failures_since(keys, now - window)
    if any(counts.get(k, 0) >= n for k, n in limits.items()):
        raise Throttled(message.format(minutes=f"{window.total_seconds() / 60:g}"))
    return keys, now, window


def check_login(store, username: str, password: str, address: str | None = None, settings=None) -> dict:
    """The user row if the password is right; Unauthorized otherwise (same message either way).

    Throttled (429) once the account or the address has too many recent failures, whatever
    the password: guessing stops at the limit instead of going on at full speed.
    """
    keys, now, window = check_throttle(store, settings, f"user:{username[:150]}", address,
                                       "登录失败次数过多，请 {minutes} 分钟后再试 / too many failed logins: "
                                       "try again in {minutes} minutes")
    user = store.users.user(username)
    if user is None or user.get("disabled") or not check_password_hash(user["password_hash"], password):
        store.security.add_failure(keys, now, prune_before=now - window)
        raise Unauthorized(tr("wrong user name or password"))
    store.security.clear_failures(keys[:1])
    return user


def start_session(user: dict, second_factor: bool = False) -> None:
    """Sign the user in on this browser: the cookie carries the user's session generation, and
    whether the second factor (TOTP) was given."""
    session.clear()
    session["user"] = user["username"]
    session["gen"] = int(user.get("session_gen") or 0)
    if second_factor:
        session["mfa"] = True


PENDING_SECONDS = 300  # the password step is good for this long while the second step is asked


def begin_second_step(user: dict, kind: str) -> None:
    """The password was right; the browser is not signed in until the code ("code") or the
    enrolment ("enrol") is done."""
    session.clear()
    session["pending"] = {"user": user["username"], "gen": int(user.get("session_gen") or 0),
                          "kind": kind, "at": int(dt.datetime.now(UTC).timestamp())}


def pending_user(kind: str) -> dict | None:
    """The user between the password and the second step on this browser, if still valid."""
    p = session.get("pending")
    if not isinstance(p, dict) or p.get("kind") != kind:
        return None
    if dt.datetime.now(UTC).timestamp() - float(p.get("at") or 0) > PENDING_SECONDS:
        return None
    user = services().store.users.user(str(p.get("user")))
    if user is None or user.get("disabled") or int(user.get("session_gen") or 0) != p.get("gen"):
        return None
    return user


def session_ok(user: dict) -> bool:
    """A session cookie of this user still counts: right generation, and the second factor given
    if the user has one or their role requires it."""
    from .twofactor import is_required

    if user.get("disabled") or session.get("gen") != int(user.get("session_gen") or 0):
        return False
    if (user.get("totp_secret") or is_required(services().settings, user["role"])) and not session.get("mfa"):
        return False
    return True


def end_session() -> None:
    """Sign out: every cookie issued to this user so far stops working, on every worker."""
    user = session.get("user")
    session.clear()
    if user:
        services().store.users.end_sessions(user)


def actor_for(user: dict) -> Actor:
    """An Actor for a user row, with the unit codes a staff member serves."""
    units: frozenset[str] = frozenset()
    if user["role"] == "staff" and user.get("person_id"):
        units = frozenset(r.unit_code for r in services().store.roles() if r.person_id == user["person_id"])
    return Actor(user["username"], user["role"], user.get("person_id"), units)


def current_actor() -> Actor:
    """The actor of this request (cached on flask.g)."""
    if "actor" in g:
        return g.actor
    store = services().store
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else None
    token = token or request.headers.get("X-API-Key") or None  # a header keeps the key out of access logs
    open311 = request.path.startswith("/open311/")
    if token is None and open311:
        token = request.values.get("api_key") or None  # GeoReport v2 clients send their key as api_key
    actor = PUBLIC
    g.via_session = False
    if token is not None:
        user = store.users.token_user(hash_token(token))
        if user is None or user.get("disabled"):
            raise Unauthorized(tr("invalid API token") if not open311 or header else tr("invalid api_key"))
        if user.get("token_expires_at") is not None and user["token_expires_at"] <= dt.datetime.now(UTC):
            raise Unauthorized(tr("the API token has expired: ask for a new one"))
        actor = actor_for(user)
    elif session.get("user") and not open311:  # Open311: api_key or anonymous, never the cookie
        user = store.users.user(session["user"])
        if user is not None and session_ok(user):
            actor = actor_for(user)
            g.via_session = True
    g.actor = actor
    return actor


def require(*roles: str) -> Actor:
    """The current actor, if it has one of `roles`; 401 for the public, 403 for other roles."""
    actor = current_actor()
    if actor.is_public:
        raise Unauthorized(tr("log in or send an API token (Authorization: Bearer ...)"))
    if roles and actor.role not in roles:
        raise Forbidden(tr("a %(role)s may not do this", role=actor.role))
    check_csrf()
    return actor


def check_csrf() -> None:
    """A write authenticated by the session cookie must carry the CSRF token (Forbidden if not)."""
    current_actor()
    if request.method not in ("GET", "HEAD", "OPTIONS") and g.get("via_session"):
        try:
            validate_csrf(request.headers.get("X-CSRFToken") or request.form.get("csrf_token"))
        except ValidationError as exc:
            raise Forbidden(tr("CSRF check failed: %(reason)s", reason=exc)) from None
