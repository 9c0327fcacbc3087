"""Incident intake under load (gunicorn + SQLite) and the 200,000-row bulk import, in one run.

    python bench/bench_incidents.py            # ~5 min on 2 cores -> bench/results/incidents.md

1. A fresh demo store in a temp dir (`gridmap --db DIR/gridmap.db demo --out DIR/out`).
2. gridmap under gunicorn (`gunicorn 'gridmap:create_app()'`, GRIDMAP_DB=..., anonymous rate
   limit raised to 100000/min) in its own process group, one run per worker configuration
   (`--configs`), and a no-op Flask app (bench/noop_app.py) under the same gunicorn options
   as the floor.
3. The load generator is a second Python process (this file, `loadgen` sub-command):
   - open loop: a scheduler thread releases request i at t0 + i/rate onto a queue that
     `--threads` worker threads (one keep-alive http.client connection each) drain; latency is
     measured from the *scheduled* time, so a slow server cannot slow the arrivals down and
     hide its own queueing (no coordinated omission);
   - closed loop: `--closed-clients` threads sending back to back (max throughput).
   Bodies: JSON POST /api/v1/incidents, random point in lon 116.45-116.75, lat 37.2-37.5 and a
   random category from GET /api/v1/categories (fixed seed).
4. Bulk import: a 200,000-row CSV (geodata/incidents.csv columns; rows sampled from it,
   points jittered, dates spread over two years) timed through the whole
   `gridmap --db ... incidents import FILE` process into a second fresh demo store; then a
   cProfile of the same command on the first `--profile-rows` rows, bucketed by phase.
5. Every server is stopped by its pid (process group) in `finally`; temp dirs are removed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import http.client
import json
import os
import platform
import queue
import random
import re
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
RESULTS = BENCH / "results"
LON, LAT = (116.45, 116.75), (37.2, 37.5)

NOISY_CORES = 0.5  # other processes' CPU above which a run is flagged

CONFIGS = {
    "gthread": ["-w", "2", "--threads", "4", "-k", "gthread"],
    "sync": ["-w", "3", "-k", "sync"],
    # extra worker models, for --configs
    "gthread-2x2": ["-w", "2", "--threads", "2", "-k", "gthread"],
    "gthread-1x8": ["-w", "1", "--threads", "8", "-k", "gthread"],
    "sync-2": ["-w", "2", "-k", "sync"],
}


# ============================================================================================
# load generator (runs as its own process: `python bench/bench_incidents.py loadgen ...`)
# ============================================================================================
class _Client:
    """One keep-alive HTTP/1.1 connection; reconnects (and retries once) if the server closed it."""

    def __init__(self, host: str, port: int, timeout: float):
        self.host, self.port, self.timeout = host, port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.used = False
        self.retries = 0

    def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", "Connection": "keep-alive"}
        for attempt in (0, 1):
            if self.conn is None:
                self.conn, self.used = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout), False
            reused = self.used
            try:
                self.conn.request("POST", path, body, headers)
                r = self.conn.getresponse()
                data = r.read()
                self.used = True
                if r.will_close:  # sync workers answer `Connection: close`
                    self.conn.close()
                    self.conn = None
                return r.status, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                    http.client.CannotSendRequest):
                self.conn.close()
                self.conn = None
                if attempt == 0 and reused:  # stale keep-alive connection: the request never arrived
                    self.retries += 1
                    continue
                raise
            except Exception:
                self.conn.close()
                self.conn = None
                raise
        raise RuntimeError("unreachable")


def _summary(lat_s: list[float]) -> dict:
    import numpy as np

    if not lat_s:
        return {k: None for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms")}
    a = np.asarray(lat_s) * 1000.0
    return {"p50_ms": float(np.percentile(a, 50)), "p90_ms": float(np.percentile(a, 90)),
            "p99_ms": float(np.percentile(a, 99)), "max_ms": float(a.max()), "mean_ms": float(a.mean())}


def loadgen(args) -> dict:
    payloads = [json.dumps(p, ensure_ascii=False).encode("utf-8")
                for p in json.loads(Path(args.payloads).read_text(encoding="utf-8"))]
    lock = threading.Lock()
    statuses: dict[str, int] = {}
    errors: dict[str, int] = {}
    bodies: list[str] = []  # a few non-201 answers, to see what went wrong
    lat: list[float] = []  # from scheduled time (open loop) / send time (closed loop), 201 only
    service: list[float] = []  # from send time
    late: list[float] = []  # send time - scheduled time (open loop)
    done_at: list[float] = []
    clients: list[_Client] = []

    def record(status, body, t_sched, t_send, t_done, err=None):
        with lock:
            if err is not None:
                errors[err] = errors.get(err, 0) + 1
                return
            statuses[str(status)] = statuses.get(str(status), 0) + 1
            done_at.append(t_done)
            if status == 201:
                lat.append(t_done - t_sched)
                service.append(t_done - t_send)
                late.append(t_send - t_sched)
            elif len(bodies) < 5:
                bodies.append(f"{status}: {body[:300].decode('utf-8', 'replace')}")

    def one(client: _Client, i: int, t_sched: float):
        t_send = time.perf_counter()
        try:
            status, body = client.post(args.path, payloads[i % len(payloads)])
        except Exception as exc:  # noqa: BLE001 - every failure is counted, by type
            record(None, b"", t_sched, t_send, time.perf_counter(), err=type(exc).__name__)
            return
        record(status, body, t_sched, t_send, time.perf_counter())

    cpu0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter() + 0.2
    hard_stop = t0 + args.duration + args.drain
    skipped = 0
    if args.mode == "open":
        n = min(args.max_requests, int(args.rate * args.duration))
        q: queue.Queue = queue.Queue()

        def producer():
            for i in range(n):
                t = t0 + i / args.rate
                d = t - time.perf_counter()
                if d > 0:
                    time.sleep(d)
                q.put((i, t))
            for _ in range(args.threads):
                q.put(None)

        def worker():
            nonlocal skipped
            c = _Client(args.host, args.port, args.timeout)
            with lock:
                clients.append(c)
            while True:
                item = q.get()
                if item is None:
                    return
                if time.perf_counter() > hard_stop:  # bounded: give up on what is still queued
                    with lock:
                        skipped += 1
                    continue
                one(c, *item)

        threads = [threading.Thread(target=producer, daemon=True)]
        threads += [threading.Thread(target=worker, daemon=True) for _ in range(args.threads)]
    else:
        n = args.max_requests
        counter = iter(range(n))

        def worker():
            c = _Client(args.host, args.port, args.timeout)
            with lock:
                clients.append(c)
            while time.perf_counter() < t0 + args.duration:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t = time.perf_counter()
                one(c, i, t)

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(args.threads)]
        while time.perf_counter() < t0:
            time.sleep(0.01)
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, hard_stop + args.timeout + 1 - time.perf_counter()))
    hung = sum(t.is_alive() for t in threads)
    cpu1 = resource.getrusage(resource.RUSAGE_SELF)
    completed = sum(statuses.values())
    start = t0
    span = (max(done_at) - start) if done_at else float("nan")
    out = {
        "mode": args.mode, "rate": args.rate if args.mode == "open" else None, "threads": args.threads,
        "duration_s": args.duration, "planned": n, "completed": completed, "statuses": statuses,
        "errors": errors, "skipped": skipped, "hung_threads": hung,
        "retries": sum(c.retries for c in clients), "non_201_bodies": bodies,
        "achieved_rps": (statuses.get("201", 0) / span) if done_at else 0.0, "span_s": span,
        "latency": _summary(lat), "service": _summary(service), "late": _summary(late),
        "client_cpu_s": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
    }
    Path(args.out).write_text(json.dumps(out, indent=1), encoding="utf-8")
    return out


# ============================================================================================
# orchestration
# ============================================================================================
def _env() -> dict:
    """The environment without any GRIDMAP_* setting of the caller's shell."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(cmd: list[str], cwd: Path, timeout: float, env: dict | None = None) -> subprocess.CompletedProcess:
    p = subprocess.run(cmd, cwd=cwd, env=env or _env(), capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    return p


def _proc_cpu_ticks(pid: int) -> int:
    """utime+stime of a process and its live children (the gunicorn workers), in clock ticks."""
    total = 0
    todo = [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
            for task in Path(f"/proc/{p}/task").iterdir():
                kids = (task / "children").read_text().split()
                todo += [int(k) for k in kids]
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
            continue
    return total


def _machine_busy_s() -> float:
    """CPU seconds used by the whole machine so far (all cores, not idle/iowait)."""
    v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def _wait_quiet(max_wait: float, threshold: float = 0.4) -> tuple[float, float]:
    """Wait (bounded) until the machine is nearly idle: other users' jobs skew a 2-core benchmark.

    Returns (seconds waited, cores busy in the last 1 s sample)."""
    t0 = time.monotonic()
    while True:
        b0 = _machine_busy_s()
        time.sleep(1.0)
        cores = _machine_busy_s() - b0
        if cores < threshold or time.monotonic() - t0 >= max_wait:
            return time.monotonic() - t0, cores


def _fs_of(path: Path) -> str:
    """Filesystem type and device holding `path` (fsync cost depends on it)."""
    best = ("", "?", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        dev, mnt, fstype = line.split()[:3]
        if str(path).startswith(mnt.rstrip("/") + "/") or str(path) == mnt or mnt == "/":
            if len(mnt) >= len(best[0]):
                best = (mnt, fstype, dev)
    return f"{best[1]} on {best[2]}"


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Server:
    """One gunicorn master in its own process group; stopped by its pid."""

    def __init__(self, name: str, app: str, opts: list[str], cwd: Path, env: dict, log: Path, extra: list[str]):
        self.name, self.port, self.log = name, _free_port(), log
        self.cmd = ["gunicorn", "--no-control-socket", *opts, "--keep-alive", "75", "--timeout", "60",
                    "-b", f"127.0.0.1:{self.port}", *extra, app]
        self._fh = open(log, "w", encoding="utf-8")
        self.proc = subprocess.Popen(self.cmd, cwd=cwd, env=env, stdout=self._fh, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name}: gunicorn exited ({self.proc.returncode}); log:\n"
                                   + self.log.read_text(encoding="utf-8")[-3000:])
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name}: no answer on port {self.port} within {timeout:.0f} s")

    def cpu_s(self) -> float:
        return _proc_cpu_ticks(self.proc.pid) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)  # gunicorn master: graceful stop of its workers
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this script created for it
                self.proc.wait(timeout=5)
        self._fh.close()


