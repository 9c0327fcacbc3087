"""Shared fixtures: hand-drawn units (three squares with shared edges), stores on both backends."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
from pathlib import Path

import pytest

from gridmap.registry.model import Level
from gridmap.registry.validate import ImportSpec
from gridmap.services import Services
from gridmap.settings import Settings

from . import browser as _browser
from . import hashcache, store_templates
from .pg_server import PostgresServer, find_bindir
from .slowguard import guard_subprocesses, set_current

# Whole modules that start a fuzzer or a Dask cluster in every test.
SLOW_MODULES = {"test_fuzz", "test_dask"}


def pytest_configure(config):
    hashcache.install()  # one real scrypt per distinct password, not per user and login (tests/hashcache.py)
    guard_subprocesses()  # an unmarked test that starts a Python/gridmap/Chromium process fails (tests/slowguard.py)


def pytest_collection_modifyitems(config, items):
    """`slow`: every PostGIS test and every test of SLOW_MODULES (the browser, live-server and
    subprocess helpers check their callers at run time: tests/slowguard.py)."""
    for item in items:
        if item.get_closest_marker("postgis") or item.module.__name__.rsplit(".", 1)[-1] in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


def pytest_runtest_teardown(item, nextitem):
    """The shared Chromium of a test module (tests/browser.py) closes after the module's last test."""
    if nextitem is None or nextitem.module is not item.module:
        _browser.close_shared()


@pytest.fixture(autouse=True)
def _slow_guard(request):
    set_current(request.node)
    yield
    set_current(None)

COUNTY = "110101"
TOWN = COUNTY + "001"
ZONE = TOWN + "001"
GRIDS = [ZONE + f"{i:03d}" for i in (1, 2, 3)]
# Three 0.1° squares side by side: G1 [116.0,116.1], G2 [116.1,116.2], G3 [116.2,116.3] x [39.0,39.1]
BOX = (116.0, 39.0, 116.3, 39.1)


def square(x0, y0, x1, y1):
    return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}


def fc(features):
    return {"type": "FeatureCollection", "features": features}


def feat(geometry, **props):
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_json(path: Path, doc) -> Path:
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def sample_dir(tmp_path: Path) -> Path:
    """county/town/zone/grid GeoJSON files and a staff CSV in a fresh folder."""
    d = tmp_path / "sample"
    d.mkdir()
    write_json(d / "county.geojson", fc([feat(square(*BOX), code=COUNTY, name="东城区", households=300, population=900)]))
    write_json(d / "towns.geojson", fc([feat(square(*BOX), code=TOWN, name="东华门街道", parent_code=COUNTY)]))
    write_json(d / "zones.geojson", fc([feat(square(*BOX), code=ZONE, name="第一管区", parent_code=TOWN)]))
    write_json(d / "grids.geojson", fc([
        feat(square(round(116.0 + 0.1 * i, 6), 39.0, round(116.1 + 0.1 * i, 6), 39.1), code=code, name=f"第{i + 1}网格",
             parent_code=ZONE, households=100, population=300)
        for i, code in enumerate(GRIDS)
    ]))
    (d / "staff.csv").write_text(
        "person_id,name,phone,unit_code,role\n"
        f"P1,张伟,13800000001,{GRIDS[0]},leader\n"
        f"P2,李娜,13800000002,{GRIDS[0]},instructor\n"
        f"P3,王芳,13800000003,{GRIDS[0]},worker\n"
        f"P2,李娜,13800000002,{GRIDS[1]},instructor\n"
        f"P4,刘洋,13800000004,{GRIDS[1]},网格长\n"
        f"P5,陈静,13800000005,{GRIDS[1]},worker\n"
        f"P6,杨磊,13800000006,{GRIDS[2]},leader\n"
        f"P7,赵敏,13800000007,{ZONE},zone_secretary\n"
        f"P8,周杰,13800000008,{ZONE},zone_director\n",
        encoding="utf-8",
    )
    return d


# -- PostgreSQL + PostGIS ----------------------------------------------------------------------
_counter = itertools.count()


