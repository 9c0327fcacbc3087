"""Blueprint "maps": the overview map and the grid pages, each with a JSON twin.

Views gather model objects from the services, hand them to the pure builders in gridmap.maps,
and render the result; `/map.json` and `/grids/<code>.json` return the same data the pages
show. Phones of staff are shown only to a signed-in user (session or API token). The maps load
Leaflet and its plugins from the app's static folder, STATIC_DIR (create_app passes it to Flask as
static_folder, served at /static/), so they need no internet.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, jsonify, render_template, url_for

from .. import maps
from ..errors import NotFound
from ..incidents.model import OPEN_STATUSES
from ..model import Level
from . import services
from .auth import current_actor

STATIC_DIR = Path(__file__).with_name("static")  # vendored assets: see static/vendor/README.md
bp = Blueprint("maps", __name__)


@bp.get("/map")
def overview():
    """All zones and grids with their teams, open incidents (clustered, heat) and incident rates."""
    args = _overview_args()
    m = maps.overview_map(**args, **_map_options())
    return render_template("map_overview.html", map=maps.render_parts(m), data=maps.overview_json(**args))


@bp.get("/map.json")
def overview_json():
    """The data of /map."""
    return jsonify(maps.overview_json(**_overview_args()))


@bp.get("/grids/<code>")
def grid_page(code: str):
    """One grid on a map among its neighbours, its 1+1+N team and its open incidents."""
    args = _grid_args(code)
    m = maps.grid_map(args["grid"], args["neighbours"], args["incidents"], category_names=args["category_names"],
                      tz=args["tz"], **_map_options())
    return render_template("map_grid.html", map=maps.render_parts(m), data=maps.grid_json(**args))


@bp.get("/grids/<code>.json")
def grid_json(code: str):
    """The data of /grids/<code>."""
    return jsonify(maps.grid_json(**_grid_args(code)))


def _overview_args() -> dict:
    s = services()
    incidents = _incidents().repo.query(status=OPEN_STATUSES)
    return {"zones": s.units(Level.zone), "grids": s.units(Level.grid), "incidents": incidents,
            "staff_by_grid": maps.staff_by_unit(s.store.people(), s.store.roles()),
            "show_phones": _show_phones(), **_labels(incidents)}


def _grid_args(code: str) -> dict:
    s = services()
    grid = s.unit(code)
    if grid.level not in (Level.grid, Level.micro):
        raise NotFound(f"{code} is a {grid.level.value}, not a grid")
    incidents = _incidents().repo.query(status=OPEN_STATUSES, grid_codes=[code])
    staff = maps.staff_by_unit(s.store.people(), s.store.roles(unit_code=code)).get(code, [])
    zone = s.store.units(codes=[grid.parent_code]) if grid.parent_code else []
    return {"grid": grid, "neighbours": maps.neighbours_of(grid, s.units(grid.level)), "incidents": incidents,
            "staff": staff, "zone": zone[0] if zone else None, "show_phones": _show_phones(), **_labels(incidents)}


def _map_options() -> dict:
    """What every map needs from the app: asset URL, links to grid pages, optional basemap."""
    settings = services().settings
    return {"static_url": url_for("static", filename=""), "grid_href": _grid_href,
            # basemap_url / basemap_attr: a tile server on the local network ({z}/{x}/{y} URL);
            # without one the map has a plain background and needs no tiles at all.
            "basemap": getattr(settings, "basemap_url", "") or None,
            "basemap_attr": getattr(settings, "basemap_attr", "")}


def _grid_href(code: str) -> str:
    return url_for("maps.grid_page", code=code)


def _labels(incidents) -> dict:
    """Category names for the incidents shown, and the jurisdiction's time zone."""
    svc = _incidents()
    cats = {i.category for i in incidents}
    return {"category_names": {c: svc.taxonomy.get(c).name for c in cats if c in svc.taxonomy}, "tz": svc.tz}


def _incidents():
    return current_app.extensions["gridmap.incidents"]


def _show_phones() -> bool:
    """Staff phones are for signed-in users only; the public sees names."""
    return not current_actor().is_public
