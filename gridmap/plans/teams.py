"""Use cases of a draft's 1+1+N teams: the roster a draft implies, inheritance, staffing, gaps.

Used by PlanService (service.py). A draft's roster is the store's roles for every grid whose
team the draft does not set, plus the teams it sets (store/teams.py); a published plan's
roster is the store's roles. The inheritance rule is documented in staffing.py.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Mapping, Sequence

from ..errors import InputError
from ..i18n import tr
from ..registry.model import Level, Role
from . import staffing


class Teams:
    """The teams of the drafts of one PlanService."""

    def __init__(self, plans):
        self.plans = plans
        self.store = plans.store
        self.repo = plans.repo

    def roster(self, version: int) -> list[Role]:
        """Every role assignment of a plan's units (a draft's own teams where it sets them)."""
        in_plan = set(self.store.unit_levels(plan=version))
        rec = self.repo.get(version)
        own = self.repo.teams(version) if rec.status == "draft" else {}
        roles = [r for r in self.store.roles() if r.unit_code in in_plan and r.unit_code not in own]
        return roles + [r for code, team in own.items() if code in in_plan for r in team]

    def team(self, version: int, code: str) -> list[Role]:
        """One grid's team in a plan."""
        own = self.repo.teams(version, [code])
        return own[code] if code in own else self.store.roles(code)

    def inherited(self, version: int, op: str, params: Mapping[str, Any], result) -> dict[str, list[Role]] | None:
        """{code: team} that an edit's successor grids inherit (staffing.py), or None if teams stay."""
        if op == "split" and result.created:
            code = str(params.get("code"))
            return staffing.split_teams(self.team(version, code), code, result.created)
        if op == "merge":
            codes = [str(c) for c in params.get("codes") or []]
            teams = [self.team(version, c) for c in codes]
            return {codes[0]: staffing.merge_team(codes[0], teams), **{c: [] for c in result.deletes}}
        return None

    def staff(self, version: int, params: Mapping[str, Any], rev, author: str | None) -> dict:
        """Set the leader, instructor and/or workers of one grid of a draft (an undoable edit)."""
        unit = self.plans.draft_unit(version, params.get("code"))
        leader, instructor = _person(params.get("leader"), "leader"), _person(params.get("instructor"), "instructor")
        workers = params.get("workers")
        if workers is not None:
            if not isinstance(workers, list) or not workers:
                raise InputError(tr("workers: a list of at least one person_id"))
            workers = [_person(w, "workers") for w in workers]
        known = {p.person_id for p in self.store.people()}
        unknown = sorted({p for p in [leader, instructor, *(workers or [])] if p and p not in known})
        if unknown:
            raise InputError(tr("staff: no such person: %(unknown)s (import them with `gridmap import-staff` first)", unknown=", ".join(unknown)))
        team = staffing.set_team(self.team(version, unit.code), unit.code, leader, instructor, workers)
        logged = {k: v for k, v in {"code": unit.code, "leader": leader, "instructor": instructor,
                                    "workers": workers}.items() if v is not None}
        new_rev = self.repo.apply_edit(version, "staff", logged, [], [], {}, author=author,
                                       draft_rev=rev if isinstance(rev, int) else None, teams={unit.code: team})
        shown = staffing.members_by_role(team)
        note = (f"team of {unit.code}: leader {', '.join(shown['leader']) or '-'}, instructor "
                f"{', '.join(shown['instructor']) or '-'}, workers {', '.join(shown['worker']) or '-'}")
        return {"plan": version, "rev": new_rev, "op": "staff", "created": [], "changed": [], "removed": [],
                "revs": {}, "notes": [note], "team": shown}

    def open_by_grid(self, moves: Sequence[tuple]) -> Counter:
        """Open grid-level incidents per grid once the draft is in force (re-routed ones where they go)."""
        from ..incidents.model import OPEN_STATUSES

        moved = {inc.id: inc for inc, *_ in moves}
        out: Counter = Counter()
        for inc in self.plans.incidents.repo.query(status=OPEN_STATUSES):
            inc = moved.get(inc.id, inc)
            if inc.grid_code and inc.handling_level == "grid":
                out[inc.grid_code] += 1
        return out

    def gaps(self, version: int, roster: Sequence[Role], moves: Sequence[tuple]) -> list[dict]:
        """Grids of the draft without a full team, with their open incidents (staffing.gaps)."""
        units = [(c, n, lv) for c, n, lv in self.store.unit_names(plan=version) if lv in (Level.grid, Level.micro)]
        return staffing.gaps(units, roster, self.open_by_grid(moves))

    def offered(self, removed: Sequence[dict], roster: Sequence[Role]) -> list[dict]:
        """People of the grids a draft removes: their roles there, the successor grids, where they are placed now."""
        names = {p.person_id: p.name for p in self.store.people()}
        successors = {r["code"]: [t["code"] for t in r.get("to", [])] for r in removed}
        placed: dict[str, list[str]] = {}
        for r in roster:
            placed.setdefault(r.person_id, []).append(f"{r.unit_code}:{r.role}")
        out = []
        for r in sorted(self.store.roles(), key=lambda r: (r.unit_code, r.role, r.person_id)):
            if r.unit_code in successors:
                out.append({"person_id": r.person_id, "name": names.get(r.person_id), "unit_code": r.unit_code,
                            "role": r.role, "successors": successors[r.unit_code],
                            "placed_in": sorted(placed.get(r.person_id, []))})
        return out


def _person(value: Any, name: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 64:
        raise InputError(tr("%(name)s: a person_id (text up to 64 characters), got %(value)r", name=name, value=value))
    return value.strip()


def by_code(roster: Sequence[Role]):
    """roles(unit_code) -> [Role] over a roster, for routing under a draft."""
    index: dict[str, list[Role]] = {}
    for r in roster:
        index.setdefault(r.unit_code, []).append(r)
    return lambda code: index.get(code, [])
