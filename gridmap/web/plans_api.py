"""Blueprint "plans": versioned grid plans as JSON under /api/v1/plans.

Reading needs a signed-in user or API token (any role); writing needs a planner or an admin.
Geometry is GeoJSON in EPSG:4326 lon/lat; areas are m². Errors are
{"status", "title", "detail"} with their HTTP status: 404 unknown plan or unit, 409 a
published plan, a stale revision or coverage problems, 422 bad input.

A plan (`GET /plans`, `GET /plans/<n>`)::

    {"version": 2, "status": "draft" | "published", "effective_from": "2026-12-01" | null,
     "created_at": ISO, "published_at": ISO | null, "note": str | null, "base_version": 1,
     "author": str | null, "rev": 3, "edits": 3}

`GET /plans/<n>` adds "edit_log": [{"seq", "op", "author", "at", "params", "before_codes",
"after_codes"}]. `GET /plans/<n>/units?level=grid` is a GeoJSON FeatureCollection whose
features carry "rev" among their properties, with "plan", "status" and "rev" (the draft's
revision) at the top; `&parent=CODE` keeps the units below that zone or town (404 if absent);
`&codes=A,B` only those units (the ones absent from the plan are left out).

An edit (`POST /plans/<n>/edits`) is one JSON object with "op" and "rev" (what the planner
loaded: the draft's "rev" number, or {code: feature rev} of the units loaded; the units
named by the edit must be in it)::

    {"op": "split",   "code": C, "line": LineString}      or  {"op": "split", "code": C, "parts": 3}
    {"op": "merge",   "codes": [A, B, ...]}                      (A keeps its code)
    {"op": "reshape", "code": A, "geometry": Polygon, "neighbour": B?, "repair": false}
    {"op": "move",    "from": A, "to": B, "area": Polygon, "repair": false}
    {"op": "move",    "from": A, "to": B, "points": [[lon, lat], ...]}
    {"op": "snap",    "tolerance_m": 1.0, "level": "grid", "parent": ZONE?}
    {"op": "rename",  "code": C, "name": "新名称"}
    {"op": "staff",   "code": C, "leader": P?, "instructor": P?, "workers": [P, ...]?}  (the draft's team)

and answers 200 with {"plan", "rev" (the draft's new revision), "op", "created": [codes],
"changed": [codes], "removed": [codes], "revs": {code: rev} of the units touched,
"notes": [str]}. A stale "rev" is 409 naming the unit, and nothing is written. With
`?features=1` the answer adds "features": the created and changed units as GeoJSON features
(with their "rev"), so a page patches its map without downloading the plan again.
`{"op": "lock", "codes": [...], "locked": true|false}` locks grids (plans/locks.py): split, merge,
reshape and move then refuse to change them (422), snap leaves them out.
`POST /plans/<n>/undo` {"rev"?} undoes the last edit: {"plan", "rev", "undone": edit}.

`GET /plans/<n>/diff?against=M&level=grid` (default: the plan the draft was copied from; grids) is
{"from": M, "to": n, "level", "added": [{code, name, area_m2, from: [{code, area_m2}]}],
"removed": [{code, name, area_m2, to: [...]}], "reshaped": [{code, name, area_before_m2,
area_after_m2, area_change_m2, changed_area_m2}], "renamed": [{code, name_before,
name_after}], "unchanged": [codes], "summary": {kind: count}}.

`GET /plans/<n>/impact` is {"plan", "against", "diff": summary, "households": {"method":
"area_share", "households", "population", "flows": [{from, to, area_m2, share, households,
population}]}, "incidents": {"open", "moving": [{id, category, status, from, to,
assignee}]}, "staff_on_removed_grids": [{person_id, name, unit_code, role}], "teams":
[{code, name, problem, counts, new_grid}], "coverage": [problem]}, where a coverage problem
is {kind, parent, codes, area_m2, location: {lon, lat}, detail}.

A split or merge hands the old grids' teams to their successors (rule: plans/staffing.py);
the impact adds "staffing_gaps" (teams entries with open incidents: {code, name, problem,
counts, open_incidents, blocks_publish, new_grid}), "new_and_changed_teams" {code: {leader,
instructor, worker}} and "team_rule"; staff_on_removed_grids entries carry "successors" and
"placed_in".

`POST /plans/<n>/publish` {"effective_from": "YYYY-MM-DD", "force": false, "reason": str?, "rev": 7}
is 409 {"title": "StaffingRefused", "gaps": [...]} while a grid with open incidents lacks a
full team, unless force with a reason (422 without one). (rev: the draft
revision whose impact the planner reviewed; optional; 409 if the draft changed since) answers
{"plan", "effective_from", "in_force", "replaces", "forced", "coverage", "rerouted":
[moving incident], "reroute_pending", "staff_on_removed_grids"}; with coverage problems
and no force it is 409 with "problems": [problem].
"""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from .. import params
from ..errors import InputError
from ..i18n import tr
from ..io.writers import feature
from ..plans import CoverageRefused, PlanService, StaffingRefused
from ..registry.model import Level
from . import services
from .auth import require

bp = Blueprint("plans", __name__)
WRITERS = ("planner", "admin")
GEOJSON = "application/geo+json"


def plan_service() -> PlanService:
    """A PlanService over the app's Services and incident loop (cheap: no state of its own)."""
    return services().plans


