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
import urllib.error
from pathlib import Path
from typing import Callable

import pytest
import shapely

from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import BOX, COUNTY, GRIDS, TOWN, ZONE, fc, feat, load_sample, square, write_json
from .pg_server import PostgresServer
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

    def locked(self) -> bool:
        """Another connection holds the store's write transaction open (SQLite: BEGIN IMMEDIATE is
        refused at once; a big import with a wide page cache writes nothing to the WAL before its commit)."""
        if self.pg is not None:
            return self.writing()
        with contextlib.closing(sqlite3.connect(self.db, timeout=0, isolation_level=None)) as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True
            conn.execute("ROLLBACK")
            return False

    def rows(self, where: str = "") -> int:
        sql = f"SELECT count(*) FROM {self.table} {where}"
        if self.pg is not None:
            return self.pg.execute(sql).fetchone()[0]
        with contextlib.closing(sqlite3.connect(self.db, timeout=30)) as conn:
            return conn.execute(sql).fetchone()[0]

    def close(self) -> None:
        if self.pg is not None:
            self.pg.close()


def starts_cleanly(db: str, cwd: Path, write: bool = False) -> dict:
    """After a crash: the store passes its integrity check, `gridmap info` runs, and the app serves
    (and, with `write`, files a report: nothing is left locked)."""
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
    if write:
        w = app.test_client().post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05})
        assert w.status_code == 201, w.get_data(as_text=True)
    app.extensions["gridmap"].store.close()
    return r.get_json()


def big_grid_file(path: Path, nx: int = 30, ny: int = 20, vertices: int = 300) -> int:
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
    from gridmap.registry.model import Level
    from gridmap.registry.validate import ImportSpec

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
    n = 30_000  # more than the 20,000-row batches the import once committed one by one
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
    starts_cleanly(db_url, tmp_path, write=True)
    s = Services.open(Settings(db=db_url))
    try:
        assert s.store.incidents.count() == rows + 1
    finally:
        s.store.close()


@pytest.mark.slow
def test_kill_during_a_big_incident_import_keeps_the_indexes(db_url, sample_dir, tmp_path):
    """A load of bulkload.MIN_ROWS rows or more into an empty table runs without the secondary
    indexes (dropped, then built again, in its one transaction): killed mid-way, the store has
    every index it had and no incident."""
    from gridmap.store import bulkload, open_store

    from .test_import_stream import _indexes

    s = Services.open(Settings(db=db_url), create=True)
    load_sample(s, sample_dir)
    before, existing = _indexes(s.store), s.store.incidents.count()
    s.store.close()
    n = bulkload.MIN_ROWS + 10_000
    assert bulkload.worth_it(s.store.backend, n, existing)  # the path under test
    _incident_csv(tmp_path / "calls.csv", n)
    cmd = ["incidents", "import", str(tmp_path / "calls.csv")]
    watch = WriteWatch(db_url, "incidents")
    try:
        for late in (3.0, 1.0, 0.2):  # (on PostgreSQL a reader of incidents waits for the import: not read here)
            began: list[float] = []

            def kill_when() -> bool:
                if not began and watch.locked():
                    began.append(time.monotonic())
                return bool(began) and time.monotonic() - began[0] > late

            killed = run_until(cmd, db_url, tmp_path, kill_when)
            if killed:
                break
            _clear_incidents(db_url)
        assert killed, "the import always finished before the kill"
        assert watch.rows() == 0
    finally:
        watch.close()
    store = open_store(db_url)
    try:
        assert _indexes(store) == before
    finally:
        store.close()
    starts_cleanly(db_url, tmp_path, write=True)


def _clear_incidents(db: str) -> None:
    from gridmap.store import open_store

    store = open_store(db)
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM incident_events")
        conn.exec_driver_sql("DELETE FROM incidents")
    store.close()


