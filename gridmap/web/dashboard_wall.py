"""Blueprint "wall": the one-screen view (大屏) of the dashboard for a wall display, and its JSON twin.

``GET /dashboard/wall`` fills one screen (dark, large type, no scrolling at 1920x1080 or
1400x900): the district's figures, the trend of the last 12 months, the period by category and
by town, and the zones ranked. It reloads itself every ``refresh`` seconds (default 300, 30 to
3600; a <meta http-equiv="refresh">, so a kiosk browser needs no script) and keeps its query, so
``?as_of=`` stays fixed for the demo. ``GET /dashboard/wall.json`` is the same data. Everything
is summed by the database (incidents/metrics_db.compute_db, incidents/trends.py): a few group
scans whatever the number of incidents. Who may look: the dashboard's roles (nav.gate).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from ..errors import InputError
from ..i18n import tr
from ..incidents import trends
from ..incidents.metrics import rank_zones
from ..incidents.metrics_db import compute_db
from ..registry.model import Level
from . import services
from .auth import require
from .dashboard import period, town_names
from .nav import gate

bp = Blueprint("wall", __name__)

REFRESH_S = 300
ZONES_SHOWN = 10  # the wall shows the best and the worst few; the dashboard has them all


@bp.get("/dashboard/wall")
def page():
    """The wall view; the public signs in first."""
    refused = gate("dashboard")
    if refused is not None:
        return refused
    refresh = _refresh()
    return render_template("dashboard_wall.html", data=wall_data(), refresh=refresh)


@bp.get("/dashboard/wall.json")
def as_json():
    """The data of /dashboard/wall."""
    require()
    return jsonify(wall_data())


def wall_data() -> dict[str, Any]:
    """District figures, trend, breakdowns and zone ranking for the query's period (all from SQL)."""
    svc = services().incidents
    tz, limit = svc.tz, services().settings.response_limit_hours
    as_of, start, end = period(tz)
    (total,), (rates,) = compute_db(svc.repo, "all", start, end, as_of=as_of, tz=tz, response_limit_hours=limit)
    zones, _ = compute_db(svc.repo, "zone", start, end, as_of=as_of, tz=tz, response_limit_hours=limit)
    names = {u.code: u.name for u in services().units(Level.zone)}
    ranked = [{"code": z["key"], "name": names.get(z["key"], z["key"]), "rank": z["rank"],
               "on_time_rate": z["on_time_rate"], "closure_rate": z["closure_rate"],
               "satisfaction": z["satisfaction"], "count": z["count"],
               "flag_lowest_satisfaction": z["flag_lowest_satisfaction"]} for z in rank_zones(zones)]
    local = lambda t: t.astimezone(tz).isoformat()  # noqa: E731
    return {
        "as_of": local(as_of), "period": {"from": local(start), "to": local(end)},
        "updated_at": local(dt.datetime.now(tz)),
        "district": {"count": total.count, "due": total.due, "closed": total.closed,
                     "closure_rate": total.closure_rate, "on_time_rate": total.on_time_rate,
                     "satisfaction": total.satisfaction, "overdue_open": total.overdue_open,
                     "response_rate": rates.response_rate},
        "zones": {"count": len(ranked), "best": ranked[:ZONES_SHOWN // 2],
                  "worst": ranked[ZONES_SHOWN // 2:][-(ZONES_SHOWN // 2):]},
        **trends.breakdowns(svc.repo, svc.taxonomy, town_names(), start, end, as_of, tz, response_limit_hours=limit),
    }


def _refresh() -> int:
    raw = request.args.get("refresh", "").strip()
    if not raw:
        return REFRESH_S
    if not raw.isdigit() or not 30 <= int(raw) <= 3600:
        raise InputError(tr("refresh: seconds between reloads, 30 to 3600, got %(raw)r", raw=raw))
    return int(raw)
