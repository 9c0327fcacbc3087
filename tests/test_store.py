"""Store: both backends, transactions, migrations."""

from __future__ import annotations

import pytest
import shapely

from gridmap.errors import Conflict, NotFound
from gridmap.registry.model import Level, Unit
from gridmap.store import open_store

from .conftest import GRIDS, ZONE


def test_sample_loaded(services):
    info = services.store.info()
    from gridmap.store.sql import HEAD_REVISION

    assert info.schema_revision == HEAD_REVISION
    assert info.plan == 1
    assert info.counts["grid"] == 3 and info.counts["zone"] == 1 and info.counts["county"] == 1
    assert info.counts["people"] == 8


def test_unit_round_trip_keeps_geometry_and_attributes(services):
    g = services.unit(GRIDS[1])
    assert g.level == Level.grid and g.parent_code == ZONE and g.name == "第2网格"
    assert g.households == 100 and g.population == 300
    assert g.valid_from == services.today() and g.valid_to is None  # the jurisdiction's date, not the machine's
    assert shapely.hausdorff_distance(g.geometry, shapely.box(116.1, 39.0, 116.2, 39.1)) < 1e-12
    # 0.1° x 0.1° at 39°N: about 8.65 km x 11.1 km; geodesic, in metres
    assert 95e6 < g.area_m2 < 97e6
    assert 39_000 < g.perimeter_m < 40_000


def test_duplicate_code_rolls_back_whole_batch(services):
    before = services.store.info().counts
    units = [Unit("999", "新", Level.grid, shapely.box(0, 0, 1, 1)), Unit(GRIDS[0], "dup", Level.grid, shapely.box(0, 0, 1, 1))]
    with pytest.raises(Conflict):
        services.store.add_units(units)
    assert services.store.info().counts == before
    with pytest.raises(NotFound):
        services.store.unit("999")


def test_roles_and_people(services):
    roles = services.store.roles(GRIDS[0])
    assert sorted(r.role for r in roles) == ["instructor", "leader", "worker"]
    # one person serves two grids
    assert {r.unit_code for r in services.store.roles() if r.person_id == "P2"} == {GRIDS[0], GRIDS[1]}


def test_open_missing_sqlite_without_create(tmp_path):
    with pytest.raises(NotFound, match="gridmap init"):
        open_store(tmp_path / "nope.db", create=False)


def test_bad_url_is_refused():
    with pytest.raises(ValueError, match="unsupported database URL"):
        open_store("mysql://x/y")


@pytest.mark.postgis
def test_postgis_geometry_column_agrees(pg_server):
    url = pg_server.create_database("covers_check")
    s = open_store(url)
    s.add_units([Unit(c, c, Level.grid, shapely.box(116 + 0.1 * i, 39, 116.1 + 0.1 * i, 39.1)) for i, c in enumerate(GRIDS)])
    # a point on the shared edge of grids 1 and 2: ST_Covers returns both
    assert s.covering_sql(116.1, 39.05) == GRIDS[:2]
    assert s.covering_sql(116.25, 39.05) == [GRIDS[2]]
    s.close()


@pytest.mark.filterwarnings("ignore:Did not recognize type 'geometry'")
def test_migrations_build_exactly_the_declared_schema(empty_services):
    """Alembic's autogenerate finds no difference between the migrated database and schema.py."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from gridmap.store.schema import metadata

    with empty_services.store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    # PostGIS adds its own tables (spatial_ref_sys) and our generated geom column + GiST index
    diff = [d for d in diff if not _postgis_extra(d)]
    assert diff == []
    # and 0014 left nothing of 0012's trigram indexes (no FTS5 tables, no pg_trgm index)
    with empty_services.store.engine.connect() as conn:
        if empty_services.store.backend == "sqlite":
            names = set(conn.exec_driver_sql("SELECT name FROM sqlite_master").scalars())
        else:
            names = set(conn.exec_driver_sql("SELECT indexname FROM pg_indexes").scalars())
    assert not {n for n in names if "fts" in n or "trgm" in n} and "ix_incidents_text" in names


def _postgis_extra(d) -> bool:
    text = repr(d)
    return "spatial_ref_sys" in text or "ix_units_geom" in text or "'geom'" in text