@pytest.mark.slow
def test_kill_during_plan_publish_leaves_all_or_nothing(db_url, sample_dir, tmp_path):
    """`gridmap plan publish` re-routes open incidents in the same transaction: killed, it did all or none."""

    s = Services.open(Settings(db=db_url), create=True)
    load_sample(s, sample_dir)
    s.store.close()
    n = 800  # open incidents in grid 2, which the draft merges into grid 1: each one is re-routed
    lines = ["id,category,lon,lat,reported_at,status"] + [
        f"P{i:05d},exposed_rubbish,{116.101 + (i % 97) * 0.001:.3f},{39.001 + (i % 89) * 0.001:.3f},"
        f"2026-03-{1 + i % 28:02d}T09:00:00+08:00,filed" for i in range(n)]
    (tmp_path / "open.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert not run_until(["incidents", "import", str(tmp_path / "open.csv")], db_url, tmp_path, lambda: False)
    s = Services.open(Settings(db=db_url))
    svc = s.plans
    draft = svc.create(note="merge grids 1 and 2").version
    svc.edit(draft, "merge", {"codes": [GRIDS[0], GRIDS[1]]})
    s.store.close()

    s = Services.open(Settings(db=db_url))
    today = s.today().isoformat()  # in force at once: open incidents are re-routed now
    s.store.close()
    watch = WriteWatch(db_url, "incidents", wal_bytes=16 * 1024)
    try:
        killed = run_until(["plan", "publish", str(draft), "--effective", today], db_url, tmp_path,
                           watch.writing)
        moved = watch.rows(f"WHERE grid_code = '{GRIDS[0]}'")
        left = watch.rows(f"WHERE grid_code = '{GRIDS[1]}'")
    finally:
        watch.close()
    store = Services.open(Settings(db=db_url)).store
    try:
        with store.engine.connect() as conn:
            status = conn.exec_driver_sql(f"SELECT status FROM plans WHERE version = {int(draft)}").scalar()
            reroutes = conn.exec_driver_sql("SELECT count(*) FROM incident_events WHERE action = 'reroute'").scalar()
    finally:
        store.close()
    published = status == "published"
    assert (moved, left, reroutes) == ((n, 0, n) if published else (0, n, 0)), (killed, status, moved, left, reroutes)
    assert killed or published
    info = starts_cleanly(db_url, tmp_path, write=True)
    assert info["plan"] == (draft if published else 1), info


# -- the database server stopped and restarted under the app ------------------------------------
@pytest.mark.postgis
@pytest.mark.slow
def test_database_restart_under_the_app_gives_503_then_recovers(pg_server, sample_dir, tmp_path):
    # A server of its own: stopping it must not disturb the other tests' PostGIS.
    server = PostgresServer(pg_server.bindir).start()
    ctl = lambda *args: server._run("pg_ctl", "-D", str(server.datadir), *args)
    try:
        db = server.create_database("restart")
        token, ids = seeded_store(db, sample_dir, n_incidents=2)
        report = {"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05}
        requests = [("GET", f"/api/v1/units/{ZONE}", None, None, 200),
                    ("GET", f"/api/v1/incidents/{ids[0]}", None, token, 200),
                    ("GET", "/api/v1/incidents?status=open", None, token, 200),
                    ("POST", "/api/v1/incidents", report, None, 201)]
        with gunicorn(db, tmp_path) as base:
            def sweep(expect_down: bool) -> None:
                for _ in range(3):  # several rounds: both gunicorn workers, each with its own pool
                    for method, path, body, tok, ok in requests:
                        t0 = time.monotonic()
                        status, out = call(base, method, path, body, token=tok)
                        took = time.monotonic() - t0
                        if expect_down:
                            assert status == 503, (path, status, out)
                            assert out["title"] == "StoreUnavailable" and "database" in out["detail"], out
                            assert took < 10, f"{path} took {took:.1f} s to fail"
                        else:
                            assert status == ok, (path, status, out)

            sweep(expect_down=False)  # fills each worker's connection pool
            ctl("-m", "fast", "-w", "stop")
            sweep(expect_down=True)
            ctl("-l", str(server.root / "log"), "-w", "-t", "60", "start")
            sweep(expect_down=False)  # same app processes: stale pooled connections were replaced
            status, out = call(base, "GET", "/api/v1/incidents?status=open", token=token)
            assert len(out) == 2 + 3 * 2  # the reports filed before and after the outage, none while down
    finally:
        server.stop()


# -- bad requests against the real server -------------------------------------------------------
@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """gunicorn with the slow-client worker (2 threads, 2 s request deadline) over a sample store."""
    tmp = tmp_path_factory.mktemp("served")
    db = str(tmp / "g.db")
    token, _ = seeded_store(db, _sample_files(tmp), n_incidents=1)
    with gunicorn(db, tmp, "-w", "1", "-k", "gridmap.web.serving.TimeoutWorker", "--threads", "2",
                  "--timeout", "2") as base:
        yield base, token


def _sample_files(tmp: Path) -> Path:
    """The sample hierarchy (as in conftest's sample_dir), outside a function-scoped fixture."""
    d = tmp / "sample"
    d.mkdir()
    write_json(d / "county.geojson", fc([feat(square(*BOX), code=COUNTY, name="东城区")]))
    write_json(d / "towns.geojson", fc([feat(square(*BOX), code=TOWN, name="东华门街道", parent_code=COUNTY)]))
    write_json(d / "zones.geojson", fc([feat(square(*BOX), code=ZONE, name="第一管区", parent_code=TOWN)]))
    write_json(d / "grids.geojson", fc([feat(square(round(116.0 + 0.1 * i, 6), 39.0, round(116.1 + 0.1 * i, 6), 39.1),
                                             code=code, name=f"第{i + 1}网格", parent_code=ZONE)
                                        for i, code in enumerate(GRIDS)]))
    (d / "staff.csv").write_text("person_id,name,phone,unit_code,role\n" + "".join(
        f"P{i},员工{i},1380000000{i},{code},worker\n" for i, code in enumerate(GRIDS)), encoding="utf-8")
    return d


@pytest.mark.slow
def test_body_over_the_limit_is_413_json(served):
    base, token = served
    big = json.dumps({"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05,
                      "description": "x" * (2 * 1024 * 1024)}).encode()
    def big_call(path, **kw):
        # the server answers 413 from the headers and closes; a client still sending the 2 MB body may
        # then get EPIPE before it reads the answer (a race of the client, not the server): try again
        for attempt in range(3):
            try:
                return call(base, "POST", path, raw=big, **kw)
            except urllib.error.URLError as exc:
                if "Broken pipe" not in str(exc) or attempt == 2:
                    raise
    status, out = big_call("/api/v1/incidents")
    assert status == 413 and out["status"] == 413 and "Too Large" in out["title"], out
    status, out = big_call("/api/v1/incidents/1/actions", token=token)
    assert status == 413 and out["status"] == 413
    assert call(base, "GET", "/api/v1/info")[0] == 200  # and the server carries on


@pytest.mark.slow
@pytest.mark.parametrize("path, raw, status, words", [
    ("/api/v1/incidents", b'{"category": "exposed_rubbish", "lon": 116.1', 422, "not valid JSON"),
    ("/api/v1/incidents", b'["a", "list"]', 422, "JSON object"),
    ("/api/v1/incidents/1/actions", b'{"action": "file", "version": }', 422, "JSON object"),
    ("/api/v1/incidents", json.dumps({"category": "exposed_rubbish", "location": {"type": "Point",
                                      "coordinates": [116.1]}}).encode(), 422, "location"),
    ("/api/v1/incidents", json.dumps({"category": "exposed_rubbish", "location": {"type": "Polygon",
                                      "coordinates": [[[116, 39], [116.1, 39], [116, 39.1], [116, 39]]]}}).encode(),
     422, "GeoJSON Point"),
    ("/api/v1/incidents", json.dumps({"category": "exposed_rubbish", "location": {"type": "Point",
                                      "coordinates": [39.05, 116.15]}}).encode(), 422, "swapped"),
    ("/api/v1/incidents", json.dumps({"category": "exposed_rubbish", "location": {"type": "Point",
                                      "coordinates": ["116.1", None]}}).encode(), 422, "numbers"),
])
def test_malformed_json_and_geojson_are_clear_4xx(served, path, raw, status, words):
    base, token = served
    got, out = call(base, "POST", path, raw=raw, token=token if "actions" in path else None)
    assert got == status and out["status"] == status, out
    assert words in out["detail"], out


def _trickle(port: int, head: bytes, body_len: int, results: list) -> None:
    """A slowloris client: sends `head` then one byte every 0.25 s; records what it got back."""
    t0 = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        payload = head + b"x" * body_len
        got = b""
        try:
            s.sendall(payload[:len(head) // 2])
            for k in range(len(head) // 2, len(payload)):
                s.sendall(payload[k:k + 1])
                time.sleep(0.25)
                if time.monotonic() - t0 > 15:
                    break
        except OSError:
            pass
        with contextlib.suppress(OSError):
            got = s.recv(200)
    results.append((time.monotonic() - t0, got))


@pytest.mark.slow
def test_slow_clients_are_dropped_and_others_still_served(served):
    base, _ = served
    port = int(base.rsplit(":", 1)[1])
    results: list = []
    heads = [b"GET /api/v1/info HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"y" * 60,  # headers never end
             b"POST /api/v1/incidents HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
             b"Content-Length: 500\r\n\r\n{\"category\": \"",  # body trickles in
             b"GET /api/v1/info HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"z" * 60]
    slow = [threading.Thread(target=_trickle, args=(port, h, 400 if b"POST" in h else 0, results)) for h in heads]
    for t in slow:  # three slow clients against two threads: without deadlines the server would hang
        t.start()
    time.sleep(0.5)
    waits = []
    for _ in range(6):
        t0 = time.monotonic()
        status, _ = call(base, "GET", "/api/v1/info", timeout=10)
        waits.append(time.monotonic() - t0)
        assert status == 200
        time.sleep(0.4)
    for t in slow:
        t.join(timeout=30)
    # never stuck behind the slow ones much longer than their 2 s deadline (without it: 15 s and more)
    assert max(waits) < 6, waits
    assert len(results) == 3
    for took, got in results:
        assert got.startswith(b"HTTP/1.1 408"), got
        assert took < 12, took  # dropped at the 2 s deadline (plus a wait for a thread), not when they gave up


@pytest.mark.postgis
def test_connection_lost_mid_request_is_503_not_500(pg_server):
    """The database drops a connection while a request is using it (server restart, failover):
    StoreUnavailable (503), and the next request works on a fresh connection."""
    import psycopg

    from gridmap.errors import StoreUnavailable
    from gridmap.store import open_store

    db_url = pg_server.create_database(f"lost_{os.getpid()}")
    store = open_store(db_url)
    try:
        with pytest.raises(StoreUnavailable, match="database"):
            with store.connect() as conn:
                pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
                with psycopg.connect(db_url, autocommit=True) as admin:
                    admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
                conn.exec_driver_sql("SELECT 1").scalar()
        assert store.info().backend == "postgresql"  # recovered without a restart
    finally:
        store.close()
