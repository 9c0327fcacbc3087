"""A Flask app served over real HTTP in a background thread, for end-to-end tests with real clients."""

from __future__ import annotations

import contextlib
import threading
from typing import Iterator

from flask import Flask
from werkzeug.serving import make_server

from .slowguard import assert_slow


@contextlib.contextmanager
def live_server(app: Flask) -> Iterator[str]:
    """Serve `app` on 127.0.0.1 at a free port; yield its base URL ("http://127.0.0.1:PORT")."""
    assert_slow("a live HTTP server")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="gridmap-live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
