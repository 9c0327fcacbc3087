"""The 1+1+N teams of a draft: who the successors of a split or merged grid inherit, and the gaps.

Pure: roles in, roles out. The rule a redraw follows (the planner overrides any of it with
`gridmap plan staff` or the planner page):

- **split**: the piece that keeps the code keeps the leader (网格长) and instructor (网格指导员);
  every new piece gets the same leader and instructor (one person may hold roles in several
  grids); the workers (网格员) are shared out in turn, the kept piece first, then the new pieces
  in code order. A piece left without a worker shows as a gap.
- **merge**: the grid that keeps its code keeps its leader and instructor (lacking one, it takes
  the first of the merged grids'); every worker of the merged grids joins it. The other leaders
  and instructors are offered: the impact report lists them with the successor grids.
- reshape, move, snap and rename keep every team as it is.
"""

from __future__ import annotations

from typing import Iterable, Mapping, Sequence

from ..errors import InputError
from ..i18n import tr
from ..registry.model import GRID_ROLES, Role
from ..registry.staff import team_problems

RULE = ("split: kept piece keeps leader+instructor, new pieces get the same leader+instructor, workers shared "
        "out in turn; merge: kept grid keeps its leader+instructor (else the first merged grid's), all workers join, "
        "other leaders/instructors offered")


def _of(team: Iterable[Role], role: str) -> list[str]:
    return sorted({r.person_id for r in team if r.role == role})


def split_teams(team: Sequence[Role], kept: str, created: Sequence[str]) -> dict[str, list[Role]]:
    """{code: roles} for the kept piece and each new piece of a split grid."""
    codes = [kept, *sorted(created)]
    leaders, instructors, workers = _of(team, "leader"), _of(team, "instructor"), _of(team, "worker")
    out: dict[str, list[Role]] = {}
    for i, code in enumerate(codes):
        mine = [Role(p, code, "leader") for p in leaders] + [Role(p, code, "instructor") for p in instructors]
        mine += [Role(p, code, "worker") for p in workers[i::len(codes)]]
        out[code] = mine
    # the rest of a split grid's roles (none at grid level today) stay with the kept code
    out[kept] += [Role(r.person_id, kept, r.role) for r in team if r.role not in GRID_ROLES]
    return out


def merge_team(kept: str, teams: Sequence[Sequence[Role]]) -> list[Role]:
    """The team of a merged grid from the teams of the grids merged (the first keeps its code)."""
    out: list[Role] = []
    for role in ("leader", "instructor"):
        holders = next((_of(t, role) for t in teams if _of(t, role)), [])
        out += [Role(p, kept, role) for p in holders]
    workers = sorted({p for t in teams for p in _of(t, "worker")})
    return out + [Role(p, kept, "worker") for p in workers]


def set_team(team: Sequence[Role], code: str, leader: str | None = None, instructor: str | None = None,
             workers: Sequence[str] | None = None) -> list[Role]:
    """A grid's team with the roles given replaced (leader, instructor: one person; workers: the list)."""
    given = {"leader": [leader] if leader else None, "instructor": [instructor] if instructor else None,
             "worker": list(workers) if workers is not None else None}
    if all(v is None for v in given.values()):
        raise InputError(tr("staff: give a leader, an instructor or workers"))
    out = [r for r in team if given.get(r.role) is None]
    for role, people in given.items():
        if people is not None:
            out += [Role(p, code, role) for p in sorted(set(people))]
    return out


def gaps(units: Sequence[tuple[str, str, object]], roster: Sequence[Role], open_by_grid: Mapping[str, int]) -> list[dict]:
    """Grids of the draft without a full 1+1+N team, with the open incidents they would hold.

    Each is {code, name, problem, counts, open_incidents, blocks_publish}: a grid with open
    incidents and no full team blocks publishing (unless forced with a reason).
    """
    out = []
    for p in team_problems(list(units), list(roster)):
        n = int(open_by_grid.get(p.code, 0))
        out.append({"code": p.code, "name": p.name, "problem": p.problem, "counts": p.counts,
                    "open_incidents": n, "blocks_publish": n > 0})
    return out


def members_by_role(team: Iterable[Role]) -> dict[str, list[str]]:
    """{"leader": [...], "instructor": [...], "worker": [...]} of one grid's team."""
    team = list(team)
    return {role: _of(team, role) for role in GRID_ROLES}
