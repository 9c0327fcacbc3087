"""gzip for the web app: pages and JSON answers (`gzip_response`, used by the map, board and
dashboard blueprints), and the static files (`init_app`).

Static files (vendored Leaflet and plugins, our own JS) are served gzip-compressed and cacheable.

Leaflet, jQuery, MarkerCluster, awesome-markers and our scripts are about 0.9 MB as files and
about 0.25 MB gzipped; on a slow government network that is the difference that shows. Each file
is compressed once (at level 9) and kept in memory, keyed by path, size and mtime, so a changed file
is compressed again. Font files (WOFF2) and images are already compressed and pass through.
Vendored files get a day of browser caching; conditional requests (ETag / 304) work as before.
"""

from __future__ import annotations

import gzip
import os
import threading

from flask import Flask, Response, request

GZIP_MIN_BYTES = 1_400
GZIP_LEVEL = 3  # pages: 5,000 grids, 8.1 MB -> 1.9 MB in 0.08 s (level 5: 1.7 MB in 0.12 s)
GZIP_TYPES = frozenset({"text/html", "application/json", "application/geo+json"})
COMPRESSIBLE = frozenset({"application/javascript", "text/javascript", "text/css", "image/svg+xml",
                          "application/json", "text/plain"})
MIN_BYTES = 1_024
VENDOR_MAX_AGE_S = 86_400
_cache: dict[tuple[str, int, int], bytes] = {}
_lock = threading.Lock()


def init_app(app: Flask) -> None:
    """Compress the app's static responses for clients that accept gzip."""
    static_dir = app.static_folder

    @app.after_request
    def _static_gzip(response: Response) -> Response:
        if request.endpoint != "static" or static_dir is None:
            return response
        filename = (request.view_args or {}).get("filename", "")
        if filename.startswith("vendor/") and response.status_code in (200, 304):
            response.cache_control.no_cache = None  # Flask's default for files: revalidate every time
            response.cache_control.public = True
            response.cache_control.max_age = VENDOR_MAX_AGE_S
        if (response.status_code != 200 or response.mimetype not in COMPRESSIBLE
                or "gzip" not in request.accept_encodings or "Content-Encoding" in response.headers):
            return response
        path = os.path.realpath(os.path.join(static_dir, filename))
        if not path.startswith(os.path.realpath(static_dir) + os.sep):
            return response
        try:
            st = os.stat(path)
        except OSError:
            return response
        if st.st_size < MIN_BYTES:
            return response
        packed = compressed(path, st.st_size, st.st_mtime_ns)
        response.vary.add("Accept-Encoding")
        held = response.response
        response.direct_passthrough = False
        response.set_data(packed)
        if hasattr(held, "close"):
            held.close()  # the file send_file opened
        response.headers["Content-Encoding"] = "gzip"
        if response.headers.get("ETag"):
            response.set_etag(response.get_etag()[0] + "-gz")
        return response


def gzip_response(response: Response) -> Response:
    """gzip a page or JSON answer when the client accepts it and it is worth it (in place)."""
    if (response.status_code != 200 or response.direct_passthrough or response.is_streamed
            or response.mimetype not in GZIP_TYPES or "Content-Encoding" in response.headers
            or "gzip" not in request.accept_encodings):
        return response
    response.vary.add("Accept-Encoding")
    data = response.get_data()
    if len(data) < GZIP_MIN_BYTES:
        return response
    response.set_data(gzip.compress(data, GZIP_LEVEL, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response


def compressed(path: str, size: int, mtime_ns: int) -> bytes:
    """The gzip of a file, made once per version of the file."""
    key = (path, size, mtime_ns)
    data = _cache.get(key)
    if data is None:
        with open(path, "rb") as fh:
            data = gzip.compress(fh.read(), 9, mtime=0)
        with _lock:
            for old in [k for k in _cache if k[0] == path]:
                del _cache[old]
            _cache[key] = data
    return data
