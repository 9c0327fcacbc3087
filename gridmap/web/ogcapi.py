"""Blueprint "ogcapi": OGC API – Features, Part 1 Core (GeoJSON), under /ogcapi.

JSON by default (OWSLib sends no Accept header and no `f=`); `f=html` (or a browser's Accept
header) gives a plain HTML page. Errors are OGC exception documents `{code, description}`
with 400 for a bad parameter and 404 for an unknown collection or feature. Paging is
`limit`/`offset`, pushed into SQL (store/features.py), with `next`/`prev` links.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import Blueprint, Response, request, url_for

from ..errors import GridmapError, InputError, NotFound
from ..i18n import tr
from ..ogc import collections as colls
from ..ogc import crs_param, html
from ..ogc.openapi import CONFORMANCE, GEOJSON, OPENAPI_JSON, document
from ..ogc.params import CRS84, BadParameter, Interval, parse_bbox, parse_datetime, parse_int, parse_limit, plan_day
from ..store import features as fq
from . import services
from .compress import gzip_response

bp = Blueprint("ogcapi", __name__)
ITEM_PARAMS = {"f", "bbox", "bbox-crs", "limit", "offset", "datetime", "crs"}


@bp.errorhandler(GridmapError)
def _error(exc: GridmapError):
    """An OGC exception document `{code, description}`; a page for those who asked for HTML (f=html).

    Bad input is a 400, as OGC API - Features answers it (also when the app-wide request guard,
    web/security.py, refuses a NUL or a lone surrogate before the view runs)."""
    status = 400 if isinstance(exc, InputError) else exc.http_status
    code = {400: "InvalidParameterValue", 404: "NotFound", 503: "ServiceUnavailable"}.get(status, type(exc).__name__)
    if _wants_html(lenient=True):
        zh = {400: "参数错误", 404: "未找到", 503: "服务不可用"}.get(status, "错误")
        page = html.render({"title": f"{zh} / {status} {code}", "description": str(exc)}, code)
        return Response(page, status=status, mimetype="text/html")
    return _json({"code": code, "description": str(exc)}, "application/json", status)


@bp.get("", strict_slashes=False)
@bp.get("/")
def landing():
    _check_params({"f"})
    return _respond({
        "title": "gridmap OGC API – Features",
        "description": "The grid hierarchy (county → town → zone → grid → micro-grid) and public incidents.",
        "links": [
            *_self_links("ogcapi.landing"),
            _link(url_for("ogcapi.api", _external=True), "service-desc", OPENAPI_JSON, "The OpenAPI 3.0 document"),
            _link(url_for("ogcapi.api", f="html", _external=True), "service-doc", "text/html", "API documentation"),
            _link(url_for("ogcapi.conformance", _external=True), "conformance", "application/json",
                  "Conformance classes"),
            _link(url_for("ogcapi.collections", _external=True), "data", "application/json", "Collections"),
        ],
    }, "gridmap OGC API")


@bp.get("/conformance")
def conformance():
    _check_params({"f"})
    return _respond({"conformsTo": CONFORMANCE, "links": _self_links("ogcapi.conformance")}, "Conformance")


@bp.get("/api")
def api():
    _check_params({"f"})
    doc = document(url_for("ogcapi.landing", _external=True).rstrip("/"))
    if _wants_html():
        return _respond({"title": doc["info"]["title"], "description": doc["info"]["description"],
                         "links": [_link(url_for("ogcapi.api", _external=True), "service-desc", OPENAPI_JSON)],
                         "paths": sorted(doc["paths"])}, "API")
    return _json(doc, OPENAPI_JSON)


@bp.get("/collections")
def collections():
    _check_params({"f"})
    store = services().store
    return _respond({"links": _self_links("ogcapi.collections"),
                     "collections": [_collection(store, c) for c in colls.collections(store)]}, "Collections")


@bp.get("/collections/<collection_id>")
def collection(collection_id: str):
    _check_params({"f"})
    store = services().store
    return _respond(_collection(store, colls.find(store, collection_id)), collection_id)


@bp.get("/collections/<collection_id>/queryables")
def queryables(collection_id: str):
    _check_params({"f"})
    c = colls.find(services().store, collection_id)
    doc = {"$schema": "https://json-schema.org/draft/2019-09/schema", "type": "object", "title": c.title,
           "$id": url_for("ogcapi.queryables", collection_id=c.id, _external=True),
           "properties": {k: {"type": t, "title": k} for k, t in c.queryables.items()}}
    return _respond(doc, f"{c.id} queryables", media="application/schema+json")


@bp.get("/collections/<collection_id>/items")
def items(collection_id: str):
    store = services().store
    c = colls.find(store, collection_id)
    _check_params(ITEM_PARAMS | set(c.queryables))
    args = request.args
    out_crs = crs_param.parse_crs(args.get("crs"))
    bbox = parse_bbox(args.get("bbox"), crs_param.lat_first(crs_param.parse_crs(args.get("bbox-crs"), "bbox-crs")))
    limit = parse_limit(args.get("limit"))
    offset = parse_int(args.get("offset"), "offset", 0, 0, 2**53)
    when = parse_datetime(args.get("datetime"), _tz())
    filters = {k: args[k] for k in c.queryables if k in args}
    if c.level is None:
        page = fq.incidents_page(store, bbox, offset, limit, when.start if when else None,
                                 when.end if when else None, filters)
    else:
        plan = _plan_for(when) if when else store.current_plan()
        page = fq.Page([], 0) if plan is None else store.units_page(c.level, bbox, offset, limit, plan, filters)
    tz = _tz()
    doc = {"type": "FeatureCollection", "numberMatched": page.matched, "numberReturned": len(page.items),
           "timeStamp": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
           "links": _paging_links(c.id, offset, limit, len(page.items), page.matched)}
    if _wants_html():
        return _respond(doc | {"features": [colls.to_feature(i, tz, out_crs) for i in page.items]}, c.title)
    # The features are spliced in as text: GEOS writes the geometry (see colls.features_json).
    head = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
    # A page of 1,000 grids is ~5 MB of JSON, ~1 MB gzipped: worth it for GIS clients that ask.
    return gzip_response(Response(f'{head[:-1]},"features":{colls.features_json(page.items, tz, out_crs)}}}',
                                  content_type=GEOJSON, headers=crs_param.content_crs(out_crs)))


@bp.get("/collections/<collection_id>/items/<feature_id>")
def item(collection_id: str, feature_id: str):
    store = services().store
    c = colls.find(store, collection_id)
    _check_params({"f", "datetime", "crs"})
    out_crs = crs_param.parse_crs(request.args.get("crs"))
    when = parse_datetime(request.args.get("datetime"), _tz())
    missing = NotFound(tr("no feature %(feature_id)r in collection %(id)r", feature_id=feature_id, id=c.id))
    if c.level is None:
        if not (feature_id.isascii() and feature_id.isdigit()) or len(feature_id) > 18:  # "²".isdigit() too
            raise missing
        page = fq.incidents_page(store, limit=1, ids=[int(feature_id)])
    else:
        plan = _plan_for(when) if when else store.current_plan()
        page = fq.Page([], 0) if plan is None else store.units_page(c.level, None, 0, 1, plan, {"code": feature_id})
    if not page.items:
        raise missing
    doc = colls.to_feature(page.items[0], _tz(), out_crs)
    here = url_for("ogcapi.item", collection_id=c.id, feature_id=feature_id, _external=True)
    doc["links"] = [_link(here, "self", GEOJSON), _link(here + "?f=html", "alternate", "text/html"),
                    _link(url_for("ogcapi.collection", collection_id=c.id, _external=True), "collection",
                          "application/json")]
    response = _respond(doc, f"{c.id} {feature_id}", media=GEOJSON)
    response.headers.update(crs_param.content_crs(out_crs))
    return response


@bp.route("/", defaults={"rest": ""}, methods=["POST", "PUT", "PATCH", "DELETE"])
@bp.route("/<path:rest>", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
def unknown(rest: str):
    """Unknown paths, and any method but GET on known ones (this rule matches those too), as JSON."""
    if request.method not in ("GET", "HEAD"):
        response = _json({"code": "MethodNotAllowed", "description": "the OGC API here is read-only: use GET"},
                         "application/json", 405)
        response.headers["Allow"] = "GET, HEAD"
        return response
    raise NotFound(tr("no OGC API resource at /ogcapi/%(rest)s", rest=rest))


# -- helpers ------------------------------------------------------------------------------------
def _tz() -> dt.tzinfo:
    return services().incidents.tz


def _plan_for(when: Interval) -> int | None:
    """The grid plan in force on the day a datetime filter names (None if none was yet)."""
    return services().plan_at(plan_day(when, _tz(), dt.datetime.now(_tz()).date()))


def _check_params(allowed: set[str]) -> None:
    unknown = sorted(set(request.args) - allowed)
    if unknown:
        raise BadParameter(unknown[0], tr("unknown query parameter; this resource takes %(allowed)s", allowed=", ".join(sorted(allowed))))
    f = request.args.get("f")
    if f is not None and f not in ("json", "html"):
        raise BadParameter("f", tr("'json' or 'html', got %(f)r", f=f))


def _wants_html(lenient: bool = False) -> bool:
    """f=html, or a browser's Accept header. `lenient`: also f=HTML and the like (for error pages)."""
    f = request.args.get("f")
    if f is not None:
        return (f.strip().lower() if lenient else f) == "html"
    best = request.accept_mimetypes.best_match(["application/json", "application/geo+json", "text/html"])
    return best == "text/html" and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]


