"""Two-factor login storage (migration 0009): each user's TOTP secret, its last used step, recovery codes.

Every check that consumes something (a code's time step, a recovery code) is one conditional
write, so two workers given the same code at the same moment accept it once.
"""

from __future__ import annotations

import sqlalchemy as sa

from ..errors import NotFound
from ..i18n import tr
from . import schema


class TotpRepo:
    """TOTP secrets and recovery codes on a store's engine."""

    def __init__(self, store):
        self.store = store

    def set_pending(self, username: str, secret: str | None) -> None:
        """A secret being enrolled on the page (not used for login until confirmed)."""
        self._update(username, totp_pending=secret)

    def enable(self, username: str, secret: str, recovery_hashes: list[str], last_step: int | None = None) -> None:
        """Turn two-factor login on with `secret` and fresh recovery codes; ends the user's sessions."""
        u, r = schema.users, schema.totp_recovery_codes
        with self.store.transaction() as conn:
            n = conn.execute(u.update().where(u.c.username == username).values(
                totp_secret=secret, totp_pending=None, totp_last_step=last_step,
                session_gen=u.c.session_gen + 1)).rowcount
            if n == 0:
                raise NotFound(tr("no user %(username)r", username=username))
            conn.execute(r.delete().where(r.c.username == username))
            if recovery_hashes:
                conn.execute(r.insert(), [{"username": username, "code_hash": h} for h in recovery_hashes])

    def disable(self, username: str) -> None:
        """Turn two-factor login off (secret and recovery codes gone); ends the user's sessions."""
        u, r = schema.users, schema.totp_recovery_codes
        with self.store.transaction() as conn:
            n = conn.execute(u.update().where(u.c.username == username).values(
                totp_secret=None, totp_pending=None, totp_last_step=None, session_gen=u.c.session_gen + 1)).rowcount
            if n == 0:
                raise NotFound(tr("no user %(username)r", username=username))
            conn.execute(r.delete().where(r.c.username == username))

    def use_step(self, username: str, step: int) -> bool:
        """Record that the code of time step `step` was used; False if it (or a later one) already was."""
        u = schema.users
        q = (u.update().where(u.c.username == username, u.c.totp_secret.is_not(None),
                              sa.or_(u.c.totp_last_step.is_(None), u.c.totp_last_step < step))
             .values(totp_last_step=step))
        with self.store.transaction() as conn:
            return conn.execute(q).rowcount == 1

    def use_recovery(self, username: str, code_hash: str) -> bool:
        """Spend one recovery code; False if the user has no such unused code."""
        r = schema.totp_recovery_codes
        with self.store.transaction() as conn:
            return conn.execute(r.delete().where(r.c.username == username, r.c.code_hash == code_hash)).rowcount == 1

    def recovery_left(self, username: str) -> int:
        """How many unused recovery codes the user has."""
        r = schema.totp_recovery_codes
        with self.store.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).where(r.c.username == username)).scalar() or 0)

    def _update(self, username: str, **values) -> None:
        u = schema.users
        with self.store.transaction() as conn:
            if conn.execute(u.update().where(u.c.username == username).values(**values)).rowcount == 0:
                raise NotFound(tr("no user %(username)r", username=username))