def _categories(port: int) -> list[str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/categories", timeout=5) as r:
        return [c["code"] for c in json.load(r)]


def _payloads(categories: list[str], n: int, seed: int = 7) -> list[dict]:
    rnd = random.Random(seed)
    return [{"category": rnd.choice(categories), "lon": round(rnd.uniform(*LON), 6), "lat": round(rnd.uniform(*LAT), 6),
             "description": "测试", "source": "随手拍"} for _ in range(n)]


def _warmup(port: int, payloads: list[dict], n: int) -> None:
    """Untimed requests so each worker has imported, built its index and opened its pool."""
    c = _Client("127.0.0.1", port, 10)
    for p in payloads[:n]:
        c.post("/api/v1/incidents", json.dumps(p, ensure_ascii=False).encode())


def _loadgen(port: int, payload_file: Path, out: Path, mode: str, args) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "loadgen", "--port", str(port), "--payloads", str(payload_file),
           "--out", str(out), "--mode", mode]
    if mode == "open":
        cmd += ["--rate", str(args.rate), "--duration", str(args.duration), "--threads", str(args.open_threads),
                "--max-requests", str(int(args.rate * args.duration))]
    else:
        cmd += ["--duration", str(args.closed_duration), "--threads", str(args.closed_clients),
                "--max-requests", str(args.closed_max)]
    subprocess.run(cmd, check=True, timeout=(args.duration if mode == "open" else args.closed_duration) + 90)
    return json.loads(out.read_text(encoding="utf-8"))


