"""Blueprint "openapi": the REST API's OpenAPI 3.0 document at /api/v1/openapi.json.

One section module per blueprint (registry, incidents, open311, ...), each exporting PATHS
and SCHEMAS. To document a new /api/v1 blueprint, add a module here and list it in SECTIONS;
tests/test_openapi.py fails while any /api/v1 rule is missing from the document (or documented
but not served). The OGC API has its own document at /ogcapi/api.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Blueprint, jsonify, request

from .. import services
from . import analysis, common, incidents, open311, plans, registry

SECTIONS = [registry, incidents, open311, plans, analysis]
bp = Blueprint("openapi", __name__)


def document(server_url: str = "/", categories: list[str] | None = None) -> dict[str, Any]:
    """The whole document, with the server at `server_url` (the site root).

    `categories`: the incident category codes this server accepts (its taxonomy), listed as the
    allowed values of a new report's `category` and an Open311 request's `service_code`.
    """
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = dict(common.SCHEMAS)
    for section in SECTIONS:
        for key in section.PATHS:
            if key in paths:
                raise ValueError(f"path {key} documented twice ({section.__name__})")
        for name in section.SCHEMAS:
            if name in schemas:
                raise ValueError(f"schema {name} defined twice ({section.__name__})")
        paths.update(section.PATHS)
        schemas.update(section.SCHEMAS)
    doc = copy.deepcopy({
        "openapi": "3.0.3",
        "info": {"title": "gridmap REST API", "version": "1",
                 "description": "Grid registry, incidents (the closed loop) and Open311 GeoReport v2. Errors are JSON "
                                "with their HTTP status. Programs authenticate with `Authorization: Bearer TOKEN` "
                                "(`gridmap users token NAME`)."},
        "servers": [{"url": server_url.rstrip("/") or "/"}],
        "tags": [{"name": s.TAG} for s in SECTIONS],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
    })
    if categories:  # new dicts, not edits: the sections share their small schemas ({"type": "string"})
        doc["components"]["schemas"]["NewIncident"]["properties"]["category"] = {"type": "string",
                                                                                 "enum": list(categories)}
        form = doc["paths"]["/open311/v2/requests.{fmt}"]["post"]["requestBody"]["content"]
        for media in form.values():
            media["schema"]["properties"] = {**media["schema"]["properties"],
                                             "service_code": {"type": "string", "enum": list(categories)}}
    return common.one_media_type(doc)  # last: what generated clients need (see there)


@bp.get("/openapi.json")
def openapi_json():
    taxonomy = services().incidents.taxonomy
    return jsonify(document(request.host_url, [c.code for c in taxonomy]))
