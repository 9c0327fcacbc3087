"""Incident use cases: report, route, act on the closed loop, supervise, re-route, measure."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import shapely

from ..errors import Conflict, Forbidden, InputError
from ..geo.crs import distance_m
from ..hashing import hash_secret
from ..i18n import tr
from ..registry.index import GridIndex
from ..registry.model import Level
from . import dispatching
from .actors import PUBLIC, SYSTEM, Actor, can_see, check_action
from .intake import Report, parse_report
from .model import OPEN_STATUSES, Event, Incident
from .workflow import ACTIONS, next_status

UTC = dt.timezone.utc


@dataclass
class Filed:
    """The answer to a new report: the incident, who it went to, possible duplicates, the reporter's token."""

    incident: Incident
    duplicates: list[Incident] = field(default_factory=list)
    reporter_token: str | None = None
    notified: list[str] = field(default_factory=list)


class IncidentService:
    """The dispatcher's loop over one store, taxonomy and working-hours calendar."""

    def __init__(self, services, taxonomy, calendar, clock=None):
        self.services = services  # gridmap.services.Services: store + grid index + settings
        self.repo = services.store.incidents
        self.taxonomy = taxonomy
        self.calendar = calendar
        self.tz = ZoneInfo(services.settings.timezone)
        self.clock = clock or (lambda: dt.datetime.now(UTC))
        self._towns: GridIndex | None = None
        from .replies import Replies

        # reply templates (FixMyStreet's response templates): the setting's file, else the built-in one
        self.replies = Replies.load(getattr(services.settings, "reply_templates", "") or None, taxonomy)

    # -- intake -----------------------------------------------------------------------------
    def report(self, data: Mapping[str, Any], actor: Actor = PUBLIC, source: str | None = None,
               extra: Mapping[str, Any] | None = None, photo: bytes | None = None) -> Filed:
        """Validate, assign to a grid, route to a person, look for duplicates, store with its audit line.

        `extra`: already-validated fields kept with the incident (e.g. Open311's address_string).
        `photo`: the bytes of a photo as sent (incidents/photos.py checks and re-encodes it); its
        files are written before the incident's transaction and removed if that fails.
        """
        rep = parse_report(data, self.taxonomy, self.clock(), self.tz)
        self.services.jurisdiction.check(rep.lon, rep.lat)  # 422 from outside the county, before anything is written
        if photo is not None:
            from .photo_intake import store_photo

            with store_photo(self.services.settings, photo) as kept:
                return self._file(rep, actor, source, {**(extra or {}), "photo": kept})
        return self._file(rep, actor, source, extra)

    def _file(self, rep: Report, actor: Actor, source: str | None, extra: Mapping[str, Any] | None) -> Filed:
        if source:
            rep = replace(rep, source=source)
        inc = self._new_incident(rep)
        if extra:
            inc.extra.update(extra)
        notified = self._route(inc, inc.reported_at)
        token = secrets.token_urlsafe(16)
        event = Event("", inc.reported_at, actor.name, "report", None, "reported",
                      data={"grid": inc.grid_code, "assignment": inc.assignment, "assignee": inc.assignee,
                            "notified": notified})
        dups = self.duplicates_of(inc)
        if dups:
            inc.extra["possible_duplicates"] = [d.id for d in dups]
        inc = self.repo.add(inc, event, reporter_token=hash_secret(token))  # kept hashed, like API tokens
        return Filed(inc, dups, token, notified)

    def _new_incident(self, rep: Report, assign: bool = True) -> Incident:
        cat = self.taxonomy.get(rep.category)
        inc = Incident(id="", category=rep.category, lon=rep.lon, lat=rep.lat, reported_at=rep.reported_at,
                       description=rep.description, source=rep.source, severity=rep.severity,
                       reporter_name=rep.reporter_name, reporter_phone=rep.reporter_phone,
                       handling_level=cat.level, department=cat.department if cat.level == "department" or
                       cat.kind == "component" else None)
        if rep.external_id:
            inc.extra["external_id"] = rep.external_id
        if cat.is_component:  # components (部件) route to their owner first
            inc.handling_level = "department"
        elif rep.severity >= 3 and cat.level_for(rep.severity) != cat.level:
            inc.handling_level = cat.level_for(rep.severity)  # big matters go up (大事不出管区)
            inc.escalated = True
            if inc.handling_level == "department":
                inc.department = cat.department
        if assign:  # a bulk import assigns whole batches at once (incidents.bulk.assign_many)
            self._assign(inc)
        return inc

    def _assign(self, inc: Incident, plan: int | None = None) -> None:
        """Containing grid; else the nearest grid within reach; else the town queue.

        Under `plan` if given, else under the plan in force on the day the incident was
        reported (a late-filed or imported report lands where the grids were then).
        """
        index, inc.plan = self._plan_index(inc, plan)
        loc = index.locate(inc.lon, inc.lat, nearest_max_m=self.services.settings.nearest_assign_m)
        inc.distance_m = None
        if loc.grid:
            inc.grid_code, inc.assignment = loc.grid, "inside"
        elif loc.nearest:
            inc.grid_code, inc.assignment, inc.distance_m = loc.nearest, "nearest", round(loc.distance_m or 0.0, 1)
        else:
            inc.grid_code, inc.assignment = None, "town_queue"
        chain = index.chain_of(inc.grid_code) or {} if inc.grid_code else {}
        inc.zone_code = chain.get("zone")
        inc.town_code = chain.get("town") or (self._town_of(inc.lon, inc.lat) if not inc.grid_code else None)
        if not inc.grid_code and not inc.town_code:
            inc.assignment = "unassigned"

    def _plan_index(self, inc: Incident, plan: int | None) -> tuple[GridIndex, int | None]:
        s = self.services
        if plan is None:
            day = inc.reported_at.astimezone(self.tz).date()
            if day < s.today():  # the fast path (a report made today) skips this lookup
                plan = s.plan_at(day)  # None: before the first plan, which then serves
        if plan is None or plan == s.plan:
            return s.index, s.plan
        return s.index_of(plan), plan

    def _town_of(self, lon: float, lat: float) -> str | None:
        if self._towns is None:
            tree = self.services.store.unit_tree()
            parents = {c: (p, lv) for c, p, lv in tree}
            self._towns = GridIndex.build(self.services.store.unit_rows([Level.town]), parents, Level.town)
        if len(self._towns) == 0:
            return None
        loc = self._towns.locate(lon, lat)  # the containing town, else the nearest one (flagged)
        return loc.grid or loc.nearest

    def _route(self, inc: Incident, at: dt.datetime, roles_of=None) -> list[str]:
        """Pick the assignee: on duty per the roster, else the unit's workers; return who is told.

        `roles_of(unit_code) -> [Role]` gives the teams to route by (a draft's, when a plan
        is published); default: the store's roles.
        """
        store = self.services.store
        if inc.handling_level == "department":
            inc.assignee = None
            return []
        unit = inc.grid_code if inc.handling_level == "grid" else inc.zone_code
        if unit is None:
            inc.assignee = None
            return []
        roles = store.roles(unit) if roles_of is None else roles_of(unit)
        on_duty = self.repo.on_duty(unit, at)
        if inc.handling_level == "grid":
            workers = sorted(r.person_id for r in roles if r.role == "worker")
            leaders = sorted(r.person_id for r in roles if r.role == "leader")
        else:
            workers = sorted(r.person_id for r in roles if r.role in ("zone_director", "info_officer"))
            leaders = sorted(r.person_id for r in roles if r.role == "zone_secretary")
        pool = on_duty or workers or leaders
        inc.assignee = self._least_loaded(pool) if pool else None
        return [p for p in leaders if p != inc.assignee]

    def route_preview(self, inc: Incident, at: dt.datetime) -> str | None:
        """Whom the router would pick for `inc` at `at` (nothing is changed or stored)."""
        probe = replace(inc, extra=dict(inc.extra))
        self._route(probe, at)
        return probe.assignee

    def _least_loaded(self, people: Sequence[str]) -> str:
        if len(people) == 1:
            return people[0]
        loads = self.repo.open_load(people)
        return min(people, key=lambda p: (loads.get(p, 0), p))

    def duplicates_of(self, inc: Incident) -> list[Incident]:
        """Open incidents of the same category within its duplicate radius and time window."""
        cat = self.taxonomy.get(inc.category)
        radius = float(cat.duplicate_radius_m)
        window = dt.timedelta(hours=float(cat.duplicate_window_hours))
        dlat = radius / 111_000 * 1.5
        dlon = dlat / max(np.cos(np.radians(inc.lat)), 0.01)
        near = self.repo.open_nearby(inc.category, (inc.lon - dlon, inc.lat - dlat, inc.lon + dlon, inc.lat + dlat),
                                     inc.reported_at - window, inc.reported_at + dt.timedelta(seconds=1))
        hits = [i for i, lon, lat in near
                if str(i) != inc.id and distance_m(inc.lon, inc.lat, shapely.Point(lon, lat)) <= radius]
        return [self.repo.get(i) for i in hits]

    # -- the closed loop --------------------------------------------------------------------
    def get(self, incident_id: str, actor: Actor) -> Incident:
        """An incident with personal data, for those allowed to see it."""
        inc = self.repo.get(incident_id)
        if not can_see(actor, inc):
            raise Forbidden(tr("incident %(incident_id)s is not in your grids", incident_id=incident_id))
        return inc

    def act(self, incident_id: str, action: str, actor: Actor, version: int | None = None, note: str = "",
            data: Mapping[str, Any] | None = None) -> Incident:
        """Take one step of the loop; Conflict (409) if impossible or stale, Forbidden if not allowed."""
        data = dict(data or {})
        inc = self.repo.get(incident_id)
        token_ok = bool(data.get("reporter_token")) and secrets.compare_digest(
            hash_secret(str(data.get("reporter_token"))), self.repo.reporter_token(incident_id) or "")
        check_action(actor, inc, action, reporter_token_ok=token_ok)
        expected = inc.version if version is None else int(version)
        if version is not None and int(version) != inc.version:
            raise Conflict(tr("incident %(incident_id)s is at version %(version)s, you sent %(version2)s: reload", incident_id=incident_id, version=inc.version, version2=version))
        if action == "reopen" and actor.role not in ("admin", "dispatcher", "system"):
            self._check_reopen_window(inc)
        act = ACTIONS.get(action)
        if act is not None and act.needs_note and not (note or "").strip():
            raise InputError(tr("%(action)s: a reason is required in `note`", action=action))
        if len(note or "") > 2000:
            raise InputError(tr("note: over the limit of 2000 characters"))
        before = inc.status
        inc.status = next_status(inc.status, action)
        now = self.clock()
        extra_events = self._apply(inc, action, now, data, actor, note)
        event = Event(inc.id, now, actor.name, action, before, inc.status, note or "",
                      {k: v for k, v in data.items() if k != "reporter_token"})
        # one transaction: a merge whose target changed meanwhile (409) leaves the duplicate unmerged too
        self.repo.update_many([(inc, expected, [event])] + [(other, other.version, [ev]) for other, ev in extra_events])
        return inc

    def reopen_until(self, inc: Incident) -> dt.datetime | None:
        """Until when the reporter may reopen a closed incident (closed_at + reopen_window_days)."""
        if inc.status != "closed" or inc.closed_at is None:
            return None
        return inc.closed_at + dt.timedelta(days=float(self.services.settings.reopen_window_days))

    def _check_reopen_window(self, inc: Incident) -> None:
        until = self.reopen_until(inc)
        if until is not None and self.clock() > until:
            days = self.services.settings.reopen_window_days
            raise Conflict(tr("The reopen window has passed: a report may be reopened within %(days)s days of closing (until %(v)s); please report it again.", days=format(days, "g"), v=format(until.astimezone(self.tz), "%Y-%m-%d %H:%M")))

    def _apply(self, inc: Incident, action: str, now: dt.datetime, data: dict, actor: Actor, note: str):
        cat = self.taxonomy.get(inc.category)
        extra: list[tuple[Incident, Event]] = []
        if action == "dispatch":
            if data.get("assignee"):
                inc.assignee = dispatching.check_assignee(self, str(data["assignee"]))
            inc.dispatched_at = now
            inc.due_at = self.calendar.deadline(now, float(cat.time_limit_hours), _mode(cat))
        elif action == "reopen":
            inc.reopen_count += 1
            inc.closed_at, inc.handled_at = None, None
            inc.dispatched_at = now
            inc.due_at = self.calendar.deadline(now, float(cat.time_limit_hours), _mode(cat))
        elif action == "handle":
            inc.handled_at = now
        elif action == "rework":
            inc.rework_count += 1
            inc.handled_at = None
        elif action == "close":
            inc.closed_at = now
        elif action == "extend":
            hours = _positive(data.get("hours"), "hours")
            most = float(self.services.settings.max_extension_hours)
            if hours > most:  # 1e7 hours put due_at in year 7699 after 20 s of calendar walking; 1e8 overflowed
                raise InputError(tr("hours: one extension adds at most %(most)s hours (setting max_extension_hours), got %(hours)s", most=format(most, "g"), hours=format(hours, "g")))
            inc.due_at = self.calendar.deadline(inc.due_at or now, hours, _mode(cat))
            inc.extended = True
        elif action == "escalate":
            level = str(data.get("level") or ("department" if inc.handling_level == "zone" else "zone"))
            if level not in ("zone", "department"):
                raise InputError(tr("level: escalate to 'zone' or 'department', not %(level)r", level=level))
            inc.handling_level, inc.escalated = level, True
            if level == "department":
                chosen = data.get("department")
                inc.department = str(chosen or cat.department or inc.department or "")
                if not inc.department:
                    raise InputError(tr("department: name the department to escalate to"))
                if chosen:  # typed or chosen: it must be one of the taxonomy's departments
                    dispatching.check_department(self.taxonomy, inc.department)
            self._route(inc, now)
        elif action == "transfer":
            grid = str(data.get("grid_code") or "")
            chain = self.services.index.chain_of(grid)
            if chain is None:
                raise InputError(tr("grid_code: %(grid)r is not a grid of the plan in force", grid=grid))
            inc.grid_code, inc.zone_code, inc.town_code = grid, chain.get("zone"), chain.get("town")
            inc.assignment = "transferred"
            self._route(inc, now)
        elif action == "rate":
            rating = data.get("rating")
            if not isinstance(rating, int) or isinstance(rating, bool) or not 1 <= rating <= 5:
                raise InputError(tr("rating: a whole number from 1 to 5, got %(rating)r", rating=rating))
            inc.rating = rating
        elif action == "merge":
            target = self.repo.get(str(data.get("into") or ""))
            if not target.is_open or target.id == inc.id:
                raise InputError(tr("into: incident %(id)s is not an open incident to merge into", id=target.id))
            inc.merged_into = target.id
            reporters = list(target.extra.get("merged_reports", [])) + [inc.id]
            target.extra = {**target.extra, "merged_reports": reporters}
            extra.append((target, Event(target.id, now, actor.name, "merged_from", target.status, target.status,
                                        f"duplicate report {inc.id} merged in; its reporter follows this one",
                                        {"from": inc.id})))
        return extra

    # -- supervision ------------------------------------------------------------------------
    def supervise(self, now: dt.datetime | None = None) -> list[Incident]:
        """Escalate every open incident whose time limit has passed (once); return them."""
        now = now or self.clock()
        out = []
        # the database keeps only the late ones (not every open incident of the history)
        for inc in self.repo.query(status=("dispatched", "in_progress"), order="due_at", due_before=now):
            if inc.due_at is None or inc.due_at >= now or inc.extra.get("overdue_escalated"):
                continue
            before = inc.version
            inc.extra = {**inc.extra, "overdue_escalated": now.isoformat()}
            inc.escalated = True
            self.repo.update(inc, before, [Event(inc.id, now, SYSTEM.name, "overdue", inc.status, inc.status,
                                                 f"time limit passed at {inc.due_at.astimezone(self.tz):%Y-%m-%d %H:%M}")])
            out.append(inc)
        return out

    def reroute_open(self, now: dt.datetime | None = None) -> list[tuple[Incident, str | None]]:
        """After a plan change: move open incidents to the grids now containing them.

        Closed incidents keep the grid they belonged to, so metrics stay with that grid.
        Returns (incident, old grid) for each one moved.
        """
        now = now or self.clock()
        self.services.refresh()  # the plan changed: rebuild the index
        moved = []
        for inc, before, old_grid, events in self.reroutes_under(self.services.plan, now):
            self.repo.update(inc, before, events)
            moved.append((inc, old_grid))
        return moved

    def reroutes_under(self, plan: int | None, now: dt.datetime,
                       roles_of=None) -> list[tuple[Incident, int, str | None, list[Event]]]:
        """Open incidents whose grid differs under `plan` (e.g. a draft), re-assigned and re-routed.

        Routed by the same rules as a new report, to the teams `roles_of` gives (see _route).

        Nothing is written: returns (incident as it would be, version read, old grid, events)
        for the caller to store (reroute_open, or a plan's publish in one transaction).
        """
        out = []
        for inc in self.repo.query(status=OPEN_STATUSES):
            old_grid, old_plan, before = inc.grid_code, inc.plan, inc.version
            self._assign(inc, plan=plan)
            if inc.grid_code == old_grid:
                continue
            self._route(inc, now, roles_of)
            out.append((inc, before, old_grid, [Event(inc.id, now, SYSTEM.name, "reroute", inc.status, inc.status,
                                                      f"grid plan {old_plan} → {inc.plan}: {old_grid} → {inc.grid_code}",
                                                      {"from": old_grid, "to": inc.grid_code, "plan": inc.plan})]))
        return out


def _mode(cat) -> str:
    return cat.time_mode


def _positive(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(tr("%(name)s: a positive number of hours is required", name=name)) from None
    if not v > 0:
        raise InputError(tr("%(name)s: must be positive", name=name))
    return v


# -- bulk import of historical or hotline records ---------------------------------------------
def import_rows(svc: IncidentService, rows: list[dict], progress=None) -> tuple[list[Incident], list[str]]:
    """Validate and assign CSV rows (dicts of text); return (incidents, per-row problems).

    For files, ``incidents.bulk.import_csv`` streams in batches instead (constant memory).
    """
    from .bulk import assign_many, check_rows

    good, problems = check_rows(svc, rows, first_line=2)
    assign_many(svc, good)
    if progress is not None:
        progress(len(rows), len(rows))
    return good, problems
