"""Plan use cases: drafts, edits with optimistic locking, undo, diff, impact, publishing.

The one door for the CLI (`gridmap plan ...`) and the JSON API (/api/v1/plans). Geometry is
EPSG:4326 lon/lat; areas are geodesic m². Edits apply to drafts only; the published plans
are never touched. Every edit and the publish are single transactions (store/plans.py).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import replace
from typing import Any, Mapping

import numpy as np

from ..errors import Conflict, InputError, NotFound
from ..i18n import tr
from ..registry.codes import generate_codes
from ..registry.model import Level, Unit
from ..store.plan_records import PlanRecord
from . import edits, locks
from .checks import coverage_problems
from .diff import diff_units
from .edit_params import check_revs, effective_date, loggable, lonlat_points, named_codes, whole_number
from .impact import household_flows, incident_moves, staff_on_removed
from .refusals import CoverageRefused, StaffingRefused
from .shapes import drawn_line, drawn_polygon, parse_geometry
from .staffing import RULE as TEAM_RULE
from .teams import Teams, by_code

OPS = ("split", "merge", "reshape", "move", "snap", "rename", "staff", "lock")
EDIT_LEVELS = (Level.grid, Level.micro)


class PlanService:
    """Versioned grid plans over one Services (store + indexes + settings)."""

    def __init__(self, services):
        self.services = services
        self.store = services.store
        self.repo = services.store.plans
        self.teams = Teams(self)

    @property
    def incidents(self):
        """The incident loop (re-routing on publish, impact): the one the Services own."""
        return self.services.incidents

    # -- history ----------------------------------------------------------------------------
    def plans(self) -> list[PlanRecord]:
        """Every plan, oldest first."""
        return self.repo.list()

    def plan(self, version: int) -> PlanRecord:
        """One plan (NotFound if absent)."""
        return self.repo.get(version)

    def create(self, note: str | None = None, author: str | None = None) -> PlanRecord:
        """A new draft: a copy of the plan in force (or of the plan published to take effect later, if any).

        Plans follow each other in one line, so a draft starts from the newest published plan.
        """
        return self.repo.get(self.repo.create_draft(self._latest_published(), note, author))

    def drop(self, version: int) -> None:
        """Delete a draft (never a published plan)."""
        self.repo.delete_draft(version)
        self.services.forget_plan(version)

    def units(self, version: int, level: Level | None = None, parent: str | None = None,
              codes: list[str] | None = None) -> tuple[PlanRecord, list[tuple[Unit, int]]]:
        """A plan's units with their revisions (send them back with an edit).

        `parent`: only the units below that zone or town (any depth), to focus on one part
        of a county-scale plan; NotFound if the plan has no such unit.
        """
        rec = self.repo.get(version)
        only = codes
        revs = self.repo.unit_revs(version, only)
        codes = None if only is None else sorted(set(only))
        if parent is not None:
            tree = self.store.unit_tree(plan=version)
            if parent not in {c for c, _, _ in tree}:
                raise NotFound(tr("parent: plan %(version)s has no unit %(parent)s", version=version, parent=parent))
            below, todo = set(), [parent]
            children: dict[str, list[str]] = {}
            for c, p, _ in tree:
                children.setdefault(p, []).append(c)
            while todo:
                for c in children.get(todo.pop(), []):
                    below.add(c)
                    todo.append(c)
            codes = sorted(below if only is None else below & set(only))
        units = self.store.units(level=level, plan=version, codes=codes) if codes != [] else []
        return rec, [(u, revs.get(u.code, 1)) for u in units]

    # -- edits ------------------------------------------------------------------------------
    def edit(self, version: int, op: str, params: Mapping[str, Any], rev: int | Mapping[str, int] | None = None,
             author: str | None = None, with_units: bool = False) -> dict:
        """Apply one edit to a draft, in one transaction; returns what changed and the new revisions.

        `rev` is what the planner loaded: the draft's revision (int: any change since is a
        conflict) or {code: unit rev} (a change since to one of those units is a conflict).
        None skips the check against the planner's copy (the command line). `with_units`:
        the answer adds "units": [(Unit, rev)] of the units written.
        """
        rec = self.repo.get(version)
        if rec.status != "draft":
            raise Conflict(tr("plan %(version)s is published: edits go to a draft (gridmap plan new)", version=version))
        if op not in OPS:
            raise InputError(tr("op: one of %(OPS)s, not %(op)r", OPS=', '.join(OPS), op=op))
        if op == "staff":
            check_revs(version, rec, rev, named_codes(op, params), self.repo.unit_revs(version))
            out = self.teams.staff(version, params, rev, author)
            self.services.forget_plan(version)
            return out
        # The revisions are read before the units the edit is computed from: a change in
        # between is caught by the store, which checks them again inside its transaction.
        revs = self.repo.unit_revs(version)
        check_revs(version, rec, rev, named_codes(op, params), revs)
        result = getattr(self, f"_{op}")(version, params)
        touched = {u.code for u in result.upserts} | set(result.deletes)
        if touched and op in locks.GEOMETRY_OPS:  # a locked grid is kept as it is
            locks.refuse_locked(op, self.store.units(plan=version, codes=sorted(touched & set(revs))))
        if not touched:  # e.g. snapping a clean layer: nothing to write, nothing to undo
            return {"plan": version, "rev": rec.rev, "op": op, "created": [], "changed": [], "removed": [],
                    "revs": {}, "notes": result.notes}
        read = {c: revs[c] for c in touched if c in revs}
        inherited = self.teams.inherited(version, op, params, result)
        new_rev = self.repo.apply_edit(version, op, loggable(params), result.upserts, result.deletes, read,
                                       author=author, draft_rev=rev if isinstance(rev, int) else None,
                                       teams=inherited)
        self.services.forget_plan(version)
        after = self.repo.unit_revs(version, touched)
        out = {"plan": version, "rev": new_rev, "op": op, "created": sorted(result.created),
               "changed": result.changed, "removed": sorted(result.deletes),
               "revs": {c: after[c] for c in sorted(touched) if c in after}, "notes": result.notes}
        if with_units:  # the units as written, with their new revisions (a page redraws them, no read back)
            out["units"] = [(u, after[u.code]) for u in sorted(result.upserts, key=lambda u: u.code) if u.code in after]
        return out

    def replace_zone(self, version: int, zone: str, units, keep, params: Mapping[str, Any], author: str | None = None) -> dict:
        """Replace a zone's grids in a draft by a proposal's, one undoable edit (plans/proposals.py)."""
        from .proposals import replace_zone

        return replace_zone(self, version, zone, units, keep, params, author)

    def undo(self, version: int, rev: int | None = None, author: str | None = None) -> dict:
        """Undo the last edit of a draft; returns it and the draft's new revision."""
        edit = self.repo.undo(version, author=author, draft_rev=rev)
        self.services.forget_plan(version)
        return {"plan": version, "rev": self.repo.get(version).rev, "undone": edit.as_dict()}

    def draft_unit(self, version: int, code: Any) -> Unit:
        if not isinstance(code, str) or not code:
            raise InputError(tr("a grid code is needed, got %(code)r", code=code))
        u = self.store.unit(str(code), plan=version)
        if u.level not in EDIT_LEVELS:
            raise InputError(tr("%(code)s is a %(level)s: edits redraw grids and micro-grids", code=u.code, level=u.level.value))
        return u

    def _siblings(self, version: int, unit: Unit) -> list[Unit]:
        return self.store.units(plan=version, codes=self.repo.sibling_codes(version, unit.parent_code, unit.level.value))

    def _split(self, version: int, p: Mapping) -> edits.EditResult:
        unit = self.draft_unit(version, p.get("code"))
        make = self._code_maker(version)
        if p.get("line") is not None and p.get("parts") is not None:
            raise InputError(tr("split: give either line or parts, not both"))
        if p.get("line") is not None:
            line = drawn_line(parse_geometry(p["line"], "line"), "line", self.services.settings.max_drawn_vertices)
            return edits.split_by_line(unit, line, make)
        if p.get("parts") is not None:
            return edits.split_into_parts(unit, whole_number(p["parts"], "parts"), make)
        raise InputError(tr("split: give a line (GeoJSON LineString) or parts (a number)"))

    def _merge(self, version: int, p: Mapping) -> edits.EditResult:
        codes = p.get("codes")
        if not isinstance(codes, list) or len(codes) < 2:
            raise InputError(tr("merge: codes must list at least two grids (the first one keeps its code)"))
        if len(set(codes)) != len(codes):
            raise InputError(tr("merge: a grid is named twice"))
        return edits.merge([self.draft_unit(version, c) for c in codes])

    def _reshape(self, version: int, p: Mapping) -> edits.EditResult:
        unit = self.draft_unit(version, p.get("code"))
        poly = self._drawn(p.get("geometry"), "geometry", p.get("repair"))
        neighbour = p.get("neighbour")
        if neighbour is not None:
            self.draft_unit(version, neighbour)
        return edits.reshape(unit, poly, self._siblings(version, unit), neighbour)

    def _move(self, version: int, p: Mapping) -> edits.EditResult:
        src, dst = self.draft_unit(version, p.get("from")), self.draft_unit(version, p.get("to"))
        if p.get("points") is not None:
            return edits.move_points(src, dst, lonlat_points(p["points"]))
        if p.get("area") is None:
            raise InputError(tr("move: give an area (GeoJSON Polygon) or points ([[lon, lat], ...])"))
        area = self._drawn(p["area"], "area", p.get("repair"))
        return edits.move_area(src, dst, area)

    def _drawn(self, doc: Any, what: str, repair: Any):
        s = self.services.settings
        return drawn_polygon(parse_geometry(doc, what), what, bool(repair), s.max_drawn_vertices, s.max_repair_crossings)

    def _snap(self, version: int, p: Mapping) -> edits.EditResult:
        try:
            tol = float(p.get("tolerance_m"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InputError(tr("snap: tolerance_m must be a number of metres, got %(tolerance_m)r", tolerance_m=p.get('tolerance_m'))) from None
        level = Level.parse(str(p.get("level") or "grid")) if p.get("level") else Level.grid
        units = [u for u in self.store.units(level=level, plan=version) if not locks.is_locked(u)]
        if p.get("parent"):
            units = [u for u in units if u.parent_code == p["parent"]]
        return edits.snap(units, tol)

    def _lock(self, version: int, p: Mapping) -> edits.EditResult:
        codes, locked = locks.lock_codes(p)
        units = [u for u in self.store.units(plan=version, codes=codes) if u.level in EDIT_LEVELS]
        return locks.lock(units, codes, locked)

    def _rename(self, version: int, p: Mapping) -> edits.EditResult:
        unit = self.draft_unit(version, p.get("code"))
        name = p.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InputError(tr("rename: name must be text of 1 to 200 characters"))
        if name.strip() == unit.name:
            return edits.EditResult(notes=[f"{unit.code} is already named {unit.name}"])
        return edits.EditResult(upserts=[replace(unit, name=name.strip())])

    def _code_maker(self, version: int):
        """New codes that no plan has used: national serials under the parent, else CODE-n."""
        def make(parent: str | None, geoms: list, based_on: str) -> list[str]:
            used = self.repo.codes_ever(parent)  # every plan's children of this parent, drafts included
            pattern = re.compile(re.escape(parent or "") + r"(\d{3})")
            serials = [int(m.group(1)) for c in used if (m := pattern.fullmatch(c))]
            if parent and parent.isdigit() and len(serials) == len(used):
                return generate_codes(parent, np.array(geoms, dtype=object), start=max(serials, default=0) + 1)
            in_plan = set(self.store.unit_levels(plan=version))
            out: list[str] = []
            n = 2
            while len(out) < len(geoms):
                code = f"{based_on}-{n}"
                if code not in used and code not in in_plan:
                    out.append(code)
                n += 1
            return out

        return make

    # -- review -----------------------------------------------------------------------------
    def diff(self, a: int, b: int, level: Level = Level.grid) -> dict:
        """Added, removed, reshaped (area change m²), renamed and unchanged units from plan a to b."""
        self.repo.get(a), self.repo.get(b)
        out = diff_units(self.store.units(level=level, plan=a), self.store.units(level=level, plan=b))
        return {"from": a, "to": b, "level": Level(level).value, **out}

    def coverage(self, version: int) -> list[dict]:
        """Coverage problems of every parent in a plan (the publish gate)."""
        self.repo.get(version)
        s = self.services.settings  # the same tolerances as `gridmap check --coverage`
        return coverage_problems(self.store.units(plan=version), s.coverage_tolerance_m2, s.sliver_m2)

    def impact(self, version: int) -> dict:
        """What publishing this draft would do, against the newest published plan."""
        rec = self.repo.get(version)
        against = self._latest_published()
        old = self.store.units(level=Level.grid, plan=against)
        new = self.store.units(level=Level.grid, plan=version)
        d = diff_units(old, new)
        self.services.forget_plan(version)  # another process (web worker) may have edited the draft
        roster = self.teams.roster(version)
        moves = self.incidents.reroutes_under(version, self.incidents.clock(), by_code(roster))
        open_count = len(self.incidents.repo.query(status=_open_statuses()))
        old_codes = {u.code for u in old}
        gaps = [g | {"new_grid": g["code"] not in old_codes, "members": self._members(roster, g["code"])}
                for g in self.teams.gaps(version, roster, moves)]
        changed = sorted({a["code"] for a in d["added"]} | {r["code"] for r in d["reshaped"]})
        return {
            "plan": version, "status": rec.status, "rev": rec.rev, "against": against, "diff": d["summary"],
            "households": household_flows(old, new),
            "incidents": {"open": open_count, "moving": incident_moves(moves)},
            "staff_on_removed_grids": self.teams.offered(d["removed"], roster),
            "teams": gaps,
            "staffing_gaps": [g for g in gaps if g["blocks_publish"]],
            "new_and_changed_teams": {c: self._members(roster, c) for c in changed},
            "team_rule": TEAM_RULE,
            "coverage": self.coverage(version),
        }

    @staticmethod
    def _members(roster, code: str) -> dict:
        from .staffing import members_by_role

        return members_by_role(r for r in roster if r.unit_code == code)

    # -- publishing -------------------------------------------------------------------------
    def publish(self, version: int, effective_from: dt.date | str, force: bool = False,
                author: str | None = None, rev: int | None = None, reason: str | None = None) -> dict:
        """Publish a draft from a date, in one transaction with the re-routing of open incidents.

        Refused (Conflict, reasons listed) when the plan has coverage problems unless `force`;
        when the draft was copied from a plan that is no longer the newest; and (InputError)
        for a date before the newest published plan's. Open incidents are re-routed now if the
        plan takes effect today or earlier; for a later date run `gridmap incidents reroute`
        on that day. `rev`: the draft revision the planner reviewed; Conflict if it was edited since.

        Refused too (StaffingRefused) while a grid that would hold open incidents lacks a full
        1+1+N team in the draft, unless `force` with a `reason` (kept on the plan). Re-routed
        incidents are assigned by the routing rules of a new report, to the draft's teams,
        and the draft's teams become the store's roles when the plan takes effect now.
        """
        rec = self.repo.get(version)
        if rec.status != "draft":
            raise Conflict(tr("plan %(version)s is already published", version=version))
        eff = effective_date(effective_from)
        latest = self._latest_published()
        if rec.base_version != latest:
            raise Conflict(tr("draft %(version)s was copied from plan %(base_version)s, but plan %(latest)s has been published since: make a new draft from it", version=version, base_version=rec.base_version, latest=latest))
        latest_eff = self.repo.get(latest).effective_from
        if latest_eff is not None and eff < latest_eff:
            raise InputError(tr("effective_from %(eff)s is before plan %(latest)s's (%(latest_eff)s): plans take effect in order", eff=eff, latest=latest, latest_eff=latest_eff))
        problems = self.coverage(version)
        in_force = eff <= self.services.today()
        self.services.forget_plan(version)
        roster = self.teams.roster(version)
        moves = self.incidents.reroutes_under(version, self.incidents.clock(), by_code(roster))
        gaps = [g for g in self.teams.gaps(version, roster, moves) if g["blocks_publish"]]
        reason = reason.strip() if isinstance(reason, str) and reason.strip() else None
        if problems and not force:
            raise CoverageRefused(version, problems, gaps)  # every reason at once
        if gaps and not force:
            raise StaffingRefused(version, gaps)
        if gaps and reason is None:
            raise InputError(tr("reason: a publish forced past staffing gaps needs a reason (%(n)s grid(s) with open incidents lack a full team)", n=len(gaps)))
        moves = moves if in_force else []
        removed = [r["code"] for r in diff_units(self.store.units(level=Level.grid, plan=latest),
                                                 self.store.units(level=Level.grid, plan=version))["removed"]]
        offered = staff_on_removed(removed, self.store.roles(), self.store.people())  # before the roster changes
        forced = bool(problems) or bool(gaps)
        self.repo.publish(version, eff, author, [(inc, before, events) for inc, before, _, events in moves],
                          replaces=latest, draft_rev=rev, apply_roster=in_force, reason=reason if forced else None)
        self.services.refresh()
        return {"plan": version, "effective_from": eff.isoformat(), "in_force": in_force,
                "replaces": latest, "forced": forced, "coverage": problems,
                "staffing_gaps": gaps, "reason": reason if forced else None, "roster_pending": not in_force,
                "rerouted": incident_moves(moves), "reroute_pending": not in_force,
                "staff_on_removed_grids": offered}

    def apply_due_teams(self, day: dt.date | None = None) -> list[int]:
        """Apply the teams of plans published for a later date once that date has come (before re-routing)."""
        return self.repo.apply_due_teams(day or self.services.today())

    def _latest_published(self) -> int:
        published = [p.version for p in self.repo.list() if p.status == "published"]
        if not published:
            raise InputError(tr("the store holds no published plan yet: import units first"))
        return max(published)


def _open_statuses():
    from ..incidents.model import OPEN_STATUSES

    return OPEN_STATUSES