@bp.errorhandler(CoverageRefused)
def _refused(exc: CoverageRefused):
    return jsonify({"status": 409, "title": "CoverageRefused", "detail": str(exc), "problems": exc.problems,
                    "gaps": exc.gaps}), 409


@bp.errorhandler(StaffingRefused)
def _unstaffed(exc: StaffingRefused):
    return jsonify({"status": 409, "title": "StaffingRefused", "detail": str(exc), "gaps": exc.gaps}), 409


@bp.get("/plans")
def list_plans():
    require()
    return jsonify([p.as_dict() for p in plan_service().plans()])


@bp.post("/plans")
def create_plan():
    actor = require(*WRITERS)
    body = _body()
    rec = plan_service().create(note=_opt_str(body.get("note"), "note"), author=actor.name)
    return jsonify(rec.as_dict()), 201, {"Location": f"{request.path.rstrip('/')}/{rec.version}"}


@bp.get("/plans/<int:version>")
def get_plan(version: int):
    require()
    svc = plan_service()
    return jsonify(svc.plan(version).as_dict() | {"edit_log": [e.as_dict() for e in svc.repo.edits(version)]})


@bp.delete("/plans/<int:version>")
def drop_plan(version: int):
    require(*WRITERS)
    plan_service().drop(version)
    return "", 204


@bp.get("/plans/<int:version>/units")
def plan_units(version: int):
    require()
    level = request.args.get("level")
    try:
        lv = Level.parse(level) if level else None
    except ValueError as exc:
        raise InputError(str(exc)) from None
    parent = request.args.get("parent") or None
    codes = _codes_arg(request.args.get("codes"))
    rec, units = plan_service().units(version, lv, parent, codes)
    fc = {"type": "FeatureCollection", "plan": rec.version, "status": rec.status, "rev": rec.rev,
          "features": _features(units)}
    return jsonify(fc), 200, {"Content-Type": GEOJSON}


def _features(units) -> list[dict]:
    feats = []
    for u, rev in units:
        f = feature(u)
        f["properties"]["rev"] = rev
        feats.append(f)
    return feats


MAX_CODES_ARG = 2000


def _codes_arg(raw: str | None) -> list[str] | None:
    """`codes=A,B,C`: only these units (the page refreshes what an undo touched)."""
    if raw is None:
        return None
    codes = [c for c in (x.strip() for x in raw.split(",")) if c]
    if not codes or len(codes) > MAX_CODES_ARG:
        raise InputError(tr("codes: 1 to %(MAX_CODES_ARG)s unit codes, comma-separated", MAX_CODES_ARG=MAX_CODES_ARG))
    return codes


@bp.post("/plans/<int:version>/edits")
def edit_plan(version: int):
    actor = require(*WRITERS)
    body = _body()
    if "rev" not in body:
        raise InputError(tr("rev: send the draft's rev or {code: rev} of the units you loaded (optimistic locking)"))
    op = body.get("op")
    params = {k: v for k, v in body.items() if k not in ("op", "rev")}
    features = request.args.get("features") in ("1", "true")  # the page patches its map from these: no reload
    out = plan_service().edit(version, op, params, rev=body["rev"], author=actor.name, with_units=features)
    if features:
        out["features"] = _features(out.pop("units", []))
    return jsonify(out)


@bp.post("/plans/<int:version>/undo")
def undo_edit(version: int):
    actor = require(*WRITERS)
    rev = _body(optional=True).get("rev")
    if rev is not None and (isinstance(rev, bool) or not isinstance(rev, int)):
        raise InputError(tr("rev: the draft's revision, a number"))
    return jsonify(plan_service().undo(version, rev=rev, author=actor.name))


@bp.get("/plans/<int:version>/diff")
def diff_plan(version: int):
    require()
    svc = plan_service()
    against = request.args.get("against")
    if against is None:
        against = svc.plan(version).base_version
        if against is None:
            raise InputError(tr("against: plan to compare with (this plan was not copied from another)"))
    try:
        against = int(against)
    except ValueError:
        raise InputError(tr("against: a plan number, got %(against)r", against=against)) from None
    try:
        level = Level.parse(request.args.get("level", "grid"))
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return jsonify(svc.diff(against, version, level))


@bp.get("/plans/<int:version>/impact")
def impact_plan(version: int):
    require()
    return jsonify(plan_service().impact(version))


@bp.post("/plans/<int:version>/publish")
def publish_plan(version: int):
    actor = require(*WRITERS)
    body = _body()
    if not body.get("effective_from"):
        raise InputError(tr("effective_from: the date the plan takes effect, YYYY-MM-DD"))
    force = body.get("force", False)
    if not isinstance(force, bool):
        raise InputError(tr("force: true or false"))
    rev = body.get("rev")
    if rev is not None and (isinstance(rev, bool) or not isinstance(rev, int)):
        raise InputError(tr("rev: the draft revision you reviewed (an integer), or leave it out"))
    reason = _opt_str(body.get("reason"), "reason")
    return jsonify(plan_service().publish(version, body["effective_from"], force=force, author=actor.name, rev=rev,
                                          reason=reason))


def _body(optional: bool = False) -> dict:
    body = request.get_json(silent=True)
    if body is None and optional and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise InputError(tr("the request body must be a JSON object"))
    return body


def _opt_str(value, name: str) -> str | None:
    return params.text(value, name)
