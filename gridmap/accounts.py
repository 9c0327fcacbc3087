"""Accounts without the web: creating users and API tokens, changing passwords (the CLI and the web share these).

Passwords are hashed with werkzeug's scrypt; API tokens are stored as SHA-256 hashes and may expire.
No Flask here: `gridmap users ...` does not load the web app.
"""

from __future__ import annotations

import datetime as dt
import secrets

from werkzeug.security import generate_password_hash

from .errors import InputError
from .hashing import hash_secret
from .i18n import tr
from .incidents.actors import ROLES

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
    store.users.add_user(username, generate_password_hash(password), role, person_id)


def create_token(store, username: str, label: str = "", days: float | None = None) -> str:
    """A new API token for a user (shown once; only its hash is kept), expiring after `days` if given."""
    if store.users.user(username) is None:
        raise InputError(tr("no user %(name)r", name=username))
    token = secrets.token_urlsafe(32)
    store.users.add_token(hash_token(token), username, label)
    if days:
        store.users.set_token_expiry(hash_token(token), dt.datetime.now(UTC) + dt.timedelta(days=days))
    return token


def set_password(store, username: str, password: str) -> None:
    """A new password (hashed); ends the user's sessions."""
    if len(password) < 8:
        raise InputError(tr("password: at least 8 characters"))
    store.users.update_user(username, password_hash=generate_password_hash(password))