@pytest.fixture(scope="session")
def pg_server():
    """A PostGIS server started for this test run; skipped (or failed in CI) when not installed."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("REQUIRE_POSTGIS_TESTS") == "required":
            pytest.fail("PostgreSQL + PostGIS are not installed but REQUIRE_POSTGIS_TESTS=required")
        pytest.skip("PostgreSQL + PostGIS not installed (apt-get install postgresql-15-postgis-3)")
    server = PostgresServer(bindir).start()
    yield server
    server.stop()


# Fixtures that fill `db_url` with a copy of a template (tests/store_templates.py): with one of them the
# PostGIS database is created by the copy, not beforehand.
TEMPLATE_FIXTURES = {"services", "empty_services", "loaded"}


@pytest.fixture(params=["sqlite", pytest.param("postgis", marks=pytest.mark.postgis)])
def db_url(request, tmp_path: Path) -> str:
    """A fresh, empty store location on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "gridmap.db")
    server = request.getfixturevalue("pg_server")
    name = f"t{os.getpid()}_{next(_counter)}"
    if TEMPLATE_FIXTURES & set(request.fixturenames):
        # the template fixture creates it as a copy (CREATE DATABASE ... TEMPLATE): making an empty one
        # first and dropping it costs ~0.4 s per PostGIS test for nothing
        return server.url(name)
    return server.create_database(name)


def load_sample(services: Services, d: Path) -> Services:
    for level, fname, parent in [("county", "county.geojson", None), ("town", "towns.geojson", "parent_code"),
                                 ("zone", "zones.geojson", "parent_code"), ("grid", "grids.geojson", "parent_code")]:
        services.import_units(d / fname, ImportSpec(Level(level), parent_field=parent))
    services.import_staff(d / "staff.csv")
    return services


def sample_app(tmp_path: Path, sample_dir: Path, name: str = "s.db"):
    """The web app over a SQLite store holding the sample hierarchy and staff (close its store after): a
    copy of one built by the same calls once per process."""
    from gridmap.app import create_app

    return create_app(sample_store(Settings(db=str(tmp_path / name)), sample_dir))


def sample_store(settings: Settings, sample_dir: Path) -> Settings:
    """Make the new SQLite store of `settings` what Services.open(settings, create=True) and load_sample
    would build (a copy of the sample template); return `settings`."""
    store_templates.copy_into(settings.db, sample_kind(sample_dir), lambda s: load_sample(s, sample_dir))
    return settings


def sample_kind(d: Path) -> str:
    """The template name of the sample in folder `d`: its files' digest, so a test that changed them
    (tests/test_jurisdiction.py's wider county) gets a template of its own, never the plain one."""
    h = hashlib.sha256()
    for path in sorted(d.iterdir()):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return f"sample_{h.hexdigest()[:16]}"


def _from_template(request, db_url: str, kind: str, sample_dir: Path | None = None) -> None:
    """Fill the empty store at db_url with a copy of a template built once per process (tests/store_templates.py)."""
    pg = None if "://" not in db_url else request.getfixturevalue("pg_server")
    store_templates.copy_into(db_url, kind, lambda s: load_sample(s, sample_dir), pg_server=pg)


@pytest.fixture
def services(request, db_url: str, sample_dir: Path) -> Services:
    """Services over a store (both backends) holding the sample hierarchy and staff (a copy of one built
    by the same calls once per process)."""
    _from_template(request, db_url, sample_kind(sample_dir), sample_dir)
    s = Services.open(Settings(db=db_url), create=True)
    yield s
    s.store.close()


@pytest.fixture
def services_app(services: Services):
    """The web app over the `services` store (both backends)."""
    from gridmap.app import create_app

    app = create_app(Settings(db=services.settings.db))
    yield app
    app.extensions["gridmap"].store.close()


@pytest.fixture
def empty_services(request, db_url: str) -> Services:
    """Services over a migrated store with nothing in it (a copy of one migrated once per process)."""
    _from_template(request, db_url, "empty")
    s = Services.open(Settings(db=db_url), create=True)
    yield s
    s.store.close()
