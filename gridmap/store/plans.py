"""Plan storage: history, drafts, edits with optimistic locking and an undo log, atomic publishing.

A plan is a whole copy of the hierarchy (`units` rows keyed by (plan, code)). Drafts are
copied from the plan in force and edited; every edit is one transaction that checks the
revisions it read (`units.rev`, `plans.rev`) inside its UPDATE ... WHERE, so two planners
cannot both win. Publishing flips the draft to published and re-routes open incidents in one
transaction: either the old plan stays in force or the new one is fully in force.
"""

from __future__ import annotations

import builtins  # PlanRepo.list shadows the builtin inside the class
import datetime as dt
from typing import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..errors import Conflict, InputError, NotFound
from ..i18n import tr
from ..registry.model import Unit
from . import rollup, schema
from .incidents import event_to_row, incident_id_of, incident_to_row
from .plan_records import EditRecord, PlanRecord
from .sql import unit_to_row
from .teams import apply_teams, drop_teams, read_teams, restore, snapshot, write_teams

UTC = dt.timezone.utc
_UNIT_FIELDS = [c.name for c in schema.units.columns if c.name not in ("id", "geom")]


class PlanRepo:
    """Plans and their edits on one SQLStore's engine. Each write is one transaction."""

    def __init__(self, store):
        self.store = store

    # -- reading ----------------------------------------------------------------------------
    def list(self) -> list[PlanRecord]:
        """Every plan, oldest first."""
        with self.store.connect() as conn:
            counts = dict(conn.execute(sa.select(_E.c.plan, sa.func.count()).group_by(_E.c.plan)).all())
            rows = conn.execute(sa.select(_P).order_by(_P.c.version)).mappings().all()
        return [_record(r, counts.get(r["version"], 0)) for r in rows]

    def get(self, version: int) -> PlanRecord:
        """One plan; NotFound if absent."""
        with self.store.connect() as conn:
            return self._get(conn, version)

    def _get(self, conn, version: int) -> PlanRecord:
        r = conn.execute(sa.select(_P).where(_P.c.version == int(version))).mappings().first()
        if r is None:
            raise NotFound(tr("no plan %(version)s", version=version))
        edits = conn.execute(sa.select(sa.func.count()).select_from(_E).where(_E.c.plan == int(version))).scalar()
        return _record(r, edits)

    def plan_at(self, day: dt.date) -> int | None:
        """The plan in force on `day`: the newest published plan with effective_from <= day."""
        with self.store.connect() as conn:
            return self.in_force(conn, day)

    def in_force(self, conn, day: dt.date) -> int | None:
        """plan_at on an open connection (a plan without a date counts as in force since ever)."""
        return conn.execute(_IN_FORCE, {"day": day}).scalar()

    def current(self, conn, day: dt.date) -> int | None:
        """The plan in force on `day`; if every published plan starts later, the first of them."""
        plan = self.in_force(conn, day)
        if plan is None:
            plan = conn.execute(_FIRST_PUBLISHED).scalar()
        return plan

    def signature(self, day: dt.date) -> tuple[int | None, int | None]:
        """(plan in force on `day`, newest published plan): changes when a plan is published."""
        with self.store.connect() as conn:
            return self.current(conn, day), conn.execute(_LATEST_PUBLISHED).scalar()

    def index_key(self, plan: int) -> tuple[str, int]:
        """(store id, the plan's units_rev): with the plan, the key of its persisted index (migration 0010)."""
        with self.store.connect() as conn:
            rev = conn.execute(sa.select(_P.c.units_rev).where(_P.c.version == int(plan))).scalar()
            token = conn.execute(sa.select(schema.store_id.c.token).where(schema.store_id.c.id == 1)).scalar()
        return token or "", int(rev or 0)

    def unit_revs(self, plan: int, codes: Iterable[str] | None = None) -> dict[str, int]:
        """{code: rev} of the units of a plan (all, or those of `codes` present)."""
        t = schema.units
        q = sa.select(t.c.code, t.c.rev).where(t.c.plan == int(plan))
        if codes is not None:
            q = q.where(t.c.code.in_(sorted(set(codes))))
        with self.store.connect() as conn:
            return dict(conn.execute(q).all())

    def sibling_codes(self, plan: int, parent_code: str | None, level: str) -> builtins.list[str]:
        """Codes of the units of a plan with this parent and level (no geometry read)."""
        t = schema.units
        q = sa.select(t.c.code).where(t.c.plan == int(plan), t.c.level == level).order_by(t.c.code)
        q = q.where(t.c.parent_code.is_(None) if parent_code is None else t.c.parent_code == parent_code)
        with self.store.connect() as conn:
            return list(conn.execute(q).scalars())

    def codes_ever(self, parent_code: str | None) -> set[str]:
        """Every code that ever had this parent, in any plan (new codes must not reuse them)."""
        t = schema.units
        q = sa.select(t.c.code).distinct()
        q = q.where(t.c.parent_code.is_(None) if parent_code is None else t.c.parent_code == parent_code)
        with self.store.connect() as conn:
            return set(conn.execute(q).scalars())

    def edits(self, plan: int) -> builtins.list[EditRecord]:
        """A draft's edit log, oldest first."""
        with self.store.connect() as conn:
            rows = conn.execute(sa.select(_E).where(_E.c.plan == int(plan)).order_by(_E.c.seq)).mappings().all()
        return [_edit(r) for r in rows]

    # -- drafts -----------------------------------------------------------------------------
    def create_draft(self, base: int, note: str | None, author: str | None) -> int:
        """Copy every unit of plan `base` into a new draft (unit revisions start again at 1)."""
        t = schema.units
        cols = [c for c in _UNIT_FIELDS if c not in ("plan", "rev")]
        with self.store.transaction() as conn:
            self._get(conn, base)
            version = (conn.execute(sa.select(sa.func.max(_P.c.version))).scalar() or 0) + 1
            conn.execute(_P.insert().values(version=version, status="draft", effective_from=None,
                                            created_at=_now(), note=note, base_version=base, author=author, rev=0))
            # One INSERT ... SELECT: a 50,000-grid plan is copied inside the database.
            src = sa.select(sa.literal(version).label("plan"), sa.literal(1).label("rev"),
                            *[t.c[c] for c in cols]).where(t.c.plan == base)
            conn.execute(t.insert().from_select(["plan", "rev", *cols], src))
        return version

    def delete_draft(self, version: int) -> None:
        """Remove a draft with its units and edit log; Conflict for a published plan."""
        with self.store.transaction() as conn:
            rec = self._get(conn, version)
            if rec.status != "draft":
                raise Conflict(tr("plan %(version)s is published; only drafts can be dropped", version=version))
            conn.execute(_E.delete().where(_E.c.plan == rec.version))
            drop_teams(conn, rec.version)
            conn.execute(schema.units.delete().where(schema.units.c.plan == rec.version))
            conn.execute(_P.delete().where(_P.c.version == rec.version))

    # -- edits ------------------------------------------------------------------------------
    def teams(self, plan: int, codes: Iterable[str] | None = None) -> dict:
        """{code: [Role]} of the grids whose team the draft sets (store/teams.py)."""
        with self.store.connect() as conn:
            return read_teams(conn, plan, codes)

    def apply_edit(self, plan: int, op: str, params: Mapping, upserts: Sequence[Unit], deletes: Sequence[str],
                   read_revs: Mapping[str, int], author: str | None = None, draft_rev: int | None = None,
                   teams: Mapping | None = None) -> int:
        """Write one edit of a draft in one transaction; returns the draft's new revision.

        `read_revs` are the unit revisions the edit was computed from: each touched unit must
        still be at that revision (else Conflict naming it, nothing written). `draft_rev`, if
        given, must equal the draft's revision. Upserted units get rev + 1 (new ones rev 1);
        the rows as they were are kept in the edit log for undo. `teams` {code: [Role] | None}
        sets the draft's teams of those grids (their previous teams are logged for undo too).
        """
        t = schema.units
        touched = sorted({u.code for u in upserts} | set(deletes))
        with self.store.transaction() as conn:
            new_rev = self._bump(conn, plan, draft_rev)
            before = self._rows(conn, plan, touched)
            for code in touched:
                have = before.get(code)
                want = read_revs.get(code)
                if have is None and want is not None:
                    raise Conflict(tr("unit %(code)s was removed from draft %(plan)s by another edit: reload", code=code, plan=plan))
                if have is not None and (want is None or have["rev"] != want):
                    raise Conflict(tr("unit %(code)s was changed in draft %(plan)s by another planner (rev %(rev)s, you had "
                                      "%(had)s): reload and try again", code=code, plan=plan, rev=have["rev"], had=want))
            for code in deletes:
                conn.execute(t.delete().where(t.c.plan == plan, t.c.code == code))
            for u in upserts:
                row = unit_to_row(u, plan)
                if u.code in before and u.code not in deletes:
                    row["rev"] = before[u.code]["rev"] + 1
                    conn.execute(t.update().where(t.c.plan == plan, t.c.code == u.code).values(**row))
                else:
                    row["rev"] = 1 if u.code not in before else before[u.code]["rev"] + 1
                    conn.execute(t.insert().values(**row))
            params = dict(params)
            if teams:
                params["teams_before"] = snapshot(conn, plan, teams)
                write_teams(conn, plan, teams)
            seq = (conn.execute(sa.select(sa.func.max(_E.c.seq)).where(_E.c.plan == plan)).scalar() or 0) + 1
            conn.execute(_E.insert().values(
                plan=plan, seq=seq, op=op, author=author, at=_now(), params=params,
                before=[_snapshot(r) for r in before.values()], after_codes=sorted(u.code for u in upserts)))
        return new_rev

    def undo(self, plan: int, author: str | None = None, draft_rev: int | None = None) -> EditRecord:
        """Undo the last edit of a draft (restore the rows it changed); returns that edit."""
        t = schema.units
        with self.store.transaction() as conn:
            self._bump(conn, plan, draft_rev)
            last = conn.execute(sa.select(_E).where(_E.c.plan == plan).order_by(_E.c.seq.desc()).limit(1)).mappings().first()
            if last is None:
                raise InputError(tr("draft %(plan)s has no edits to undo", plan=plan))
            edit = _edit(last)
            now_rows = self._rows(conn, plan, sorted(set(edit.after_codes) | set(edit.before_codes)))
            for code in edit.after_codes:
                conn.execute(t.delete().where(t.c.plan == plan, t.c.code == code))
            for snap in last["before"]:
                row = _unsnapshot(snap)
                current = now_rows.get(row["code"])
                # a restored unit moves forward in revision, so a planner holding the undone state conflicts
                row["rev"] = max(row["rev"], current["rev"] if current else 0) + 1
                conn.execute(t.insert().values(**row))
            if (last["params"] or {}).get("teams_before"):
                restore(conn, plan, last["params"]["teams_before"])
            conn.execute(_E.delete().where(_E.c.id == last["id"]))
        return edit

    def _bump(self, conn, plan: int, draft_rev: int | None) -> int:
        """Lock the draft row and move its revision on; Conflict if published or stale."""
        q = _P.update().where(_P.c.version == int(plan), _P.c.status == "draft")
        if draft_rev is not None:
            q = q.where(_P.c.rev == int(draft_rev))
        if conn.execute(q.values(rev=_P.c.rev + 1)).rowcount != 1:
            rec = self._get(conn, plan)
            if rec.status != "draft":
                raise Conflict(tr("plan %(plan)s is published: edits go to a draft (gridmap plan new)", plan=plan))
            raise Conflict(tr("draft %(plan)s was changed by another planner (rev %(rev)s, you had %(had)s): reload and "
                              "try again", plan=plan, rev=rec.rev, had=draft_rev))
        return conn.execute(sa.select(_P.c.rev).where(_P.c.version == int(plan))).scalar()

    def _rows(self, conn, plan: int, codes: Iterable[str]) -> dict[str, dict]:
        t = schema.units
        codes = list(codes)
        if not codes:
            return {}
        q = sa.select(*[t.c[c] for c in _UNIT_FIELDS]).where(t.c.plan == plan, t.c.code.in_(codes))
        return {r["code"]: dict(r) for r in conn.execute(q).mappings()}

    def apply_due_teams(self, day: dt.date) -> builtins.list[int]:
        """Write into roles the teams of published plans in force by `day` whose teams wait (dated later
        when published), oldest first, in one transaction; returns their versions."""
        with self.store.transaction() as conn:
            due = list(conn.execute(sa.select(_P.c.version).where(
                _P.c.status == "published", _P.c.teams_applied_at.is_(None), _P.c.effective_from.is_not(None),
                _P.c.effective_from <= day, _P.c.version.in_(sa.select(schema.plan_teams.c.plan).distinct()))
                .order_by(_P.c.version)).scalars())
            for version in due:
                apply_teams(conn, version)
                conn.execute(_P.update().where(_P.c.version == version).values(teams_applied_at=_now()))
        return due

    # -- publishing -------------------------------------------------------------------------
    def publish(self, plan: int, effective_from: dt.date, author: str | None,
                incident_updates: Sequence[tuple] = (), replaces: int | None = None,
                draft_rev: int | None = None, apply_roster: bool = False, reason: str | None = None) -> None:
        """Publish a draft and write the re-routed incidents, all in one transaction.

        `draft_rev`: the draft revision the planner reviewed (its impact report); if the draft
        was edited since, Conflict and nothing changes.

        `incident_updates` holds (incident, expected_version, events); an incident changed
        since it was read makes the whole publish fail with Conflict, and nothing changes.
        `replaces`: the newest published plan the caller checked against; if another plan was
        published meanwhile, Conflict (two drafts of one base cannot both be published).
        `apply_roster`: write the draft's teams into `roles` (the plan takes effect now);
        `reason`: why the publish was forced past staffing gaps (kept on the plan).
        """
        ti, te = schema.incidents, schema.incident_events
        try:
            with self.store.transaction() as conn:
                if replaces is not None:
                    # lock the row of the plan being replaced (PostgreSQL: concurrent publishes queue here)
                    conn.execute(_P.update().where(_P.c.version == replaces).values(rev=_P.c.rev))
                    latest = conn.execute(_LATEST_PUBLISHED).scalar()
                    if latest != replaces:
                        raise Conflict(tr("plan %(latest)s was published while plan %(plan)s was being published: nothing "
                                          "changed; make a new draft from it", latest=latest, plan=plan))
                draft = _P.update().where(_P.c.version == int(plan), _P.c.status == "draft")
                if draft_rev is not None:
                    draft = draft.where(_P.c.rev == int(draft_rev))
                done = conn.execute(draft.values(
                    status="published", effective_from=effective_from, published_at=_now(),
                    author=sa.func.coalesce(_P.c.author, author), publish_reason=reason))
                if done.rowcount != 1:
                    rec = self._get(conn, plan)
                    if rec.status == "draft":
                        raise Conflict(tr("draft %(plan)s was edited since you reviewed it (rev %(rev)s, you reviewed rev "
                                          "%(had)s): look at its impact again, then publish", plan=plan, rev=rec.rev,
                                          had=draft_rev))
                    raise Conflict(tr("plan %(plan)s is already published", plan=plan))
                if apply_roster:
                    apply_teams(conn, plan)
                    conn.execute(_P.update().where(_P.c.version == int(plan)).values(teams_applied_at=_now()))
                for inc, expected, events in incident_updates:
                    inc.version = expected + 1
                    rollup.remove(conn, self.store.backend, [incident_id_of(inc.id)])
                    res = conn.execute(ti.update().where(ti.c.id == incident_id_of(inc.id), ti.c.version == expected)
                                       .values(**incident_to_row(inc)))
                    if res.rowcount != 1:
                        raise Conflict(tr("incident %(id)s changed while plan %(plan)s was being published: nothing was published, try again", id=inc.id, plan=plan))
                    rollup.add(conn, self.store.backend, [incident_id_of(inc.id)])
                    rows = [event_to_row(e, incident_id_of(inc.id)) for e in events]
                    if rows:
                        conn.execute(te.insert(), rows)
        except IntegrityError as exc:
            for inc, expected, _ in incident_updates:
                inc.version = expected
            raise Conflict(tr("publishing plan %(plan)s failed and nothing changed: %(reason)s", plan=plan, reason=exc.orig)) from None
        except BaseException:
            for inc, expected, _ in incident_updates:
                inc.version = expected
            raise


