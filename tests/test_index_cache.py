"""The persisted grid index (gridmap/registry/indexcache.py): a hit is read from the folder, a publish or
an edit of the plan's units gives a new key (both backends: migration 0010's triggers), a
broken folder is ignored, removed and rebuilt, concurrent writers leave one good folder."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest
import shapely

from gridmap.incidents.service import IncidentService
from gridmap.incidents.taxonomy import Taxonomy
from gridmap.incidents.workhours import WorkCalendar
from gridmap.registry import indexcache
from gridmap.registry.assign import index_for_assign
from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import GRIDS, load_sample
from .test_assign_fast import POINTS

TZ = ZoneInfo("Asia/Shanghai")
LON = np.array([p[0] for p in POINTS])
LAT = np.array([p[1] for p in POINTS])
EXPECTED = [GRIDS.index(p[2]) if p[2] else -1 for p in POINTS]


@pytest.fixture
def cached(db_url: str, sample_dir: Path, tmp_path: Path) -> Services:
    """Services over the sample store (both backends), its index cache in tmp_path/cache."""
    s = Services.open(Settings(db=db_url, index_cache=str(tmp_path / "cache")), create=True)
    yield load_sample(s, sample_dir)
    s.store.close()


def folders(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []


def from_cache(index) -> bool:
    """True if the index came from the cache's arrays."""
    return index.origin == "cache"


def reopen(s: Services) -> Services:
    return Services.open(s.settings)


def test_hit_reads_the_folder_and_answers_the_same(cached):
    root = Path(cached.settings.index_cache)
    built = cached.index  # first build: written to the cache
    assert not from_cache(built)
    assert len(folders(root)) == 1 and folders(root)[0].startswith(f"p{cached.plan}-r")
    other = reopen(cached)  # another process, say a second app worker
    try:
        hit = other.index
        assert from_cache(hit) and hit._geoms is None  # no GEOS polygon made on load
        assert list(hit.codes) == list(built.codes) and hit.names == built.names and hit.level == built.level
        assert hit.chains == built.chains and [list(c) for c in hit.chains] == [list(c) for c in built.chains]
        for kernel in (True, False):
            assert hit.locate_many(LON, LAT, kernel=kernel).tolist() == EXPECTED
        assert [other.locate(x, y).grid for x, y in zip(LON, LAT)] == [p[2] for p in POINTS]
        assert [other.locate(x, y).candidates for x, y in zip(LON, LAT)] == \
               [cached.locate(x, y).candidates for x, y in zip(LON, LAT)]
        far = other.locate(116.15, 38.995)  # outside: the nearest grid from polygons rebuilt from the arrays
        assert (far.nearest, round(far.distance_m)) == (GRIDS[1], round(cached.locate(116.15, 38.995).distance_m))
    finally:
        other.store.close()
    assert len(folders(root)) == 1


def test_publish_and_edit_change_the_key(cached):
    root = Path(cached.settings.index_cache)
    cached.index
    first = folders(root)
    cached.incidents = IncidentService(cached, Taxonomy.load(), WorkCalendar(), clock=lambda: dt.datetime.now(TZ))
    plans = cached.plans
    draft = plans.create(note="cache test").version
    plans.edit(draft, "split", {"code": GRIDS[0], "parts": 2})
    plans.publish(draft, dt.datetime.now(TZ).date())
    other = reopen(cached)
    try:
        new = other.index
        assert not from_cache(new) and other.plan == draft  # a new plan in force: a miss, then written
        assert len(new) == 4 and len(cached.index_of(1)) == 3  # G1 split in two
        assert any(f.startswith(f"p{draft}-") for f in folders(root)) and set(first) <= set(folders(root))
        # an edit of the units in force (an import with --replace) bumps units_rev: a new key again
        before = set(folders(root))
        g = other.store.units(codes=[GRIDS[1]])[0]
        shrunk = shapely.box(116.1, 39.0, 116.15, 39.1)
        other.store.add_units([type(g)(**{**g.__dict__, "geometry": shrunk})], replace=True)
    finally:
        other.store.close()
    third = reopen(cached)
    try:
        idx = third.index
        assert not from_cache(idx)
        assert len(set(folders(root)) - before) == 1
        assert third.locate(116.17, 39.05).grid != GRIDS[1]  # the shrunk grid no longer covers it
        fourth = reopen(cached)
        try:
            assert from_cache(fourth.index) and fourth.locate(116.17, 39.05).grid == third.locate(116.17, 39.05).grid
        finally:
            fourth.store.close()
    finally:
        third.store.close()


