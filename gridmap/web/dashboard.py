"""Blueprint "dashboard": the leaders' dashboard (领导驾驶舱) and its JSON twin.

``GET /dashboard`` (signed-in users of any role; the public is sent to /login?next=...) and
``GET /dashboard.json`` (401 for the public) show, for a period (default: the 12 months up to
"as of"):

- zones ranked by 按期结案率, 结案率 and satisfaction (gridmap.incidents.metrics.compute by zone,
  then rank_zones), the zone with the lowest satisfaction flagged;
- hotspots: grids whose count in the last 30 days stands out against the 3 windows before
  (gridmap.maps.data.hotspots), on a map;
- early warnings: grids whose count in the last 7 days is above mean + 3 sd of the 8 weeks
  before, and at least 3 (gridmap.maps.data.early_warnings);
- the trend of the last 12 months and the period by category and by town, summed in SQL
  (gridmap.incidents.trends). ``/dashboard/wall`` is the one-screen view (大屏) of the same
  figures for a wall display (web/dashboard_wall.py).

Query: ``as_of`` (ISO date or datetime; default now; a date means 00:00 in the jurisdiction's
time zone), ``from`` and ``to`` (ISO dates or datetimes: the period is [from, to); defaults:
to = as_of, from = to minus 12 months). The demo data runs to 2026-11-01: try
``/dashboard?as_of=2026-11-01``.
"""

from __future__ import annotations

import datetime as dt

from flask import Blueprint, jsonify, render_template, request, url_for

from .. import maps, params
from ..errors import InputError
from ..i18n import tr
from ..incidents import trends
from ..registry.model import Level
from . import maps_pages, services
from .auth import require
from .compress import gzip_response
from .nav import gate

bp = Blueprint("dashboard", __name__)


@bp.get("/dashboard")
def page():
    """The dashboard page; the public is redirected to the sign-in page."""
    refused = gate("dashboard")
    if refused is not None:
        return refused
    data, ctx = _gather()
    catalog = ctx["catalog"]
    options = maps_pages.map_options()
    options.pop("grid_href")
    large = len(catalog) > maps_pages.embed_max_grids()
    m = maps.dashboard_map(ctx["zones"], catalog.grids, data["hotspots"]["grids"], data["warnings"]["grids"],
                           ctx["recent_window"], grid_href=lambda code: url_for("maps.grid_page", code=code),
                           catalog=catalog, grids_url=url_for("maps.grids_in_bbox") if large else None,
                           grid_json_href=url_for("maps.grid_json", code="__CODE__"), **options)
    json_url = url_for("dashboard.as_json", **{k: v for k, v in ctx["query"].items() if v})
    return render_template("dashboard.html", data=data, map=maps.render_parts(m), json_url=json_url)


@bp.get("/dashboard.json")
def as_json():
    """The data of /dashboard."""
    require()  # 401 JSON for the public (errors of a .json path are answered in JSON)
    return jsonify(_gather()[0])


bp.after_request(gzip_response)


def _gather() -> tuple[dict, dict]:
    svc = services().incidents
    tz = svc.tz
    as_of, start, end = period(tz)
    s = services()
    zones = s.units(Level.zone)
    catalog = maps_pages.grid_catalog()
    in_period = svc.repo.query(start=start, end=end)
    span_start, span_end = maps.dashboard_span(as_of)
    recent = (in_period if start <= span_start and span_end <= end
              else svc.repo.query(start=span_start, end=span_end))
    data = maps.dashboard_json(zones, catalog.grids, in_period, recent, start, end, as_of, tz)
    data |= trends.breakdowns(svc.repo, svc.taxonomy, town_names(), start, end, as_of, tz,
                              response_limit_hours=s.settings.response_limit_hours)
    window_start = as_of - maps.data.HOTSPOT_WINDOW
    recent_window = [i for i in recent if window_start <= i.reported_at < as_of and maps.data.counts_as_activity(i)]
    query = {"as_of": request.args.get("as_of", ""), "from": request.args.get("from", ""),
             "to": request.args.get("to", "")}
    return data, {"zones": zones, "catalog": catalog, "recent_window": recent_window, "query": query}


def period(tz: dt.tzinfo) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """(as_of, start, end) from the query (as_of, from, to; see the module docstring); InputError if bad."""
    as_of = _moment("as_of", tz) or dt.datetime.now(tz)
    end = _moment("to", tz) or as_of
    start = _moment("from", tz) or _years_before(end, 1)
    if not start < end:
        raise InputError(tr("the period must start before it ends: from %(v)s to %(v2)s", v=start.isoformat(), v2=end.isoformat()))
    return as_of, start, end


def town_names() -> dict[str, str]:
    """{town code: name} of the store's towns (镇街)."""
    return {u.code: u.name for u in services().units(Level.town)}


def _moment(name: str, tz: dt.tzinfo) -> dt.datetime | None:
    """A query parameter as an aware datetime (a date is its midnight in `tz`); None if absent."""
    return params.moment(request.args.get(name), name, tz)


def _years_before(t: dt.datetime, years: int) -> dt.datetime:
    try:
        return t.replace(year=t.year - years)
    except ValueError:  # 29 February
        return t.replace(year=t.year - years, day=28)
