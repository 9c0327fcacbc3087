"""Security storage (migration 0004): user state, API token lifetimes, failed logins, the secret key.

Everything here lives in the database, not in a worker's memory, so several gunicorn workers
(or servers) agree: a logout on one ends the session on all, a throttle counts every
attempt, and they sign sessions with one key.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import NotFound
from ..i18n import tr
from . import schema
from .incidents import to_db_time

UTC = dt.timezone.utc


class SecurityRepo:
    """Sessions, tokens, login failures and app secrets on a store's engine."""

    def __init__(self, store):
        self.store = store

    # -- users ------------------------------------------------------------------------------
    def users(self) -> list[dict]:
        """Every user (without the password hash), with the number of live API tokens."""
        u, t = schema.users, schema.api_tokens
        q = (sa.select(u.c.username, u.c.role, u.c.person_id, u.c.disabled, u.c.created_at,
                       sa.func.count(t.c.id).label("tokens"))
             .select_from(u.outerjoin(t, t.c.username == u.c.username))
             .group_by(u.c.username, u.c.role, u.c.person_id, u.c.disabled, u.c.created_at)
             .order_by(u.c.username))
        with self.store._connect() as conn:
            return [dict(r) for r in conn.execute(q).mappings()]

    def update_user(self, username: str, *, password_hash: str | None = None, disabled: bool | None = None,
                    bump_session: bool = True) -> None:
        """Change a user's password or disabled flag; ends their sessions (new generation)."""
        u = schema.users
        values: dict = {}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if disabled is not None:
            values["disabled"] = disabled
        if bump_session:
            values["session_gen"] = u.c.session_gen + 1
        with self.store._begin() as conn:
            n = conn.execute(u.update().where(u.c.username == username).values(**values)).rowcount
        if n == 0:
            raise NotFound(tr("no user %(username)r", username=username))

    def end_sessions(self, username: str) -> None:
        """Logout: every session cookie issued to the user so far stops working."""
        self.update_user(username)

    # -- tokens -----------------------------------------------------------------------------
    def set_token_expiry(self, token_hash: str, expires_at: dt.datetime | None) -> None:
        """When a token stops working (None = never)."""
        t = schema.api_tokens
        with self.store._begin() as conn:
            conn.execute(t.update().where(t.c.token_hash == token_hash)
                         .values(expires_at=None if expires_at is None else to_db_time(expires_at)))

    def revoke_tokens(self, username: str, label: str | None = None) -> int:
        """Delete a user's API tokens (those with `label`, or all); how many went."""
        t = schema.api_tokens
        q = t.delete().where(t.c.username == username)
        if label is not None:
            q = q.where(t.c.label == label)
        with self.store._begin() as conn:
            return conn.execute(q).rowcount

    # -- login throttling -------------------------------------------------------------------
    def failures_since(self, keys: list[str], since: dt.datetime) -> dict[str, int]:
        """Failed logins per key since a moment."""
        f = schema.login_failures
        q = (sa.select(f.c.key, sa.func.count()).where(f.c.key.in_(keys), f.c.at >= to_db_time(since))
             .group_by(f.c.key))
        with self.store._connect() as conn:
            return {k: n for k, n in conn.execute(q).all()}

    def add_failure(self, keys: list[str], at: dt.datetime, prune_before: dt.datetime) -> None:
        """Record a failed login under each key (and forget failures older than `prune_before`)."""
        f = schema.login_failures
        with self.store._begin() as conn:
            conn.execute(f.delete().where(f.c.at < to_db_time(prune_before)))
            conn.execute(f.insert(), [{"key": k, "at": to_db_time(at)} for k in keys])

    def clear_failures(self, keys: list[str]) -> None:
        """A successful login clears the account's failures."""
        f = schema.login_failures
        with self.store._begin() as conn:
            conn.execute(f.delete().where(f.c.key.in_(keys)))

    # -- the shared secret key ---------------------------------------------------------------
    def secret(self, name: str = "secret_key") -> str:
        """A random secret generated once and kept in the store (the first worker to ask creates it)."""
        s = schema.app_secrets
        with self.store._connect() as conn:
            found = conn.execute(sa.select(s.c.value).where(s.c.name == name)).scalar()
        if found:
            return found
        try:
            with self.store._begin() as conn:
                conn.execute(s.insert().values(name=name, value=secrets.token_hex(32)))
        except IntegrityError:  # another worker created it at the same moment: use theirs
            pass
        with self.store._connect() as conn:
            return conn.execute(sa.select(s.c.value).where(s.c.name == name)).scalar()
