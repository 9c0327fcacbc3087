"""Blueprint "plan_compare": two plans side by side (/planner/compare) and its JSON twin.

`GET /planner/compare?a=M&b=N[&households=MIN-MAX][&focus=ZONE]` (planners and admins; others
are sent to /login): two maps, kept on the same view, each plan's grids coloured by what changed
between them (removed and reshaped on the left, added and reshaped on the right; the rest
light), and under each map its balance table against the households target. Defaults: b the
newest draft (else the plan in force), a the plan b was copied from. `/planner/compare.json`
is the same data (plans/compare.py) with the unit URLs the page draws from.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, redirect, render_template, request, url_for

from ..errors import Forbidden, InputError
from ..i18n import tr
from .auth import current_actor, require
from .plan_files_api import compare_data
from .planner_page import BALANCE, COLOURS, PLANNER_ROLES
from .plans_api import plan_service

bp = Blueprint("plan_compare", __name__)
CHANGE = {"added": "新增 added", "removed": "撤销 removed", "reshaped": "改形 reshaped", "renamed": "更名 renamed",
          "unchanged": "未变 unchanged"}
CHANGE_COLOURS = {"added": "#2e9d3a", "removed": "#d7301f", "reshaped": "#f08c00", "renamed": "#7b4fc9",
                  "unchanged": "#c9d3dc"}


@bp.get("/planner/compare")
def page():
    actor = current_actor()
    if actor.is_public or actor.role not in PLANNER_ROLES:
        return redirect(url_for("pages.login", next=request.full_path.rstrip("?")))
    return render_template("plan_compare.html", data=_data(), plans=plan_service().plans())


@bp.get("/planner/compare.json")
def as_json():
    actor = require()
    if actor.role not in PLANNER_ROLES:
        raise Forbidden(tr("a %(role)s may not plan grids (planners and admins only)", role=actor.role))
    return jsonify(_data())


def _data() -> dict:
    ps = plan_service()
    a, b = request.args.get("a") or None, request.args.get("b") or None
    if b is None:
        records = ps.plans()
        drafts = [r.version for r in records if r.status == "draft"]
        b = drafts[-1] if drafts else ps.store.current_plan()
    if a is None:
        try:
            base = ps.plan(int(b)).base_version
        except ValueError:
            raise InputError(tr("b: a plan number, got %(b)r", b=b)) from None
        if base is None:
            raise InputError(tr("a: choose the plan to compare with (plan b was not copied from another)"))
        a = base
    out = compare_data(a, b, request.args.get("households"))
    focus = request.args.get("focus") or None
    q = "?level=grid" + (f"&parent={focus}" if focus else "")
    out |= {"labels": BALANCE, "colours": COLOURS, "change_labels": CHANGE, "change_colours": CHANGE_COLOURS,
            "focus": focus,
            "urls": {"a": url_for("plans.plan_units", version=out["a"]["plan"]["version"]) + q,
                     "b": url_for("plans.plan_units", version=out["b"]["plan"]["version"]) + q,
                     "page": url_for("plan_compare.page"), "planner": url_for("planner.page")}}
    return out