def _respond(doc: dict[str, Any], title: str, media: str = "application/json") -> Response:
    if _wants_html():
        return Response(html.render(doc, title), mimetype="text/html")
    return _json(doc, media)


def _json(doc: Any, media: str, status: int = 200) -> Response:
    # json.dumps without Flask's key sorting: a 1,000-grid page is ~5 MB.
    return Response(json.dumps(doc, ensure_ascii=False, separators=(",", ":")), status=status, content_type=media)


def _link(href: str, rel: str, media: str | None = None, title: str | None = None) -> dict[str, str]:
    out = {"href": href, "rel": rel}
    if media:
        out["type"] = media
    if title:
        out["title"] = title
    return out


def _self_links(endpoint: str, **values) -> list[dict[str, str]]:
    html_ = _wants_html()
    return [_link(url_for(endpoint, **values, _external=True), "alternate" if html_ else "self", "application/json"),
            _link(url_for(endpoint, **values, f="html", _external=True), "self" if html_ else "alternate", "text/html")]


def _collection(store, c: colls.Collection) -> dict[str, Any]:
    items_url = url_for("ogcapi.items", collection_id=c.id, _external=True)
    return {"id": c.id, "title": c.title, "description": c.description, "itemType": "feature",
            # Part 2 (CRS by reference): `crs=` on items and features, Content-Crs on the answers
            "crs": list(crs_param.SUPPORTED), "storageCrs": CRS84, "extent": colls.extent(store, c, _tz()),
            "links": [*_self_links("ogcapi.collection", collection_id=c.id),
                      _link(items_url, "items", GEOJSON, f"{c.title}: features"),
                      _link(items_url + "?f=html", "items", "text/html", f"{c.title}: features (HTML)"),
                      # the registered relation type, and its short form (which Part 3 and clients use)
                      *[_link(url_for("ogcapi.queryables", collection_id=c.id, _external=True), rel,
                              "application/schema+json", "Queryables")
                        for rel in ("http://www.opengis.net/def/rel/ogc/1.0/queryables", "queryables")]]}


def _paging_links(cid: str, offset: int, limit: int, returned: int, matched: int) -> list[dict[str, str]]:
    """self, alternate, and next/prev carrying every other parameter of this request."""
    keep = {k: v for k, v in request.args.items() if k not in ("offset", "limit", "f")}
    media = "text/html" if _wants_html() else GEOJSON

    def href(off: int, **extra) -> str:
        return url_for("ogcapi.items", collection_id=cid, _external=True, **keep, limit=limit, offset=off, **extra)

    links = [_link(href(offset), "self", media),
             _link(href(offset, f="html" if media == GEOJSON else "json"), "alternate",
                   "text/html" if media == GEOJSON else GEOJSON)]
    if offset + returned < matched:
        links.append(_link(href(offset + limit), "next", media, "next page"))
    if offset > 0:
        links.append(_link(href(max(0, offset - limit)), "prev", media, "previous page"))
    return links
