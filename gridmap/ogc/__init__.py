"""OGC API – Features: collections, parameters, the OpenAPI document and HTML views (web/ogcapi.py serves them)."""
