"""Faults: a process killed (SIGKILL) in the middle of a write, the database server stopped and
restarted under the app, and bad requests (too big, too slow, malformed) against a real server.

Every process a test starts is stopped by its own process id (or process group) in `finally`.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

import pytest
import shapely

from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import BOX, COUNTY, TOWN, ZONE, fc, feat, load_sample, square, write_json
from .live_server import live_server
from .pg_server import PostgresServer, find_bindir
from .test_load import call, gunicorn, seeded_store


# -- helpers -----------------------------------------------------------------------------------
def _env(db: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    return env | {"GRIDMAP_DB": db}


def run_until(cmd: list[str], db: str, cwd: Path, kill_when: Callable[[], bool], timeout: float = 120) -> bool:
    """Run a gridmap command; SIGKILL it (by pid) the moment `kill_when()` is true.

    True if killed; False if it finished first (it must then have succeeded).
    """
    with open(cwd / "killed-command.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "gridmap", *cmd], cwd=cwd, env=_env(db),
                                stdout=log, stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        try:
            while proc.poll() is None and time.monotonic() < end:
                if kill_when():
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=30)
                    return True
                time.sleep(0.002)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
    assert proc.returncode == 0, (cwd / "killed-command.log").read_text()[-2000:]
    return False


class WriteWatch:
    """Is another process in the middle of a write transaction to this store?

    SQLite (WAL mode): the -wal file grows past `wal_bytes` (uncommitted pages spill into it
    before the commit). PostGIS: another backend of the database holds a transaction id, i.e.
    has written and not yet committed. `rows` counts what a reader sees committed.
    """

    def __init__(self, db: str, table: str, wal_bytes: int = 256 * 1024):
        self.db, self.table, self.wal_bytes = db, table, wal_bytes
        self.pg = None
        if db.startswith("postgresql"):
            import psycopg

            self.pg = psycopg.connect(db, autocommit=True)

    def writing(self) -> bool:
        if self.pg is None:
            wal = Path(self.db + "-wal")
            return wal.exists() and wal.stat().st_size > self.wal_bytes
        return bool(self.pg.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL").fetchone()[0])

    def rows(self, where: str = "") -> int:
        sql = f"SELECT count(*) FROM {self.table} {where}"
        if self.pg is not None:
            return self.pg.execute(sql).fetchone()[0]
        with contextlib.closing(sqlite3.connect(self.db, timeout=30)) as conn:
            return conn.execute(sql).fetchone()[0]

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()


def starts_cleanly(db: str, cwd: Path) -> dict:
    """After a crash: the store passes its integrity check, `gridmap info` runs, and the app serves."""
    if not db.startswith("postgresql"):
        with contextlib.closing(sqlite3.connect(db)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    info = subprocess.run([sys.executable, "-m", "gridmap", "info"], cwd=cwd, env=_env(db), capture_output=True,
                          text=True, timeout=120)
    assert info.returncode == 0, info.stderr
    from gridmap.app import create_app

    app = create_app({"db": db})
    r = app.test_client().get("/api/v1/info")
    assert r.status_code == 200, r.get_data(as_text=True)
    app.extensions["gridmap"].store.close()
    return r.get_json()


def big_grid_file(path: Path, nx: int = 40, ny: int = 30, vertices: int = 400) -> int:
    """nx*ny grids tiling the sample zone, each densified to about `vertices` vertices (MBs of WKB)."""
    x0, y0, x1, y1 = BOX
    dx, dy = (x1 - x0) / nx, (y1 - y0) / ny
    feats = []
    for j in range(ny):
        for i in range(nx):
            box = shapely.box(round(x0 + i * dx, 9), round(y0 + j * dy, 9), round(x0 + (i + 1) * dx, 9),
                              round(y0 + (j + 1) * dy, 9))
            g = shapely.segmentize(box, 2 * (dx + dy) / vertices)
            feats.append(feat(shapely.geometry.mapping(g), code=f"{ZONE}{j * nx + i:04d}", name=f"网格{j * nx + i}",
                              parent_code=ZONE))
    write_json(path, fc(feats))
    return len(feats)


def upper_levels(db: str, tmp: Path) -> None:
    """County, town and zone of the sample, but no grids yet."""
    d = tmp / "upper"
    d.mkdir()
    write_json(d / "county.geojson", fc([feat(square(*BOX), code=COUNTY, name="东城区")]))
    write_json(d / "towns.geojson", fc([feat(square(*BOX), code=TOWN, name="东华门街道", parent_code=COUNTY)]))
    write_json(d / "zones.geojson", fc([feat(square(*BOX), code=ZONE, name="第一管区", parent_code=TOWN)]))
    from gridmap.model import Level
    from gridmap.validate import ImportSpec

    s = Services.open(Settings(db=db), create=True)
    for level, name, parent in [("county", "county.geojson", None), ("town", "towns.geojson", "parent_code"),
                                ("zone", "zones.geojson", "parent_code")]:
        s.import_units(d / name, ImportSpec(Level(level), parent_field=parent))
    s.store.close()


# -- SIGKILL in the middle of bulk imports -----------------------------------------------------
@pytest.mark.slow
def test_kill_during_unit_import_leaves_all_or_nothing(db_url, tmp_path):
    upper_levels(db_url, tmp_path)
    n = big_grid_file(tmp_path / "grids.geojson")
    watch = WriteWatch(db_url, "units")
    try:
        assert run_until(["import", str(tmp_path / "grids.geojson"), "--level", "grid", "--parent-field",
                          "parent_code"], db_url, tmp_path, watch.writing), "the import finished before it was seen writing"
        grids = watch.rows("WHERE level = 'grid'")
    finally:
        watch.close()
    assert grids in (0, n), f"{grids} of {n} grids survived the kill: a partial import"
    info = starts_cleanly(db_url, tmp_path)
    assert info["counts"].get("grid", 0) == grids and info["counts"]["zone"] == 1
    # and the same import, run again to the end, writes every grid once
    again = subprocess.run([sys.executable, "-m", "gridmap", "import", str(tmp_path / "grids.geojson"), "--level",
                            "grid", "--parent-field", "parent_code", *(["--replace"] if grids else [])],
                           cwd=tmp_path, env=_env(db_url), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert starts_cleanly(db_url, tmp_path)["counts"]["grid"] == n


def _incident_csv(path: Path, rows: int) -> None:
    lines = ["id,category,lon,lat,reported_at,status"]
    for i in range(rows):
        lines.append(f"H{i:06d},exposed_rubbish,{116.01 + (i % 2900) * 0.0001:.4f},{39.01 + (i % 80) * 0.001:.3f},"
                     f"2026-03-{1 + i % 28:02d}T{8 + i % 10:02d}:00:00+08:00,closed")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.mark.slow
def test_kill_during_incident_import_leaves_all_or_nothing(db_url, sample_dir, tmp_path):
    s = Services.open(Settings(db=db_url), create=True)
    load_sample(s, sample_dir)
    s.store.close()
    n = 45_000
    _incident_csv(tmp_path / "calls.csv", n)
    cmd = ["incidents", "import", str(tmp_path / "calls.csv")]
    watch = WriteWatch(db_url, "incidents")
    try:
        # Kill late in the write, so that a batch committed on its own would be caught; on a fast
        # machine the import may finish first: then clear it and kill earlier.
        for late in (2.5, 0.8, 0.1):
            seen_partial, began = [], []

            def kill_when() -> bool:
                rows = watch.rows()
                if 0 < rows < n:  # a reader sees part of the import: kill now, the assert below fails
                    seen_partial.append(rows)
                    return True
                if not began and watch.writing():
                    began.append(time.monotonic())
                return bool(began) and time.monotonic() - began[0] > late

            killed = run_until(cmd, db_url, tmp_path, kill_when)
            rows = watch.rows()
            assert not seen_partial, f"a reader saw {seen_partial[0]} of {n} incidents before the import finished"
            assert rows in (0, n), f"{rows} of {n} incidents survived the kill: a partial import"
            if killed:
                break
            _clear_incidents(db_url)
        assert killed, "the import always finished before the kill"
    finally:
        watch.close()
    starts_cleanly(db_url, tmp_path)
    assert not run_until(cmd, db_url, tmp_path, lambda: False)  # run again to the end
    s = Services.open(Settings(db=db_url))
    try:
        assert s.store.incidents.count() == n + rows
    finally:
        s.store.close()


def _clear_incidents(db: str) -> None:
    from gridmap.store import open_store

    store = open_store(db)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM incident_events")
        conn.exec_driver_sql("DELETE FROM incidents")
    store.close()