_P = schema.plans
_E = schema.plan_edits
_IN_FORCE = (sa.select(_P.c.version)
             .where(_P.c.status == "published",
                    sa.or_(_P.c.effective_from.is_(None), _P.c.effective_from <= sa.bindparam("day", type_=sa.Date)))
             .order_by(sa.func.coalesce(_P.c.effective_from, sa.literal(dt.date(1, 1, 1))).desc(), _P.c.version.desc())
             .limit(1))
_LATEST_PUBLISHED = sa.select(sa.func.max(_P.c.version)).where(_P.c.status == "published")
_FIRST_PUBLISHED = (sa.select(_P.c.version).where(_P.c.status == "published")
                    .order_by(_P.c.effective_from, _P.c.version).limit(1))


def _now() -> dt.datetime:
    return dt.datetime.now(UTC)


def _record(r, edits: int) -> PlanRecord:
    return PlanRecord(r["version"], r["status"], r["effective_from"], r["created_at"], r["published_at"],
                      r["note"], r["base_version"], r["author"], r["rev"] or 0, edits, r.get("publish_reason"))


def _edit(r) -> EditRecord:
    return EditRecord(r["seq"], r["op"], r["author"], r["at"], r["params"] or {},
                      sorted(s["code"] for s in r["before"]), list(r["after_codes"]))


def _snapshot(row: Mapping) -> dict:
    """A units row as JSON (geometry as hex WKB, dates as ISO text)."""
    out = dict(row)
    out["geom_wkb"] = bytes(row["geom_wkb"]).hex()
    for name in ("valid_from", "valid_to"):
        out[name] = row[name].isoformat() if row[name] else None
    return out


def _unsnapshot(snap: Mapping) -> dict:
    row = dict(snap)
    row["geom_wkb"] = bytes.fromhex(snap["geom_wkb"])
    for name in ("valid_from", "valid_to"):
        row[name] = dt.date.fromisoformat(snap[name]) if snap[name] else None
    return row
