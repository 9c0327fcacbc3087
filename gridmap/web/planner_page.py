"""Blueprint "planner": the planner's page for redrawing grids in a draft plan, and its JSON twin.

`GET /planner` (signed-in planners and admins; the public is sent to /login, other roles get a
403 page saying "需要规划员权限") and
`GET /planner.json` (401 for the public, 403 for other roles) are both built by
`planner_data()`: every plan of the history, the chosen plan (`?plan=N`, default the newest
draft, or the plan in force when there is no draft: "no_draft" is then true), the planner's targets (`?households=MIN-MAX`, default the median households of the
plan's grids ±25 %) and the balance of the plan's grids against them (under / within / over).

The page holds no logic of its own: its scripts (static/js/planner.js: state, map, grids,
focus; planner-labels.js; planner-tools.js: selection, edits, locks; planner-review.js:
coverage, impact, publishing) draw the plan's grids from `/api/v1/plans/<n>/units` and send
every operation to the plans API (`/api/v1/plans`: create, edits, undo, diff, impact, publish)
and to `/api/v1/coverage`, with the session cookie and the page's CSRF token. Those check the
role, the revisions and the plan again. An edit's answer carries the grids it changed
(`?features=1`): the page redraws those only. `?focus=CODE` opens on a zone or town.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request, url_for

from ..analysis import default_households, parse_range
from ..errors import Forbidden, InputError
from ..i18n import tr
from ..incidents.actors import Actor
from . import services
from .auth import current_actor, require
from .nav import gate
from .plans_api import plan_service

bp = Blueprint("planner", __name__)

PLANNER_ROLES = ("planner", "admin")
BALANCE = {"under": "户数偏少 Under target", "within": "达标 Within target", "over": "户数偏多 Over target",
           "unknown": "户数未知 Households unknown"}
COLOURS = {"under": "#3b7dd8", "within": "#3a9e4a", "over": "#d7301f", "unknown": "#9a9a9a"}


@bp.get("/planner")
def page():
    """The planner page; the public is sent to sign in, other roles get a page saying what it needs."""
    refused = gate("planner")  # the public signs in; other roles are told "需要规划员权限"
    if refused is not None:
        return refused
    actor = current_actor()
    data = planner_data(actor, request.args.get("plan"), request.args.get("households"))
    from ..plans.staffing import RULE

    return render_template("planner.html", data=data, urls=_urls(data), team_rule=RULE)


@bp.get("/planner.json")
def as_json():
    """The data of /planner."""
    actor = require()  # errors of a .json path are answered in JSON (web/errors.py)
    if actor.role not in PLANNER_ROLES:
        raise Forbidden(tr("a %(role)s may not plan grids (planners and admins only)", role=actor.role))
    data = planner_data(actor, request.args.get("plan"), request.args.get("households"))
    return jsonify(data | {"urls": _urls(data)})


def planner_data(actor: Actor, plan: str | None = None, households: str | None = None) -> dict[str, Any]:
    """Plans, the chosen plan (default: the newest draft, else the plan in force), targets and its balance."""
    ps = plan_service()
    records = ps.plans()
    chosen = None
    if plan not in (None, ""):
        try:
            chosen = ps.plan(int(plan))
        except ValueError:
            raise InputError(tr("plan: a plan number, not %(plan)r", plan=plan)) from None
    else:
        drafts = [r for r in records if r.status == "draft"]
        chosen = drafts[-1] if drafts else None
    in_force = services().store.current_plan()
    no_draft = plan in (None, "") and chosen is None
    if no_draft and in_force is not None:  # no draft yet: show the plan in force (read-only), not a blank map
        chosen = ps.plan(in_force)
    grids = _grid_rows(chosen.version) if chosen else []
    rng = parse_range(households) or default_households(g["households"] for g in grids)
    rows = [g | {"balance": classify(g["households"], rng)} for g in grids]
    return {
        "no_draft": no_draft,
        "actor": {"name": actor.name, "role": actor.role},
        "today": services().today().isoformat(),
        "plans": [r.as_dict() | {"in_force": r.version == in_force} for r in records],
        "plan": (chosen.as_dict() | {"editable": chosen.status == "draft", "in_force": chosen.version == in_force})
        if chosen else None,
        "targets": {"households": list(rng) if rng else None,
                    "default": not households, "rule": "min <= households <= max"},
        "people": [{"id": p.person_id, "name": p.name} for p in services().store.people()] if chosen else [],
        "balance": {"labels": BALANCE, "colours": COLOURS,
                    "counts": {k: sum(1 for r in rows if r["balance"] == k) for k in BALANCE},
                    "grids": rows},
    }


def _grid_rows(version: int) -> list[dict]:
    """code, name, parent_code, households of the plan's grids (no geometry read where the store allows)."""
    from ..store.unit_rows import unit_rows

    return unit_rows(services().store, version)


def classify(households: int | None, rng: tuple[float, float] | None) -> str:
    """under / within / over the households range (both ends within), unknown without a figure."""
    if households is None or rng is None:
        return "unknown"
    if households < rng[0]:
        return "under"
    return "over" if households > rng[1] else "within"


def _urls(data: dict) -> dict[str, str]:
    """Where the page's script sends each operation (the plans and planning APIs)."""
    n = (data.get("plan") or {}).get("version")
    urls = {"page": url_for("planner.page"), "json": url_for("planner.as_json"),
            "plans": url_for("plans.list_plans"),
            "coverage": url_for("analysis.coverage"),
            "balance": url_for("analysis.balance")}
    if n is not None:
        for key, endpoint in (("plan", "get_plan"), ("units", "plan_units"), ("edits", "edit_plan"),
                              ("undo", "undo_edit"), ("diff", "diff_plan"), ("impact", "impact_plan"),
                              ("publish", "publish_plan")):
            urls[key] = url_for(f"plans.{endpoint}", version=n)
    return urls
