"""Who is calling: API token (Authorization: Bearer), session login, or the anonymous public.

Passwords are hashed with werkzeug's scrypt; API tokens are stored as SHA-256 hashes. A
request authenticated by the session cookie that writes must carry the CSRF token (form
field csrf_token or header X-CSRFToken); token and anonymous requests carry no cookie
authority, so need none.
"""

from __future__ import annotations

import hashlib
import secrets

from flask import g, request, session
from flask_wtf.csrf import validate_csrf
from wtforms.validators import ValidationError
from werkzeug.security import check_password_hash, generate_password_hash

from ..errors import Forbidden, InputError, Unauthorized
from ..incidents.actors import PUBLIC, ROLES, Actor
from . import services


def hash_token(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(store, username: str, password: str, role: str, person_id: str | None = None) -> None:
    """Add a user with a hashed password; InputError on a bad role or weak password."""
    if role not in ROLES:
        raise InputError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if len(password) < 8:
        raise InputError("password: at least 8 characters")
    if role == "staff" and not person_id:
        raise InputError("a staff user needs --person (the person_id whose grids they serve)")
    store.incidents.add_user(username, generate_password_hash(password), role, person_id)


def create_token(store, username: str, label: str = "") -> str:
    """A new API token for a user (shown once; only its hash is kept)."""
    if store.incidents.user(username) is None:
        raise InputError(f"no user {username!r}")
    token = secrets.token_urlsafe(32)
    store.incidents.add_token(hash_token(token), username, label)
    return token


def check_login(store, username: str, password: str) -> dict:
    """The user row if the password is right; Unauthorized otherwise (same message either way)."""
    user = store.incidents.user(username)
    if user is None or not check_password_hash(user["password_hash"], password):
        raise Unauthorized("wrong user name or password")
    return user


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
    if token is None and request.path.startswith("/open311/"):
        token = request.values.get("api_key") or None  # Open311 clients send their key as api_key
    actor = PUBLIC
    g.via_session = False
    if token is not None:
        user = store.incidents.token_user(hash_token(token))
        if user is None:
            raise Unauthorized("invalid API token" if header else "invalid api_key")
        actor = actor_for(user)
    elif session.get("user"):
        user = store.incidents.user(session["user"])
        if user is not None:
            actor = actor_for(user)
            g.via_session = True
    g.actor = actor
    return actor


def require(*roles: str) -> Actor:
    """The current actor, if it has one of `roles`; 401 for the public, 403 for other roles."""
    actor = current_actor()
    if actor.is_public:
        raise Unauthorized("log in or send an API token (Authorization: Bearer ...)")
    if roles and actor.role not in roles:
        raise Forbidden(f"a {actor.role} may not do this")
    check_csrf()
    return actor


def check_csrf() -> None:
    """A write authenticated by the session cookie must carry the CSRF token (Forbidden if not)."""
    current_actor()
    if request.method not in ("GET", "HEAD", "OPTIONS") and g.get("via_session"):
        try:
            validate_csrf(request.headers.get("X-CSRFToken") or request.form.get("csrf_token"))
        except ValidationError as exc:
            raise Forbidden(f"CSRF check failed: {exc}") from None
