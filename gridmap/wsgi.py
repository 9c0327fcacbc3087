"""The WSGI entry point for gunicorn and other servers: ``gunicorn 'gridmap.wsgi:app'``.

Settings come from gridmap.toml and GRIDMAP_* variables (see README). Each worker process builds
its map caches in a background thread as it starts, so the first visitor of /map does not wait
for them (about 1.8 s at 5,000 grids).
"""

from __future__ import annotations

import sys
import threading

from .app import create_app
from .errors import GridmapError
from .web.maps_pages import warm_up

try:
    app = create_app()
except GridmapError as exc:  # a bad setting, a corrupt or unreachable store: one clear line, no traceback
    print(f"gridmap: cannot start: {exc}", file=sys.stderr, flush=True)
    raise SystemExit(exc.exit_code) from None


def _warm() -> None:
    try:
        print(f"gridmap: map caches ready in {warm_up(app):.1f} s", file=sys.stderr, flush=True)
    except Exception:  # an empty store, a database not up yet: the first request builds them instead
        app.logger.warning("map caches not warmed up", exc_info=True)


threading.Thread(target=_warm, name="gridmap-warm-up", daemon=True).start()
