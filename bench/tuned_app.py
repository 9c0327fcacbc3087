"""gridmap's app with one bench-side change, to measure a suggestion (not part of gridmap).

    BENCH_SQLITE_SYNCHRONOUS=NORMAL gunicorn --pythonpath bench 'tuned_app:create_app()'

Adds `PRAGMA synchronous=<value>` to every new SQLite connection of the store (gridmap sets
WAL + busy_timeout and keeps SQLite's default synchronous=FULL, i.e. an fsync of the WAL on
every commit). In WAL mode NORMAL is still crash-safe for the application; only the last
commits before a power loss / OS crash can be lost. Used by bench_incidents.py --sqlite-normal.
"""

import os

import sqlalchemy as sa

import gridmap


def create_app():
    app = gridmap.create_app()
    value = os.environ.get("BENCH_SQLITE_SYNCHRONOUS", "NORMAL").upper()
    if value not in ("OFF", "NORMAL", "FULL", "EXTRA"):
        raise ValueError(f"BENCH_SQLITE_SYNCHRONOUS: {value!r}")
    store = app.extensions["gridmap"].store
    if store.backend == "sqlite":
        sa.event.listen(store.engine, "connect", lambda conn, _rec: conn.execute(f"PRAGMA synchronous={value}"))
        store.engine.dispose()  # connections opened during create_app get the pragma when reopened
    return app
