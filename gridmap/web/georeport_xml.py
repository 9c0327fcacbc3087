"""GeoReport v2 XML, shaped as the spec's examples: <services><service>…, <service_requests><request>…,
<errors><error>…, <discovery>…<endpoints><endpoint>…<formats><format>.

The same dicts and lists the JSON answers carry are written element by element: None and ""
become empty elements, booleans `true`/`false`, lists one child per item (named by LIST_ITEMS).
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

from flask import Response

XML = "text/xml"
# The element name of one item of a list, by the list's element name.
LIST_ITEMS = {"services": "service", "service_requests": "request", "errors": "error", "endpoints": "endpoint",
              "formats": "format", "attributes": "attribute", "values": "value",
              "service_request_updates": "request_update"}
# Characters XML 1.0 cannot carry at all (a description may hold them): dropped, not escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def to_xml(root: str, value: Any) -> bytes:
    """`value` (a list, or a dict) as the XML document <root>…</root>, UTF-8 with its declaration."""
    element = ET.Element(root)
    _fill(element, root, value)
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="utf-8", xml_declaration=False)


def xml_response(root: str, value: Any, status: int = 200, headers: dict | None = None) -> Response:
    """A Flask response carrying to_xml(root, value)."""
    return Response(to_xml(root, value), status=status, headers=headers, content_type=f"{XML}; charset=utf-8")


def _fill(element: ET.Element, name: str, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), key, item)
    elif isinstance(value, (list, tuple)):
        child = LIST_ITEMS.get(name, "item")
        for item in value:
            _fill(ET.SubElement(element, child), child, item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = _NOT_XML.sub("", str(value))
