"""Teams a draft plan carries (table plan_teams), read and written on an open connection.

A draft holds a row for each grid whose 1+1+N team it sets: inherited by a split or merge,
or staffed by the planner. Any other grid of the draft keeps the store's `roles`. Publishing
writes the draft's teams into `roles` in the publish transaction (`apply_teams`).
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import sqlalchemy as sa

from ..registry.model import Role
from . import schema

_T = schema.plan_teams
Members = list[list[str]]  # [[person_id, role], ...]


def members(roles: Iterable[Role]) -> Members:
    """JSON-ready [[person_id, role], ...] in a stable order."""
    return sorted([r.person_id, r.role] for r in roles)


def read_teams(conn, plan: int, codes: Iterable[str] | None = None) -> dict[str, list[Role]]:
    """{code: roles} of the grids whose team the draft sets (all, or of `codes`)."""
    q = sa.select(_T.c.unit_code, _T.c.members).where(_T.c.plan == int(plan))
    if codes is not None:
        q = q.where(_T.c.unit_code.in_(sorted(set(codes))))
    return {code: [Role(pid, code, role) for pid, role in (m or [])] for code, m in conn.execute(q).all()}


def write_teams(conn, plan: int, teams: Mapping[str, Sequence[Role] | None]) -> None:
    """Set the draft's team of each code (None: the draft no longer sets it; the store's roles apply)."""
    codes = sorted(teams)
    if not codes:
        return
    conn.execute(_T.delete().where(_T.c.plan == int(plan), _T.c.unit_code.in_(codes)))
    rows = [{"plan": int(plan), "unit_code": c, "members": members(team)} for c in codes if (team := teams[c]) is not None]
    if rows:
        conn.execute(_T.insert(), rows)


def snapshot(conn, plan: int, codes: Iterable[str]) -> dict[str, Members | None]:
    """The draft's teams of `codes` as they are (None where it sets none), for the undo log."""
    have = read_teams(conn, plan, codes)
    return {c: (members(have[c]) if c in have else None) for c in sorted(set(codes))}


def restore(conn, plan: int, snap: Mapping[str, Members | None]) -> None:
    """Put back teams saved by `snapshot`."""
    write_teams(conn, plan, {c: (None if m is None else [Role(pid, c, role) for pid, role in m])
                             for c, m in snap.items()})


def apply_teams(conn, plan: int) -> list[str]:
    """Write a published draft's teams into `roles` (those grids' roles replaced); returns the codes."""
    teams = read_teams(conn, plan)
    tr = schema.roles
    codes = sorted(teams)
    for i in range(0, len(codes), 500):
        conn.execute(tr.delete().where(tr.c.unit_code.in_(codes[i:i + 500])))
    rows = [{"person_id": r.person_id, "unit_code": r.unit_code, "role": r.role}
            for c in codes for r in sorted(set(teams[c]), key=lambda r: (r.role, r.person_id))]
    if rows:
        conn.execute(tr.insert(), rows)
    return codes


def drop_teams(conn, plan: int) -> None:
    """Remove a draft's teams (the draft is being dropped)."""
    conn.execute(_T.delete().where(_T.c.plan == int(plan)))
