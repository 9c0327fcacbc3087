"""Building blocks of the REST API's OpenAPI 3.0 document: schemas and operation helpers.

Each blueprint has its own section module beside this one (registry.py, incidents.py,
open311.py, ...) exporting PATHS and SCHEMAS; __init__.py merges them.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
GEOJSON = "application/geo+json"
ERROR_TEXT = {400: "bad request", 401: "no valid login or API token", 403: "this role may not do this",
              404: "not found", 409: "not allowed in the current state, or stale version", 413: "body over 1 MB",
              422: "invalid input (the message names the field), or a number too large for the database", 429: "too many anonymous reports",
              503: "the database cannot be reached"}
BEARER = [{"bearerAuth": []}]
OPTIONAL_BEARER = [{}, {"bearerAuth": []}]


def ref(name: str) -> dict[str, str]:
    """A reference to a schema under components/schemas."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema, or null."""
    return {**schema, "nullable": True}


def obj(required: list[str] | None = None, **props: Any) -> dict[str, Any]:
    """An object schema with these properties (others allowed)."""
    out: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    return out


def array(items: dict[str, Any]) -> dict[str, Any]:
    """An array of `items`."""
    return {"type": "array", "items": items}


STR, INT, NUM, BOOL = {"type": "string"}, {"type": "integer"}, {"type": "number"}, {"type": "boolean"}
TIME = {"type": "string", "format": "date-time"}


def ok(schema: dict[str, Any], media: str = JSON, description: str = "OK") -> dict[str, Any]:
    """A success response with a body."""
    return {"description": description, "content": {media: {"schema": schema}}}


def errors(*codes: int, schema: str = "Error") -> dict[str, Any]:
    """Error responses (JSON `{status, title, detail}`), 503 always included."""
    return {str(c): {"description": ERROR_TEXT[c], "content": {JSON: {"schema": ref(schema)}}}
            for c in sorted({*codes, 503})}


def query(name: str, schema: dict[str, Any] | None = None, description: str = "", required: bool = False) -> dict:
    """A query parameter."""
    out = {"name": name, "in": "query", "required": required, "schema": schema or STR}
    if description:
        out["description"] = description
    return out


def path(name: str, schema: dict[str, Any] | None = None) -> dict:
    """A path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema or STR}


def op(summary: str, op_id: str, responses: dict[str, Any], *, params: list | None = None,
       body: dict[str, Any] | None = None, security: list | None = None, tag: str = "") -> dict[str, Any]:
    """One operation."""
    out: dict[str, Any] = {"summary": summary, "operationId": op_id, "responses": responses}
    if tag:
        out["tags"] = [tag]
    if params:
        out["parameters"] = params
    if body is not None:
        out["requestBody"] = body
    if security is not None:
        out["security"] = security
    return out


ALTERNATIVE = "x-alternative-content"


def one_media_type(doc: dict[str, Any]) -> dict[str, Any]:
    """Leave each request body one media type (its first) in `content`; the others move to
    `x-alternative-content` (same shape as `content`) and are named in the body's description.

    The server still accepts every one of them. But client generators do not cope with a choice:
    openapi-python-client 0.29 writes `body: X | Unset` without importing Unset (NameError on
    import) and dispatches on isinstance of one class; openapi-generator sends only the first.
    A vendor extension keeps the alternatives machine-readable and out of their way.
    """
    for item in doc["paths"].values():
        for operation in item.values():
            body = operation.get("requestBody") if isinstance(operation, dict) else None
            if not body or len(body.get("content", {})) < 2:
                continue
            first, *rest = body["content"]
            body[ALTERNATIVE] = {m: body["content"].pop(m) for m in rest}
            note = f"也接受 Also accepted: {', '.join(rest)} (the same fields)."
            body["description"] = f"{body['description']} {note}" if body.get("description") else note
            assert list(body["content"]) == [first]
    return doc


def json_body(schema: dict[str, Any], required: bool = True, form: bool = False) -> dict[str, Any]:
    """A JSON request body (optionally also accepted form-encoded)."""
    content = {JSON: {"schema": schema}}
    if form:
        content["application/x-www-form-urlencoded"] = {"schema": schema}
    return {"required": required, "content": content}


GEOMETRY = obj(["type"], type=STR, coordinates=array({}))
SCHEMAS: dict[str, Any] = {
    "Error": obj(["status", "title", "detail"], status=INT, title=STR, detail=STR),
    "Geometry": GEOMETRY,
    "Feature": obj(["type", "geometry", "properties"], type={"type": "string", "enum": ["Feature"]},
                   id={"oneOf": [STR, INT]}, geometry=nullable(ref("Geometry")), properties=nullable(obj())),
    "FeatureCollection": obj(["type", "features"], type={"type": "string", "enum": ["FeatureCollection"]},
                             features=array(ref("Feature"))),
}
