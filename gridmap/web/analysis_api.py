"""Blueprint "analysis": the planner tools as JSON under /api/v1.

Reads are public (like /api/v1/units); proposals and network merges need a planner or an
admin (token or session + CSRF). Geometry is GeoJSON lon/lat, areas m².

- `GET /coverage?parent=CODE&plan=N&f=json|geojson|map`: {"plan", "parent", "count",
  "problems": [{kind, parent, codes, area_m2, location: {lon, lat}, detail}]}; `f=geojson`
  the problem shapes; `f=map` the same with a Leaflet `style` and `tooltip` per feature.
- `GET /balance?parent=&households=MIN-MAX&population=&area=&min_compactness=&level=&plan=&from=&to=&f=`:
  {"summary", "grids": [{code, households, population, area_km2, incidents_per_year,
  staff_per_100_households, compactness, parts, flags, ok, ...}]}; `f=geojson` coloured grids.
- `POST /propose`: multipart (file `points`, optional file `barriers`; fields zone,
  households or grids, lock, method, crs, weight_field, plan, draft) or JSON {"zone",
  "points": [[lon, lat, households?], ...], "barriers": [GeoJSON geometry, ...], ...}:
  the proposed grids as a FeatureCollection with a "proposal" summary (and "saved").
- `POST /networks`: multipart, two or more files `layer`; fields code_field, crs,
  min_layers, snap_m, min_area_m2, parent, repair (1 = make invalid polygons valid; without
  it they are refused, 422): {"report", "merge", "merged": FeatureCollection}.
- Both are bounded (settings network_max_features, network_max_vertices, propose_max_points:
  413 naming the limit) and run in a child process with compute_timeout_s / compute_memory_mb
  (503 when over).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from flask import Blueprint, jsonify, request
from werkzeug.utils import secure_filename

from .. import params
from ..errors import InputError
from ..i18n import tr
from ..registry.model import Level
from . import services
from .auth import require

bp = Blueprint("analysis", __name__)
GEOJSON = "application/geo+json"


def _planning():

    return services().analysis


@bp.get("/coverage")
def coverage():
    from ..analysis.coverage import map_layer, problems_geojson, problems_json

    parent, plan, f = request.args.get("parent") or None, _int("plan"), request.args.get("f", "json")
    problems = _planning().coverage(parent, plan=plan)
    if f == "geojson":
        return jsonify(problems_geojson(problems)), 200, {"Content-Type": GEOJSON}
    if f == "map":
        return jsonify(map_layer(problems)), 200, {"Content-Type": GEOJSON}
    if f != "json":
        raise InputError(tr("f must be json, geojson or map, not %(f)r", f=f))
    return jsonify({"plan": plan, "parent": parent, "count": len(problems), "problems": problems_json(problems)})


@bp.get("/balance")
def balance():
    from ..analysis import parse_range
    from ..analysis.balance import Targets, balance_geojson

    a = request.args
    targets = Targets(parse_range(a.get("households"), "households"), parse_range(a.get("population"), "population"),
                      parse_range(a.get("area"), "area", integer=False), _float("min_compactness"))
    level = _level(a.get("level"))
    units, rows, summ = _planning().balance(a.get("parent") or None, targets, level, _int("plan"),
                                            _day("from"), _day("to"))
    if a.get("f") == "geojson":
        return jsonify(balance_geojson(units, rows) | {"summary": summ}), 200, {"Content-Type": GEOJSON}
    return jsonify({"summary": summ, "grids": [r.to_dict() for r in rows]})


@bp.post("/propose")
def propose():
    from ..analysis import parse_range
    from ..analysis.service import lines_from_geojson, points_from_json

    actor = require("planner", "admin")
    body = _body()
    draft = _int("draft", body)
    with tempfile.TemporaryDirectory(prefix="gridmap-propose-") as tmp:
        points_path = _upload("points", tmp)
        barriers_path = _upload("barriers", tmp)
        pts = points_from_json(body.get("points")) if points_path is None else None
        if points_path is None and pts is None:
            raise InputError(tr("household points are needed: a file field 'points' or a JSON list 'points'"))
        svc = _planning()
        prop = svc.propose(_text(body, "zone", required=True), points_path, crs=body.get("crs") or None,
                           weight_field=body.get("weight_field") or None, barriers_path=barriers_path,
                           households=parse_range(body.get("households"), "households"), grids=_int("grids", body),
                           lock=_codes(body.get("lock")), method=body.get("method") or "bisect",
                           plan=draft if draft is not None else _int("plan", body), fresh_codes=draft is not None,
                           points=pts, barriers=lines_from_geojson(body.get("barriers")), limits=_limits())
    doc = prop.geojson()
    if draft is not None:
        doc["saved"] = svc.save_proposal(prop, draft, author=actor.username)
    return jsonify(doc), 200, {"Content-Type": GEOJSON}


@bp.post("/networks")
def networks():
    require("planner", "admin")
    files = request.files.getlist("layer")
    if len(files) < 2:
        raise InputError(tr("upload at least two grid layers as multipart files named 'layer'"))
    f = request.form
    with tempfile.TemporaryDirectory(prefix="gridmap-networks-") as tmp:
        paths = [_save(fs, tmp, n) for n, fs in enumerate(files)]
        report, merged = _planning().networks(
            paths, code_field=f.get("code_field") or "code", crs=f.get("crs") or None,
            names=[Path(fs.filename or f"layer{n + 1}").stem for n, fs in enumerate(files)],
            min_layers=_int("min_layers", f) or 2, snap_m=_float("snap_m", f, 5.0),
            min_area_m2=_float("min_area_m2", f, 2000.0), parent=f.get("parent") or None,
            repair=f.get("repair", "") in ("1", "true", "yes", "on"), limits=_limits())
    return jsonify({"report": report, "merge": merged.stats, "merged": merged.geojson()})


def _limits():
    from ..budget import ComputeLimits

    return ComputeLimits.from_settings(services().settings)


# -- parsing ------------------------------------------------------------------------------------------
def _body() -> dict:
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            raise InputError(tr("the body must be a JSON object"))
        return body
    return request.form.to_dict()


def _text(body, name: str, required: bool = False) -> str | None:
    return params.text(body.get(name), name, required)


def _int(name: str, source=None) -> int | None:
    return params.integer((request.args if source is None else source).get(name), name)


def _float(name: str, source=None, default: float | None = None) -> float | None:
    return params.number((request.args if source is None else source).get(name), name, default)


def _day(name: str) -> dt.datetime | None:
    day = params.day(request.args.get(name), name)
    return None if day is None else dt.datetime.combine(day, dt.time(), dt.timezone.utc)


def _level(raw: str | None) -> Level | None:
    return params.level(raw)


def _codes(raw) -> list[str]:
    return params.text_list(raw, "lock") or []


def _save(fs, folder: str, n: int) -> str:
    name = secure_filename(fs.filename or "") or f"upload{n}"
    path = Path(folder) / str(n) / name  # a folder per upload: messages name the file as the user did
    path.parent.mkdir(exist_ok=True)
    fs.save(path)
    return str(path)


def _upload(name: str, folder: str) -> str | None:
    fs = request.files.get(name)
    return _save(fs, folder, len(name)) if fs is not None else None
