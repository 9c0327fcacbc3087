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
import secrets

from flask import g, request, session
from flask_wtf.csrf import validate_csrf
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms.validators import ValidationError

from ..errors import Forbidden, InputError, Throttled, Unauthorized
from ..hashing import hash_secret
from ..i18n import tr
from ..incidents.actors import PUBLIC, ROLES, Actor
from . import services

UTC = dt.timezone.utc


def hash_token(token: str) -> str:
    """The stored form of an API token."""
    return hash_secret(token)


def create_user(store, username: str, password: str, role: str, person_id: str | None = None) -> None:
    """Add a user with a hashed password; InputError on a bad role or weak password."""
    if role not in ROLES:
        raise InputError(tr("unknown role %(role)r; one of %(known)s", role=role, known=", ".join(ROLES)))
    if len(password) < 8:
        raise InputError(tr("password: at least 8 characters"))
    if role == "staff" and not person_id:
        raise InputError(tr("a staff user needs --person (the person_id whose grids they serve)"))
    store.incidents.add_user(username, generate_password_hash(password), role, person_id)


def create_token(store, username: str, label: str = "", days: float | None = None) -> str:
    """A new API token for a user (shown once; only its hash is kept), expiring after `days` if given."""
    if store.incidents.user(username) is None:
        raise InputError(tr("no user %(name)r", name=username))
    token = secrets.token_urlsafe(32)
    store.incidents.add_token(hash_token(token), username, label)
    if days:
        store.security.set_token_expiry(hash_token(token), dt.datetime.now(UTC) + dt.timedelta(days=days))
    return token


def set_password(store, username: str, password: str) -> None:
    """A new password (hashed); ends the user's sessions."""
    if len(password) < 8:
        raise InputError(tr("password: at least 8 characters"))
    store.security.update_user(username, password_hash=generate_password_hash(password))


def check_login(store, username: str, password: str, address: str | None = None, settings=None) -> dict:
    """The user row if the password is right; Unauthorized otherwise (same message either way).

    Throttled (429) once the account or the address has too many recent failures, whatever
    the password: guessing stops at the limit instead of going on at full speed.
    """
    keys = [f"user:{username[:150]}"] + ([f"addr:{address}"] if address else [])
    window = dt.timedelta(minutes=getattr(settings, "login_lockout_minutes", 15.0))
    limits = {keys[0]: getattr(settings, "login_max_failures", 5)}
    if address:
        limits[keys[1]] = getattr(settings, "login_max_failures_per_address", 20)
    now = dt.datetime.now(UTC)
    counts = store.security.failures_since(keys, now - window)
    if any(counts.get(k, 0) >= n for k, n in limits.items()):
        minutes = f"{window.total_seconds() / 60:g}"
        raise Throttled(tr("too many failed logins: try again in %(minutes)s minutes", minutes=minutes))
    user = store.incidents.user(username)
    if user is None or user.get("disabled") or not check_password_hash(user["password_hash"], password):
        store.security.add_failure(keys, now, prune_before=now - window)
        raise Unauthorized(tr("wrong user name or password"))
    store.security.clear_failures(keys[:1])
    return user


def start_session(user: dict) -> None:
    """Sign the user in on this browser: the cookie carries the user's session generation."""
    session.clear()
    session["user"] = user["username"]
    session["gen"] = int(user.get("session_gen") or 0)


def end_session() -> None:
    """Sign out: every cookie issued to this user so far stops working, on every worker."""
    user = session.get("user")
    session.clear()
    if user:
        services().store.security.end_sessions(user)


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
        user = store.incidents.token_user(hash_token(token))
        if user is None or user.get("disabled"):
            raise Unauthorized(tr("invalid API token") if not open311 or header else tr("invalid api_key"))
        if user.get("token_expires_at") is not None and user["token_expires_at"] <= dt.datetime.now(UTC):
            raise Unauthorized(tr("the API token has expired: ask for a new one"))
        actor = actor_for(user)
    elif session.get("user") and not open311:  # Open311: api_key or anonymous, never the cookie
        user = store.incidents.user(session["user"])
        if user is not None and not user.get("disabled") and session.get("gen") == int(user.get("session_gen") or 0):
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