@pytest.mark.parametrize("damage", ["truncate", "garble_meta", "wrong_shape", "missing"])
def test_a_broken_folder_is_ignored_and_rebuilt(tmp_path, sample_dir, damage):
    settings = Settings(db=str(tmp_path / "s.db"))
    s = Services.open(settings, create=True)
    load_sample(s, sample_dir)
    s.store.close()
    index_for_assign(settings)  # writes <store>.index/ beside the SQLite file
    root = tmp_path / "s.db.index"
    (folder,) = [root / f for f in folders(root)]
    if damage == "truncate":
        data = (folder / "xy.npy").read_bytes()
        (folder / "xy.npy").write_bytes(data[: len(data) // 2])
    elif damage == "garble_meta":
        (folder / "meta.json").write_bytes(b"\x00{not json")
    elif damage == "wrong_shape":
        np.save(folder / "bounds.npy", np.zeros((1, 4)))
    else:
        (folder / "slab_edges.npy").unlink()
    assert indexcache.load(root, indexcache.CacheKey(*_key(settings))) is None  # ignored ...
    assert not folder.exists()  # ... and removed
    index = index_for_assign(settings)  # rebuilt from the store, and written again
    assert not from_cache(index) and index.locate_many(LON, LAT).tolist() == EXPECTED
    assert folders(root) == [folder.name]
    again = index_for_assign(settings)
    assert from_cache(again) and again.locate_many(LON, LAT).tolist() == EXPECTED


def _key(settings: Settings):
    from gridmap.store.gridread import plan_key, sqlite_file

    return plan_key(sqlite_file(settings.db), dt.datetime.now(TZ).date())


def test_concurrent_writers_leave_one_good_folder(tmp_path, sample_dir):
    settings = Settings(db=str(tmp_path / "s.db"), index_cache=str(tmp_path / "c"))
    s = Services.open(settings, create=True)
    load_sample(s, sample_dir)
    s.store.close()
    index = index_for_assign(Settings(db=str(tmp_path / "s.db"), index_cache="off"))
    assert not (tmp_path / "c").exists() and not (tmp_path / "s.db.index").exists()  # "off": nothing written
    key = indexcache.CacheKey(*_key(settings))
    start = threading.Barrier(6)

    def write():
        start.wait()
        indexcache.save(tmp_path / "c", key, index)

    threads = [threading.Thread(target=write) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert folders(tmp_path / "c") == [key.name]
    assert not [p for p in (tmp_path / "c").iterdir() if p.name.startswith(".")]  # no temporary folder left
    assert index_for_assign(settings).locate_many(LON, LAT).tolist() == EXPECTED


def test_another_store_with_the_same_plan_numbers_is_not_taken_for_this_one(tmp_path, sample_dir):
    """Same plan 1 and units_rev in two stores: the store id keeps their folders apart."""
    keys = []
    for name in ("a.db", "b.db"):
        settings = Settings(db=str(tmp_path / name), index_cache=str(tmp_path / "shared"))
        s = Services.open(settings, create=True)
        load_sample(s, sample_dir)
        s.store.close()
        keys.append(indexcache.CacheKey(*_key(settings)))
        index_for_assign(settings)
    assert (keys[0].plan, keys[0].units_rev) == (keys[1].plan, keys[1].units_rev) and keys[0].name != keys[1].name
    assert len(folders(tmp_path / "shared")) == 2


def test_migration_0010_triggers_bump_units_rev_and_downgrade(db_url, sample_dir):
    """Every insert, update and delete of a plan's units bumps its units_rev, in the same
    transaction (a rolled-back write leaves it); 0010 downgrades to 0009 and upgrades again."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    import gridmap.store
    from gridmap.store import normalise_url

    s = Services.open(Settings(db=db_url, index_cache="off"), create=True)
    load_sample(s, sample_dir)
    plan = s.plan
    revs = [s.store.plans.index_key(plan)[1]]
    engine = sa.create_engine(normalise_url(db_url))
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE units SET name = 'x' WHERE code = :c AND plan = :p"), {"c": GRIDS[0], "p": plan})
        revs.append(s.store.plans.index_key(plan)[1])
        with pytest.raises(RuntimeError):
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM units WHERE code = :c AND plan = :p"), {"c": GRIDS[2], "p": plan})
                raise RuntimeError("roll back")
        revs.append(s.store.plans.index_key(plan)[1])
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM units WHERE code = :c AND plan = :p"), {"c": GRIDS[2], "p": plan})
        revs.append(s.store.plans.index_key(plan)[1])
        assert revs[0] > 0 and revs[1] > revs[0] and revs[2] == revs[1] and revs[3] > revs[2]
        s.store.close()
        cfg = Config()
        cfg.set_main_option("script_location", str(Path(gridmap.store.__file__).parent / "migrations"))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "0009")
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE units SET name = 'y' WHERE plan = :p"), {"p": plan})  # no trigger left
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        again = Services.open(Settings(db=db_url, index_cache="off"))
        try:
            assert again.store.plans.index_key(plan)[1] == 0 and again.locate(116.05, 39.05).grid == GRIDS[0]
        finally:
            again.store.close()
    finally:
        engine.dispose()