def load_phase(args, work: Path, db: Path, log) -> list[dict]:
    rows: list[dict] = []
    env = _env() | {"GRIDMAP_DB": str(db), "GRIDMAP_REPORT_RATE_LIMIT": "100000 per minute"}
    payload_file = work / "payloads.json"
    targets = [("gridmap", c) for c in args.configs]
    targets.append(("noop", args.configs[0]))
    for kind, config in targets:
        name = f"{kind} ({config})"
        glog = work / f"gunicorn-{kind.replace('+', '_').replace('=', '_')}-{config}.log"
        if kind == "gridmap":
            server = Server(name, "gridmap:create_app()", CONFIGS[config], work, env, glog, [])
        else:
            server = Server(name, "noop_app:app", CONFIGS[config], work, _env(), glog, ["--pythonpath", str(BENCH)])
        try:
            server.wait_ready("/" if kind == "noop" else "/api/v1/categories")
            if not payload_file.exists():
                cats = _categories(server.port)
                payload_file.write_text(json.dumps(_payloads(cats, 20_000), ensure_ascii=False), encoding="utf-8")
                log(f"  {len(cats)} categories from GET /api/v1/categories")
            _warmup(server.port, json.loads(payload_file.read_text(encoding="utf-8"))[-100:], 60)
            for mode in ("open", "closed"):
                waited, idle_cores = _wait_quiet(args.quiet_wait)
                cpu0, busy0, t0, la = server.cpu_s(), _machine_busy_s(), time.perf_counter(), _loadavg()
                res = _loadgen(server.port, payload_file, work / f"load-{len(rows)}.json", mode, args)
                cpu, busy, wall = server.cpu_s() - cpu0, _machine_busy_s() - busy0, time.perf_counter() - t0
                res |= {"server": kind, "config": config, "server_cpu_s": cpu, "loadavg_before": la,
                        "quiet_wait_s": waited, "busy_before_cores": idle_cores,
                        "server_cpu_ms_per_req": 1000 * cpu / max(res["completed"], 1),
                        # CPU of everything else on the machine while the generator ran (other users' jobs)
                        "other_cores": max(0.0, busy - cpu - res["client_cpu_s"]) / wall,
                        "server_cores": cpu / wall}
                rows.append(res)
                lt = res["latency"]
                log(f"  {name:18s} {mode:6s}: {res['statuses']} errors={res['errors']} "
                    f"{res['achieved_rps']:.0f} rps, p50 {lt['p50_ms'] or 0:.1f} ms, p99 {lt['p99_ms'] or 0:.1f} ms; "
                    f"other processes {res['other_cores']:.2f} cores")
        finally:
            server.stop()
        text = glog.read_text(encoding="utf-8", errors="replace")
        res_locked = len(re.findall(r"database is locked", text))
        tracebacks = text.count("Traceback")
        for r in rows:
            if r["server"] == kind and r["config"] == config:
                r["log_locked"], r["log_tracebacks"] = res_locked, tracebacks
                r["body_locked"] = sum("locked" in b for b in r["non_201_bodies"])
    return rows


