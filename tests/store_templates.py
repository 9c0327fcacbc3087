"""Stores built once per test process and copied: the migrated empty store and the sample store
(tests/conftest.py's hierarchy and staff) on both backends.

Migrating a new store runs every Alembic revision (0.1 s of CPU on SQLite, ~1-3 s of wall time on
PostGIS, where each revision is DDL on the server); importing the sample adds four imports and a
staff file. A copy costs milliseconds: SQLite copies the file, PostGIS makes the database with
`CREATE DATABASE ... TEMPLATE`. Each pytest-xdist worker builds its own templates (its own temp dir,
its own PostGIS server), keyed by the jurisdiction's date, since an import stamps today as the
plan's effective date.
"""

from __future__ import annotations

import atexit
import datetime as dt
import shutil
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

from gridmap.services import Services
from gridmap.settings import Settings

_sqlite: dict[tuple[str, dt.date], Path] = {}
_postgis: dict[tuple[int, str, dt.date], str] = {}
_folder: Path | None = None


def _today() -> dt.date:
    return dt.datetime.now(ZoneInfo(Settings().timezone)).date()


def _tmp() -> Path:
    global _folder
    if _folder is None:
        _folder = Path(tempfile.mkdtemp(prefix="gridmap-store-templates-"))
        atexit.register(shutil.rmtree, _folder, True)
    return _folder


def _build(kind: str, fill):
    def build(db: str) -> None:
        s = Services.open(Settings(db=db), create=True)
        try:
            if kind != "empty":
                fill(s)
        finally:
            s.store.close()
    return build


def copy_into(db_url: str, kind: str, fill, pg_server=None) -> None:
    """Make the empty location `db_url` (a SQLite path, or a new PostGIS database on `pg_server`) a copy
    of the `kind` template ("empty": migrated; any other kind, e.g. conftest's "sample_<digest of the
    sample files>": migrated, then `fill(services)`)."""
    copy_built(db_url, kind, _build(kind, fill), pg_server)


def copy_built(db_url: str, kind: str, build, pg_server=None) -> None:
    """Make the empty location `db_url` a copy of the template `kind`, which `build(location)` makes (with
    the stores closed) on the first call of this process for this backend and day."""
    today = _today()
    if pg_server is None:
        key = (kind, today)
        if key not in _sqlite:
            folder = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=_tmp()))
            build(str(folder / "t.db"))
            _sqlite[key] = folder / "t.db"
        template, target = _sqlite[key], Path(db_url)
        for suffix in ("", "-wal", "-shm"):  # a closed store has no WAL left; copy one if SQLite kept it
            src = template.with_name(template.name + suffix)
            if src.exists():
                shutil.copy(src, target.with_name(target.name + suffix))
        return
    import psycopg

    key = (pg_server.port, kind, today)
    if key not in _postgis:
        name = f"tmpl_{kind}_{today:%Y%m%d}"
        build(pg_server.create_database(name))
        _postgis[key] = name
    target = db_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{target}"')  # conftest's db_url leaves it to this copy
        conn.execute(f'CREATE DATABASE "{target}" TEMPLATE "{_postgis[key]}"')
