"""Security storage (migration 0007): failed logins (throttling) and the shared secret key.

Accounts, sessions and API tokens are in store/users.py.

Everything here lives in the database, not in a worker's memory, so several gunicorn workers
(or servers) agree: a logout on one ends the session on all, a throttle counts every
attempt, and they sign sessions with one key.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from . import schema
from .incidents import to_db_time

UTC = dt.timezone.utc


class SecurityRepo:
    """Login failures and app secrets on a store's engine."""

    def __init__(self, store):
        self.store = store

    # -- login throttling -------------------------------------------------------------------
    def failures_since(self, keys: list[str], since: dt.datetime) -> dict[str, int]:
        """Failed logins per key since a moment."""
        f = schema.login_failures
        q = (sa.select(f.c.key, sa.func.count()).where(f.c.key.in_(keys), f.c.at >= to_db_time(since))
             .group_by(f.c.key))
        with self.store.connect() as conn:
            return {k: n for k, n in conn.execute(q).all()}

    def add_failure(self, keys: list[str], at: dt.datetime, prune_before: dt.datetime) -> None:
        """Record a failed login under each key (and forget failures older than `prune_before`)."""
        f = schema.login_failures
        with self.store.transaction() as conn:
            conn.execute(f.delete().where(f.c.at < to_db_time(prune_before)))
            conn.execute(f.insert(), [{"key": k, "at": to_db_time(at)} for k in keys])

    def clear_failures(self, keys: list[str]) -> None:
        """A successful login clears the account's failures."""
        f = schema.login_failures
        with self.store.transaction() as conn:
            conn.execute(f.delete().where(f.c.key.in_(keys)))

    # -- the shared secret key ---------------------------------------------------------------
    def secret(self, name: str = "secret_key") -> str:
        """A random secret generated once and kept in the store (the first worker to ask creates it)."""
        s = schema.app_secrets
        with self.store.connect() as conn:
            found = conn.execute(sa.select(s.c.value).where(s.c.name == name)).scalar()
        if found:
            return found
        try:
            with self.store.transaction() as conn:
                conn.execute(s.insert().values(name=name, value=secrets.token_hex(32)))
        except IntegrityError:  # another worker created it at the same moment: use theirs
            pass
        with self.store.connect() as conn:
            return conn.execute(sa.select(s.c.value).where(s.c.name == name)).scalar()