def make_history_csv(path: Path, n: int, seed: int = 11) -> None:
    """n historical incidents with geodata/incidents.csv's columns: its rows, jittered and spread over 2 years."""
    with open(ROOT / "geodata" / "incidents.csv", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames
        src = list(reader)
    rnd = random.Random(seed)
    start = dt.datetime(2023, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    span = 730 * 86400
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for i in range(n):
            r = dict(src[rnd.randrange(len(src))])
            r["id"] = f"HIST-{i + 1:07d}"
            r["reported_at"] = (start + dt.timedelta(seconds=rnd.randrange(span))).isoformat()
            r["lon"] = f"{float(r['lon']) + rnd.uniform(-0.003, 0.003):.6f}"
            r["lat"] = f"{float(r['lat']) + rnd.uniform(-0.003, 0.003):.6f}"
            w.writerow(r)


def _count(db: Path, table: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    finally:
        con.close()


def _demo(work: Path, name: str) -> Path:
    db = work / f"{name}.db"
    _run(["gridmap", "--db", str(db), "demo", "--out", str(work / f"out-{name}")], cwd=work, timeout=120)
    return db


def import_phase(args, work: Path, log) -> dict:
    csv_path = work / "history.csv"
    t = time.perf_counter()
    make_history_csv(csv_path, args.import_rows)
    log(f"  wrote {args.import_rows:,} rows to {csv_path.name} ({csv_path.stat().st_size / 1e6:.1f} MB, "
        f"{time.perf_counter() - t:.1f} s)")
    db = _demo(work, "import")
    demo = _count(db, "incidents")
    cmd = ["gridmap", "--db", str(db), "incidents", "import", str(csv_path)]
    _wait_quiet(args.quiet_wait)
    busy0 = _machine_busy_s()
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v", *cmd], cwd=work, env=_env(), capture_output=True, text=True,
                       timeout=args.import_timeout)
    wall = time.perf_counter() - t
    if p.returncode != 0:
        raise RuntimeError(f"import failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}")
    tv = dict(re.findall(r"^\s*(.+?): (.+)$", p.stderr, flags=re.M))
    out = {"rows": args.import_rows, "wall_s": wall, "rows_per_s": args.import_rows / wall,
           "cpu_s": float(tv.get("User time (seconds)", "nan")) + float(tv.get("System time (seconds)", "nan")),
           "rss_mb": int(tv.get("Maximum resident set size (kbytes)", "0")) / 1024,
           "stdout": p.stdout.strip(), "stored": _count(db, "incidents"), "events": _count(db, "incident_events"),
           "cmd": " ".join(cmd), "demo": demo, "csv": str(csv_path)}
    out["other_cores"] = max(0.0, _machine_busy_s() - busy0 - out["cpu_s"]) / wall
    log(f"  import: {wall:.1f} s wall, {out['rows_per_s']:,.0f} rows/s, {out['stored']:,} incidents in the store ({demo:,} from the demo)")
    return out


# buckets of the import profile: (label, file suffix, function name); cumulative seconds of each
BUCKETS = [
    ("whole command (`import_incidents`)", "gridmap/cli/incidents.py", "import_incidents"),
    ("read the CSV (`csv.DictReader`)", "csv.py", "__next__"),
    ("validate + assign (`import_rows`)", "gridmap/incidents/service.py", "import_rows"),
    ("  `parse_report`", "gridmap/incidents/intake.py", "parse_report"),
    ("  `_assign` (all of it)", "gridmap/incidents/service.py", "_assign"),
    ("    `store.current_plan()` (one SQL query per row)", "gridmap/store/sql.py", "current_plan"),
    ("    `index.locate`", "gridmap/registry/index.py", "locate"),
    ("write (`repo.add_many`)", "gridmap/store/incidents.py", "add_many"),
    ("  building one `insert().values(**row)` per row", "sqlalchemy/sql/dml.py", "values"),
    ("  `Connection.execute` (compile, cache key, sqlite3)", "sqlalchemy/engine/base.py", "execute"),
    ("  `incident_to_row` (Incident -> dict)", "gridmap/store/incidents.py", "incident_to_row"),
    ("  sqlite3 `commit`", "~", "commit' of 'sqlite3.Connection"),
]


def _buckets(st, spec) -> list[dict]:
    """Cumulative seconds and calls of the functions each (label, file suffix, name) names ("~": built-ins by substring)."""
    total = max(v[3] for v in st.stats.values())
    out = []
    for label, suffix, func in spec:
        if suffix == "~":
            cum = [(v[3], v[1]) for (f, _, name), v in st.stats.items() if f == "~" and func in name]
        else:
            cum = [(v[3], v[1]) for (f, _, name), v in st.stats.items() if f.endswith(suffix) and name == func]
        ct = sum(c for c, _ in cum)
        out.append({"label": label, "cum_s": ct, "calls": sum(c for _, c in cum), "share": ct / total if total else 0})
    return out


POST_BUCKETS = [
    ("Flask request (`wsgi_app`, all of it)", "flask/app.py", "wsgi_app"),
    ("  flask-limiter check", "flask_limiter/_extension.py", "_check_request_limit"),
    ("  view `report` (incidents_api.py)", "gridmap/web/incidents_api.py", "report"),
    ("    `IncidentService.report`", "gridmap/incidents/service.py", "report"),
    ("      `parse_report`", "gridmap/incidents/intake.py", "parse_report"),
    ("      `_assign`", "gridmap/incidents/service.py", "_assign"),
    ("        `store.current_plan()`", "gridmap/store/sql.py", "current_plan"),
    ("        `index.locate`", "gridmap/registry/index.py", "locate"),
    ("      `_route` (roles, roster, open load)", "gridmap/incidents/service.py", "_route"),
    ("      `duplicates_of` (bbox query + distance)", "gridmap/incidents/service.py", "duplicates_of"),
    ("      `repo.add` (INSERT incident + event, commit)", "gridmap/store/incidents.py", "add_many"),
    ("    response (`_show`, `url_for`, `jsonify`)", "gridmap/web/incidents_api.py", "_show"),
    ("  all SQL: `Connection.execute`", "sqlalchemy/engine/base.py", "execute"),
    ("  all SQL: sqlite3 `commit`", "~", "commit' of 'sqlite3.Connection"),
]


def post_profile_phase(args, work: Path, log) -> dict:
    """One worker's CPU cost of a report, in-process (Flask test client, no HTTP, no concurrency)."""
    import cProfile
    import pstats

    from gridmap import create_app

    db = _demo(work, "post")
    app = create_app({"db": str(db), "report_rate_limit": "100000 per minute"})
    client = app.test_client()
    bodies = json.loads((work / "payloads.json").read_text(encoding="utf-8"))[-(2 * args.post_profile + 100):]
    for b in bodies[:100]:
        client.post("/api/v1/incidents", json=b)
    n = args.post_profile
    t, c0 = time.perf_counter(), time.process_time()
    codes = [client.post("/api/v1/incidents", json=b).status_code for b in bodies[100:100 + n]]
    plain, cpu = (time.perf_counter() - t) / n, (time.process_time() - c0) / n
    pr = cProfile.Profile()
    pr.enable()
    codes += [client.post("/api/v1/incidents", json=b).status_code for b in bodies[100 + n:100 + 2 * n]]
    pr.disable()
    st = pstats.Stats(pr)
    store = app.extensions["gridmap"].store
    with store.engine.connect() as conn:  # what gridmap's own pragmas leave in force (2 = FULL, 1 = NORMAL)
        sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
    store.close()
    out = {"n": n, "ms_per_req": 1000 * cpu, "wall_ms_per_req": 1000 * plain, "non_201": sum(c != 201 for c in codes), "synchronous": sync,
           "buckets": _buckets(st, POST_BUCKETS), "total_s": max(v[3] for v in st.stats.values())}
    log(f"  in-process report: {out['ms_per_req']:.2f} ms CPU, {out['wall_ms_per_req']:.2f} ms wall per report "
        "(single thread, no profiler)")
    return out


def profile_phase(args, work: Path, log) -> dict:
    import pstats

    n = min(args.profile_rows, args.import_rows)
    sub = work / "history_sub.csv"
    with open(work / "history.csv", encoding="utf-8", newline="") as src, open(sub, "w", encoding="utf-8", newline="") as dst:
        for k, line in enumerate(src):
            if k > n:
                break
            dst.write(line)
    db = _demo(work, "profile")
    prof = work / "import.prof"
    cmd = [sys.executable, "-m", "cProfile", "-o", str(prof), "-m", "gridmap", "--db", str(db), "incidents", "import", str(sub)]
    t = time.perf_counter()
    _run(cmd, cwd=work, timeout=args.import_timeout)
    wall = time.perf_counter() - t
    st = pstats.Stats(str(prof))
    total = max(v[3] for v in st.stats.values())
    rows = _buckets(st, BUCKETS)
    top = sorted(((v[2], f"{Path(f).name}:{line}({name})", v[1]) for (f, line, name), v in st.stats.items()),
                 reverse=True)[:12]
    log(f"  profile of {n:,} rows: {wall:.1f} s under cProfile")
    return {"rows": n, "wall_s": wall, "total_s": total, "buckets": rows,
            "top_tottime": [{"func": f, "tottime_s": t_, "calls": c} for t_, f, c in top],
            "cmd": " ".join(["python", "-m", "cProfile", "-o", "import.prof", "-m", "gridmap", "--db", "DIR/profile.db",
                             "incidents", "import", "DIR/history_sub.csv"])}


def sketch_phase(args, work: Path, log) -> dict:
    """What the write would cost as two executemany statements (not gridmap: a measured suggestion)."""
    import sqlalchemy as sa

    from gridmap.incidents.model import Event
    from gridmap.incidents.service import import_rows
    from gridmap.services import Services
    from gridmap.settings import Settings
    from gridmap.store import schema
    from gridmap.store.incidents import event_to_row, incident_to_row

    n = min(args.profile_rows, args.import_rows)
    with open(work / "history_sub.csv", encoding="utf-8", newline="") as fh:
        data = list(csv.DictReader(fh))[:n]
    out = {"rows": n}
    for variant in ("add_many", "executemany"):
        db = _demo(work, f"sketch-{variant}")
        svc = Services.open(Settings.load({"db": str(db)}, environ={}), create=True).incidents
        t = time.perf_counter()
        good, problems = import_rows(svc, data)
        out["import_rows_s"] = time.perf_counter() - t
        items = [(i, Event("", i.reported_at, "import", "import", None, i.status, "", {"file": "x.csv"}), None)
                 for i in good]
        t = time.perf_counter()
        if variant == "add_many":
            for k in range(0, len(items), 20_000):
                svc.repo.add_many(items[k:k + 20_000])
        else:
            store = svc.services.store
            with store.engine.begin() as conn:
                first = (conn.execute(sa.select(sa.func.max(schema.incidents.c.id))).scalar() or 0) + 1
                conn.execute(schema.incidents.insert(),
                             [{**incident_to_row(i), "id": first + k, "reporter_token": None} for k, (i, _, _) in enumerate(items)])
                conn.execute(schema.incident_events.insert(),
                             [event_to_row(ev, first + k) for k, (_, ev, _) in enumerate(items)])
        out[f"{variant}_s"] = time.perf_counter() - t
        out[f"{variant}_stored"] = _count(db, "incidents")
        svc.services.store.close()
    plan_t = time.perf_counter()
    for _ in range(1000):
        svc.services.store.current_plan()
    out["current_plan_ms"] = (time.perf_counter() - plan_t)  # seconds per 1000 calls == ms per call
    log(f"  sketch ({n:,} rows): add_many {out['add_many_s']:.2f} s vs executemany {out['executemany_s']:.2f} s; "
        f"current_plan() {out['current_plan_ms']:.3f} ms/call")
    return out


# ============================================================================================
# report
# ============================================================================================
def _f(v, fmt=".1f"):
    return "-" if v is None else format(v, fmt)


def _versions() -> str:
    from importlib.metadata import version

    g = subprocess.run(["gunicorn", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"Python {platform.python_version()}, {g}, Flask {version('flask')}, SQLAlchemy {version('sqlalchemy')}, "
            f"SQLite {sqlite3.sqlite_version}")


def _git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "gridmap"], cwd=ROOT, capture_output=True,
                               text=True).stdout.splitlines()
    except OSError:
        return "?"
    return f"commit {head}" + (f" + uncommitted changes in {len(dirty)} file(s) under gridmap/ (measured as found)"
                               if dirty else ", gridmap/ clean")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def write_report(path: Path, args, load: list[dict], imp: dict | None, prof: dict | None, sketch: dict | None,
                 post: dict | None, started: float) -> str:
    L: list[str] = []
    a = L.append
    a("# Incident intake under load, and the bulk import (SQLite store)\n")
    a(f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}")
    a(f"- Machine: nproc {len(os.sched_getaffinity(0))}, {_cpu_model()}, {platform.platform()}")
    a(f"- {_versions()}")
    a(f"- Temp dir / SQLite files on: {_fs_of(Path(tempfile.gettempdir()))}")
    a(f"- Code measured: {_git_state()}")
    a(f"- Whole run: {time.perf_counter() - started:.0f} s. Servers, load generator and import share the same 2 cores "
      "with whatever else runs on the machine: the tables give the server's, the generator's and *other processes'* "
      "CPU (cores busy, from /proc) during each run. Before each timed run the script waits (at most "
      f"{args.quiet_wait:g} s) for the machine to be nearly idle; where 'other procs' is well above 0, other users' jobs "
      "took CPU during that run and its figures are pessimistic.\n")
    a("Commands (DIR = a fresh temp dir, the servers' cwd):\n\n```")
    a("python bench/bench_incidents.py " + " ".join(sys.argv[1:]))
    a("gridmap --db DIR/gridmap.db demo --out DIR/out-gridmap")
    for c in args.configs:
        a(f"GRIDMAP_DB=DIR/gridmap.db GRIDMAP_REPORT_RATE_LIMIT='100000 per minute' gunicorn --no-control-socket "
          f"{' '.join(CONFIGS[c])} --keep-alive 75 --timeout 60 -b 127.0.0.1:PORT 'gridmap:create_app()'")
    a(f"gunicorn --no-control-socket {' '.join(CONFIGS[args.configs[0]])} --keep-alive 75 --timeout 60 -b 127.0.0.1:PORT "
      "--pythonpath bench 'noop_app:app'")
    a(f"python bench/bench_incidents.py loadgen --mode open --rate {args.rate:g} --duration {args.duration:g} "
      f"--threads {args.open_threads} --port PORT ...")
    a(f"python bench/bench_incidents.py loadgen --mode closed --threads {args.closed_clients} "
      f"--duration {args.closed_duration:g} --port PORT ...")
    if imp:
        a(f"gridmap --db DIR/import.db incidents import DIR/history.csv   # {imp['rows']:,} rows")
    a("```\n")
    gm_open = [r for r in load if r["mode"] == "open" and r["server"] == "gridmap"]
    if load:
        a("## POST /api/v1/incidents under load\n")
        a("Each request: JSON body with a random point in lon 116.45–116.75, lat 37.2–37.5 and a random category from "
          "`GET /api/v1/categories` (`source` 随手拍, fixed seed); the full report path runs (validate, locate the grid, "
          "route to a worker via roles/roster/open load, duplicate search, INSERT incident + event in one "
          f"transaction). Store: a fresh `gridmap demo` SQLite file ({getattr(args, 'stored_demo', 0):,} demo incidents "
          "to start with; WAL, busy_timeout 10 s), written by every worker process. 60 untimed warm-up requests per "
          "server. The no-op floor (bench/noop_app.py) parses the JSON and answers 201 `{\"ok\": true}`.\n")
        a(f"**Open loop**, {args.rate:g} requests/s for {args.duration:g} s: a scheduler thread releases request *i* at "
          f"t0 + i/rate to a queue drained by {args.open_threads} threads (one keep-alive `http.client` connection "
          "each); latency = response read − *scheduled* time, so time spent waiting in the generator's queue when "
          "the server falls behind counts (no coordinated omission); 'late p99' = send − scheduled, that queueing "
          "alone. 'achieved req/s' = 201s / (last response − t0).\n")
        _load_table(L, [r for r in load if r["mode"] == "open"], open_=True)
        if any(r["other_cores"] > NOISY_CORES for r in load):
            a(f"\n⚠ = other processes used more than {NOISY_CORES} of the 2 cores during that run: its figures are "
              "pessimistic (the machine is shared).")
        a(f"\n**Closed loop** (max throughput): {args.closed_clients} clients back to back for {args.closed_duration:g} s; "
          "latency = response − send.\n")
        _load_table(L, [r for r in load if r["mode"] == "closed"], open_=False)
        a("")
        for r in gm_open:
            p99 = r["latency"]["p99_ms"]
            ok = r["statuses"].get("201", 0) == r["planned"] and not r["errors"]
            verdict = "met" if (p99 is not None and p99 < 50 and ok) else "missed"
            a(f"- Target p99 < 50 ms at {args.rate:g} req/s, gridmap ({' '.join(CONFIGS[r['config']])}): "
              f"p99 {_f(p99)} ms, {r['achieved_rps']:.0f} req/s achieved — **{verdict}**"
              + ("" if ok else f" (not all {r['planned']} requests answered 201)") + ".")
        for r in load:
            if r["server"] == "noop":
                a(f"- Floor (no-op Flask route, same gunicorn options), {r['mode']} loop: {r['achieved_rps']:.0f} req/s, "
                  f"p50 {_f(r['latency']['p50_ms'])} ms, p99 {_f(r['latency']['p99_ms'])} ms.")
        locked = sum(r.get("log_locked", 0) + r.get("body_locked", 0) for r in load)
        tbs = sum(r.get("log_tracebacks", 0) for r in load if r["mode"] == "open")
        other: dict[str, int] = {}
        errs: dict[str, int] = {}
        for r in load:
            for k, v in r["statuses"].items():
                if k != "201":
                    other[k] = other.get(k, 0) + v
            for k, v in r["errors"].items():
                errs[k] = errs.get(k, 0) + v
        a(f"- 'database is locked' seen: {locked} times (gunicorn logs and non-201 bodies); tracebacks in the logs: "
          f"{tbs}; non-201 statuses: {other or 'none'}; client errors: {errs or 'none'}; "
          f"stale keep-alive retries: {sum(r['retries'] for r in load)}; requests given up (not sent in time): "
          f"{sum(r['skipped'] for r in load)}.")
        for b in [b for r in load for b in r["non_201_bodies"]][:3]:
            a(f"  - e.g. `{b[:200]}`")
        if hasattr(args, "stored_after_load"):
            gm_201 = sum(r["statuses"].get("201", 0) for r in load if r["server"] != "noop")
            warm = 60 * len({(r["server"], r["config"]) for r in load if r["server"] != "noop"})
            expect = args.stored_demo + gm_201 + warm
            a(f"- Incidents in the store after the runs: {args.stored_after_load:,}; expected {expect:,} "
              f"(demo {args.stored_demo:,} + {gm_201:,} answered 201 + {warm} warm-ups): "
              f"{'match' if expect == args.stored_after_load else 'MISMATCH'}.")
        a("")
    if post:
        a(f"### One report's cost in-process ({post['n']} reports, Flask test client, single thread)\n")
        a(f"Without profiler: **{post['ms_per_req']:.2f} ms CPU per report** ({post['wall_ms_per_req']:.2f} ms wall; no "
          f"HTTP server, no concurrency: the CPU floor of one worker, {1000 / post['ms_per_req']:.0f} reports/s per core "
          f"at best; SQLite `PRAGMA synchronous` as gridmap leaves it: {post['synchronous']} (2 = FULL, 1 = NORMAL)). Under cProfile, cumulative "
          "time per step (nested rows are part of the row above; profiler overhead inflates Python-heavy steps):\n")
        a("| step | calls | cumulative (s) | share |")
        a("|---|---:|---:|---:|")
        for b in post["buckets"]:
            a(f"| {b['label']} | {b['calls']:,} | {b['cum_s']:.3f} | {100 * b['share']:.0f}% |")
        a("")
    if imp:
        a(f"## Bulk import of {imp['rows']:,} historical incidents\n")
        a("CSV with the columns of geodata/incidents.csv (id, reported_at, category, lon, lat, source, severity, "
          "description): rows sampled from it with a fixed seed, points jittered by up to ±0.003°, reported_at spread "
          "over 2023-11 – 2025-10. Imported into a fresh demo store; wall time of the whole `gridmap` process "
          "(start-up, CSV read, validation, assignment, inserts), CPU and peak RSS from `/usr/bin/time -v`.\n")
        a("| rows | wall (s) | rows/s | CPU user+sys (s) | peak RSS (MB) | incidents in store (demo + imported) |")
        a("|---:|---:|---:|---:|---:|---:|")
        a(f"| {imp['rows']:,} | {imp['wall_s']:.1f} | {imp['rows_per_s']:,.0f} | {imp['cpu_s']:.1f} | "
          f"{imp['rss_mb']:.0f} | {imp['stored']:,} = {imp['demo']:,} + {imp['stored'] - imp['demo']:,} |\n")
        met = imp["wall_s"] < 60
        a(f"Target < 60 s: **{'met' if met else 'missed'}** ({imp['wall_s']:.1f} s). "
          f"Other processes' CPU during the import: {imp['other_cores']:.2f} cores. Output: "
          f"`{imp['stdout'].replace(str(imp['csv']), 'DIR/history.csv')}`\n")
    if prof:
        a(f"### Where the import's time goes (cProfile, first {prof['rows']:,} rows of the same CSV)\n")
        a(f"`{prof['cmd']}` — {prof['wall_s']:.1f} s wall under the profiler (read the shares, not the seconds). "
          "Cumulative time per phase; nested rows are part of the row above.\n")
        a("| phase | calls | cumulative (s) | share of profile |")
        a("|---|---:|---:|---:|")
        for b in prof["buckets"]:
            a(f"| {b['label']} | {b['calls']:,} | {b['cum_s']:.2f} | {100 * b['share']:.0f}% |")
        a(f"| (whole process, incl. start-up) | | {prof['total_s']:.2f} | 100% |")
        a("\nTop functions by own time:\n")
        a("| function | calls | own time (s) |")
        a("|---|---:|---:|")
        for t in prof["top_tottime"]:
            a(f"| `{t['func']}` | {t['calls']:,} | {t['tottime_s']:.2f} |")
        a("")
    if sketch:
        a(f"### Measured sketch of the write (not gridmap; {sketch['rows']:,} rows, no profiler)\n")
        a("The same incidents (from `import_rows`), written into fresh demo stores two ways: "
          "`repo.add_many` as the command calls it (gridmap's code as measured), and the sketch: two executemany "
          "statements (incidents with ids from max(id)+1 inside the transaction, then events).\n")
        a("| step | seconds | per row (µs) | extrapolated to 200,000 rows (s) |")
        a("|---|---:|---:|---:|")
        for key, label in (("import_rows_s", "`import_rows` (validate + assign)"), ("add_many_s", "write: `repo.add_many`"),
                           ("executemany_s", "write: 2 × executemany")):
            a(f"| {label} | {sketch[key]:.2f} | {1e6 * sketch[key] / sketch['rows']:.0f} | "
              f"{sketch[key] * 200_000 / sketch['rows']:.0f} |")
        a(f"\n`store.current_plan()` alone: {sketch['current_plan_ms']:.3f} ms per call, called once per row by "
          f"`_assign` (≈ {sketch['current_plan_ms'] * 200:.0f} s for 200,000 rows).\n")
    suggestions = _suggestions(args, gm_open, post, imp, prof, sketch, load)
    if suggestions:
        a("## Suggestions (for gridmap/, not made here)\n")
        L.extend(suggestions)
        a("")
    text = "\n".join(L) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


def _suggestions(args, gm_open, post, imp, prof, sketch, load) -> list[str]:
    """Suggestions derived from this run's figures; an item appears only if the profile shows its cause."""
    out: list[str] = []
    missed_post = any((r["latency"]["p99_ms"] or 1e9) >= 50 or r["statuses"].get("201", 0) != r["planned"] for r in gm_open)
    if missed_post and post:
        b = {x["label"].strip(): x for x in post["buckets"]}
        share = lambda k: 100 * b[k]["share"] if k in b else 0.0  # noqa: E731
        cpu_ms = max((r["server_cpu_ms_per_req"] for r in gm_open), default=post["ms_per_req"])
        out.append("**Report endpoint (p99 at 200 req/s).** One report costs "
                   f"{post['ms_per_req']:.1f} ms of CPU in-process and up to {cpu_ms:.1f} ms in gunicorn (table: server "
                   f"CPU per request), so {args.rate:g} req/s keeps ≈{cpu_ms * args.rate / 1000:.1f} of the 2 cores busy "
                   "before the load generator and anything else on the machine; the tail comes from queueing behind "
                   "that and behind SQLite's single write lock.")
        k = 1
        sync_txt = ""
        if post.get("synchronous") == 2:
            sync_txt = (" Add `PRAGMA synchronous=NORMAL` to `_sqlite_pragmas`: gridmap leaves SQLite's FULL, one WAL "
                        f"fsync per report (`sqlite3 commit` {share('all SQL: sqlite3 `commit`'):.0f}% "
                        "of the in-process profile, held under the write lock); with WAL, NORMAL loses at most the last "
                        "commits on a power cut.")
        out.append(f"{k}. Write lock: every report is a write transaction; writers of other worker processes wait in "
                   "busy_timeout's sleep-and-retry loop (sleeps of 1–100 ms) and a lock holder may itself be waiting "
                   "for the GIL or a core. Keep concurrent writers few (serialise writes per process, fewer "
                   "processes) and the transaction short." + sync_txt)
        k += 1
        advice = [
            ("`repo.add`", "`repo.add` (INSERT incident + event, commit)",
             "the write transaction itself, held under the write lock: two INSERTs through SQLAlchemy Core plus the "
             "commit — pre-compile the two statements, and keep anything else out of the transaction"),
            ("`duplicates_of`", "`duplicates_of` (bbox query + distance)",
             "one indexed bbox query per report; with a composite index (category, status, reported_at) or an R*Tree on "
             "open incidents it stays flat as the table grows"),
            ("`_route`", "`_route` (roles, roster, open load)",
             "roles + roster + open-load queries per report: cache `roles(unit)` and the roster per unit (invalidated "
             "on edit), keep only the open-load count live"),
            ("`store.current_plan()`", "`store.current_plan()`",
             "a query for a value that only changes on publish: cache it with the index"),
            ("flask-limiter", "flask-limiter check",
             "the anonymous rate-limit check, "
             f"{b['flask-limiter check']['calls'] / post['n'] if 'flask-limiter check' in b else 0:.0f} call(s) of "
             "`_check_request_limit` per report (memory storage): check once per request"),
        ]
        steps = [(n_, share(label), text) for n_, label, text in advice if share(label) >= 5]
        if steps:
            out.append(f"{k}. CPU per report, biggest steps of the in-process profile: "
                       + "; ".join(f"{n_} {v:.0f}% — {text}" for n_, v, text in sorted(steps, key=lambda x: -x[1])) + ".")
            k += 1
        cfg = [(r["config"], r["latency"]["p99_ms"]) for r in gm_open]
        closed = {r["config"]: r["achieved_rps"] for r in load if r["server"] == "gridmap" and r["mode"] == "closed"}
        if cfg:
            best = min(cfg, key=lambda c: c[1] if c[1] is not None else 1e9)
            out.append(f"{k}. Worker model, this run: " + "; ".join(
                f"`{' '.join(CONFIGS[c])}` p99 {_f(p)} ms at {args.rate:g} req/s, max {closed.get(c, 0):.0f} req/s"
                for c, p in cfg) + f". Best here: `{' '.join(CONFIGS[best[0]])}`. For sustained writes from several "
                "processes at this rate, PostgreSQL (supported) removes the single write lock.")
    if imp and imp["wall_s"] >= 60 and prof:
        b = {x["label"].strip(): x for x in prof["buckets"]}
        share = lambda k: 100 * b[k]["share"] if k in b else 0.0  # noqa: E731
        calls = lambda k: b[k]["calls"] if k in b else 0  # noqa: E731
        out.append("")
        out.append(f"**Bulk import ({imp['wall_s']:.0f} s for {imp['rows']:,} rows, target 60 s).** Biggest phases of the "
                   "profile: " + ", ".join(f"{x['label'].strip()} {100 * x['share']:.0f}%" for x in sorted(
                       prof["buckets"][1:], key=lambda x: -x["share"])[:4]) + ".")
        k = 1
        per_row_insert = share("building one `insert().values(**row)` per row")
        if per_row_insert >= 5:
            out.append(f"{k}. Insert in bulk on SQLite too: `IncidentRepo.add_many` builds and executes one "
                       f"`insert().values(**row)` per incident ({per_row_insert:.0f}% of the profile). Use executemany "
                       "(`conn.execute(t.insert().returning(t.c.id, sort_by_parameter_order=True), rows)` — SQLite ≥ 3.35 "
                       "has RETURNING and SQLAlchemy 2 batches it)" + (
                           f"; the sketch measured {sketch['add_many_s']:.1f} s → {sketch['executemany_s']:.1f} s per "
                           f"{sketch['rows']:,} rows." if sketch else "."))
            k += 1
        plan_share = share("`store.current_plan()` (one SQL query per row)")
        if plan_share >= 3 and calls("`store.current_plan()` (one SQL query per row)") >= prof["rows"]:
            out.append(f"{k}. Read the plan once per import, not once per row: `_assign` calls `store.current_plan()` "
                       f"for every row ({plan_share:.0f}% of the profile).")
            k += 1
        loc = share("`index.locate`")
        if calls("`index.locate`") >= prof["rows"]:
            out.append(f"{k}. Locate in bulk: `import_rows` calls `index.locate` point by point ({loc:.0f}%); "
                       "`locate_many` on the lon/lat arrays (as `gridmap assign` does) takes it out of the per-row loop.")
            k += 1
        if sketch:
            w_us = 1e6 * min(sketch["add_many_s"], sketch["executemany_s"]) / sketch["rows"]
            v_us = 1e6 * sketch["import_rows_s"] / sketch["rows"]
            out.append(f"{k}. Per-row budget: 60 s for 200,000 rows is 300 µs/row for everything. Measured here: "
                       f"validate + assign (`import_rows`) {v_us:.0f} µs/row, write {w_us:.0f} µs/row at best "
                       f"(executemany), plus CSV read and start-up. " + (
                           "`import_rows` alone is over budget: its per-row work (`parse_report` with time-zone and "
                           "CRS parsing, dict building, `_new_incident`, locate) needs a vectorised path for imports."
                           if v_us >= 300 else "Re-run this script after each change."))
    return out


def _load_table(L, rows, open_: bool):
    L.append("| server | gunicorn | requests | 201 | other / errors | achieved req/s | p50 (ms) | p90 (ms) | p99 (ms) | "
             "max (ms) | server CPU per req (ms) | server cores | client CPU (s) | other procs (cores)"
             + (" | late p99 (ms) |" if open_ else " |"))
    L.append("|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if open_ else ""))
    for r in rows:
        other = {k: v for k, v in r["statuses"].items() if k != "201"} | r["errors"]
        if r["skipped"]:
            other["skipped"] = r["skipped"]
        lt = r["latency"]
        noisy = " ⚠" if r["other_cores"] > NOISY_CORES else ""
        L.append(f"| {r['server']}{noisy} | {' '.join(CONFIGS[r['config']])} | {r['completed']:,} | {r['statuses'].get('201', 0):,} | "
                 f"{other or 0} | {r['achieved_rps']:.0f} | {_f(lt['p50_ms'])} | {_f(lt['p90_ms'])} | {_f(lt['p99_ms'])} | "
                 f"{_f(lt['max_ms'])} | {r['server_cpu_ms_per_req']:.2f} | {r['server_cores']:.2f} | {r['client_cpu_s']:.1f} | "
                 f"{r['other_cores']:.2f}"
                 + (f" | {_f(r['late']['p99_ms'])} |" if open_ else " |"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd")
    lg = sub.add_parser("loadgen", help="the load generator process (used by the main run)")
    lg.add_argument("--host", default="127.0.0.1")
    lg.add_argument("--port", type=int, required=True)
    lg.add_argument("--path", default="/api/v1/incidents")
    lg.add_argument("--payloads", required=True, help="JSON list of request bodies")
    lg.add_argument("--out", required=True)
    lg.add_argument("--mode", choices=["open", "closed"], default="open")
    lg.add_argument("--rate", type=float, default=200.0)
    lg.add_argument("--duration", type=float, default=20.0)
    lg.add_argument("--threads", type=int, default=32)
    lg.add_argument("--max-requests", type=int, default=4000)
    lg.add_argument("--timeout", type=float, default=10.0, help="socket timeout per request")
    lg.add_argument("--drain", type=float, default=20.0, help="open loop: seconds after the last arrival to finish")
    ap.add_argument("--configs", default="gthread,sync", help=f"gunicorn worker configs, of {','.join(CONFIGS)}")
    ap.add_argument("--rate", type=float, default=200.0)
    ap.add_argument("--duration", type=float, default=20.0)
    ap.add_argument("--open-threads", type=int, default=32)
    ap.add_argument("--closed-clients", type=int, default=8)
    ap.add_argument("--closed-duration", type=float, default=10.0)
    ap.add_argument("--closed-max", type=int, default=60_000)
    ap.add_argument("--import-rows", type=int, default=200_000)
    ap.add_argument("--import-timeout", type=float, default=420.0)
    ap.add_argument("--profile-rows", type=int, default=5_000)
    ap.add_argument("--profile", choices=["auto", "always", "never"], default="auto",
                    help="profile the import (auto: when it misses the 60 s target)")
    ap.add_argument("--post-profile", type=int, default=500, help="in-process profile of N reports (0 = skip)")
    ap.add_argument("--quiet-wait", type=float, default=15.0,
                    help="before each timed run, wait up to this many s for the machine to be nearly idle")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-import", action="store_true")
    ap.add_argument("--out", default=str(RESULTS / "incidents.md"))
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, profile, CSV)")
    args = ap.parse_args()
    if args.cmd == "loadgen":
        loadgen(args)
        return
    args.configs = [c for c in args.configs.split(",") if c]
    for c in args.configs:
        if c not in CONFIGS:
            ap.error(f"unknown config {c!r}")
    started = time.perf_counter()

    def log(msg):
        print(f"[{time.perf_counter() - started:6.1f}s] {msg}", flush=True)

    work = Path(tempfile.mkdtemp(prefix="gridmap-bench-incidents-"))
    load, imp, prof, sketch, post = [], None, None, None, None
    try:
        log(f"temp dir {work}")
        if not args.skip_load:
            db = _demo(work, "gridmap")
            log(f"demo store built: {db}")
            args.stored_demo = _count(db, "incidents")
            load = load_phase(args, work, db, log)
            args.stored_after_load = _count(db, "incidents")
            if args.post_profile:
                post = post_profile_phase(args, work, log)
        if not args.skip_import:
            imp = import_phase(args, work, log)
            if args.profile == "always" or (args.profile == "auto" and imp["wall_s"] >= 60):
                prof = profile_phase(args, work, log)
                sketch = sketch_phase(args, work, log)
        text = write_report(Path(args.out), args, load, imp, prof, sketch, post, started)
        log(f"wrote {args.out}")
        print(text)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
