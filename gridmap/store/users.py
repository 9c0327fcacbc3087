"""Accounts on a store's engine: users, their sessions (a generation number) and API tokens (hashes only).

Everything lives in the database, not in a worker's memory, so several gunicorn workers agree:
a logout on one ends the session on all.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from ..errors import Conflict, NotFound
from ..i18n import tr
from . import schema
from .incidents import to_db_time

UTC = dt.timezone.utc


class UserRepo:
    """Users, sessions and API tokens."""

    def __init__(self, store):
        self.store = store

    # -- accounts ------------------------------------------------------------------------------
    def add_user(self, username: str, password_hash: str, role: str, person_id: str | None) -> None:
        """Create a user; Conflict if the name is taken."""
        with self.store.transaction() as conn:
            if conn.execute(sa.select(schema.users.c.username).where(schema.users.c.username == username)).first():
                raise Conflict(tr("user %(username)r already exists", username=username))
            conn.execute(schema.users.insert().values(username=username, password_hash=password_hash, role=role,
                                                      person_id=person_id, created_at=to_db_time(_now())))

    def user(self, username: str) -> dict | None:
        """A user row as a dict, or None."""
        with self.store.connect() as conn:
            r = conn.execute(sa.select(schema.users).where(schema.users.c.username == username)).mappings().first()
        return dict(r) if r else None

    def add_token(self, token_hash: str, username: str, label: str = "") -> None:
        """Store an API token's hash for a user."""
        with self.store.transaction() as conn:
            conn.execute(schema.api_tokens.insert().values(token_hash=token_hash, username=username, label=label,
                                                           created_at=to_db_time(_now())))

    def token_user(self, token_hash: str) -> dict | None:
        """The user owning a token hash, or None."""
        t, u = schema.api_tokens, schema.users
        q = (sa.select(u, t.c.expires_at.label("token_expires_at"))
             .join(t, t.c.username == u.c.username).where(t.c.token_hash == token_hash))
        with self.store.connect() as conn:
            r = conn.execute(q).mappings().first()
        if r is None:
            return None
        row = dict(r)
        if row["token_expires_at"] is not None and row["token_expires_at"].tzinfo is None:
            row["token_expires_at"] = row["token_expires_at"].replace(tzinfo=UTC)  # SQLite keeps it naive
        return row

    # -- upkeep ------------------------------------------------------------------------------
    def list(self) -> list[dict]:
        """Every user (without the password hash), with the number of live API tokens."""
        u, t = schema.users, schema.api_tokens
        q = (sa.select(u.c.username, u.c.role, u.c.person_id, u.c.disabled, u.c.created_at,
                       u.c.totp_secret.is_not(None).label("totp"), sa.func.count(t.c.id).label("tokens"))
             .select_from(u.outerjoin(t, t.c.username == u.c.username))
             .group_by(u.c.username, u.c.role, u.c.person_id, u.c.disabled, u.c.created_at, u.c.totp_secret)
             .order_by(u.c.username))
        with self.store.connect() as conn:
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
        with self.store.transaction() as conn:
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
        with self.store.transaction() as conn:
            conn.execute(t.update().where(t.c.token_hash == token_hash)
                         .values(expires_at=None if expires_at is None else to_db_time(expires_at)))

    def revoke_tokens(self, username: str, label: str | None = None) -> int:
        """Delete a user's API tokens (those with `label`, or all); how many went."""
        t = schema.api_tokens
        q = t.delete().where(t.c.username == username)
        if label is not None:
            q = q.where(t.c.label == label)
        with self.store.transaction() as conn:
            return conn.execute(q).rowcount


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)
