"""The `f=html` view of any OGC API document: its links, a table of features, the JSON itself.

All text goes through Jinja's autoescaping (render_template_string escapes by default).
"""

from __future__ import annotations

import json
from typing import Any

from flask import render_template_string

_PAGE = """<!doctype html>
<html lang="zh"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>body{font-family:sans-serif;margin:1em 2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;
padding:2px 6px;text-align:left}pre{background:#f6f6f6;padding:1em;overflow:auto;max-height:30em}</style>
</head><body>
<h1>{{ title }}</h1>
{% if description %}<p>{{ description }}</p>{% endif %}
{% if links %}<h2>Links</h2><ul>
{% for l in links %}<li><a href="{{ l.href }}">{{ l.title or l.rel }}</a> ({{ l.rel }}{% if l.type %}, {{ l.type }}{% endif %})</li>
{% endfor %}</ul>{% endif %}
{% if collections %}<h2>Collections</h2><ul>
{% for c in collections %}<li><a href="{{ c.href }}">{{ c.title }}</a> ({{ c.id }})</li>{% endfor %}</ul>{% endif %}
{% if features is not none %}<h2>Features ({{ features|length }}{% if matched is not none %} of {{ matched }}{% endif %})</h2>
<table><tr><th>id</th>{% for k in columns %}<th>{{ k }}</th>{% endfor %}</tr>
{% for f in features %}<tr><td>{{ f.id }}</td>{% for k in columns %}{% set v = (f.properties or {}).get(k) %}<td>{{ '' if v is none else v }}</td>{% endfor %}</tr>
{% endfor %}</table>{% endif %}
<h2>JSON</h2><pre>{{ text }}</pre>
</body></html>"""


def render(doc: dict[str, Any], title: str) -> str:
    """An HTML page for an OGC API JSON document (landing page, collection, features...)."""
    features = None
    if doc.get("type") == "FeatureCollection":
        features = doc.get("features", [])
    elif doc.get("type") == "Feature":
        features = [doc]
    columns: list[str] = []
    for f in features or []:
        for k in (f.get("properties") or {}):
            if k not in columns:
                columns.append(k)
    collections = [{"id": c["id"], "title": c.get("title", c["id"]),
                    "href": next((lk["href"] for lk in c.get("links", []) if lk["rel"] == "self"), "#")}
                   for c in doc.get("collections", [])]
    if features is not None:  # geometry is in the JSON twin; keep the page light
        text = json.dumps({k: v for k, v in doc.items() if k != "features"}, ensure_ascii=False, indent=2)
    else:
        text = json.dumps(doc, ensure_ascii=False, indent=2)
    return render_template_string(_PAGE, title=doc.get("title") or title, description=doc.get("description"),
                                  links=doc.get("links", []), collections=collections, features=features,
                                  matched=doc.get("numberMatched"), columns=columns[:12], text=text)
