"""A city's history at scale: import, metrics, supervision at N incidents, SQLite and PostGIS.

    python bench/bench_history.py                      # N = 1,000,000 -> bench/results/history.md
    python bench/bench_history.py --rows 200000 --backends sqlite

For each backend, in one run:
1. A demo store (``gridmap --db URL demo``), then ``gridmap incidents import`` of an N-row
   history CSV (geodata/incidents.csv rows, every time shifted together onto a report time
   spread over 3 years from 2023-11-01, points jittered: ~9 % open, as the sample), timed as a
   whole process with its peak RSS. The old import (git ``--baseline-ref``, run from an export
   of that commit) runs on ``--baseline-rows`` rows only: at 1M it needs 8 GB.
2. Metrics by zone over 2024 (~1/3 of the history): new ``metrics_db.compute_db`` (SQL) vs
   the old ``metrics.compute(repo.query(...))``, results compared; and the whole
   ``gridmap incidents metrics --by zone`` process.
3. Supervision: the new paged SQL list vs the old "load every open incident" path.
PostGIS is a throwaway server (tests/pg_server.py) on 127.0.0.1, stopped by its pid at the end.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))
TIMES = ("reported_at", "dispatched_at", "due_at", "handled_at", "closed_at")


def make_history_csv(path: Path, n: int, seed: int = 13, years: int = 3) -> None:
    """n incidents: sample rows with all their times moved together onto a random report time."""
    with open(ROOT / "geodata" / "incidents.csv", encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames
        src = list(reader)
    parsed = [{k: dt.datetime.fromisoformat(r[k]) if r[k] else None for k in TIMES} for r in src]
    rnd = random.Random(seed)
    start = dt.datetime(2023, 11, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    span = years * 365 * 86400
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        for i in range(n):
            k = rnd.randrange(len(src))
            r, times = dict(src[k]), parsed[k]
            shift = start + dt.timedelta(seconds=rnd.randrange(span)) - times["reported_at"]
            for name in TIMES:
                if times[name] is not None:
                    r[name] = (times[name] + shift).isoformat()
            r["id"] = f"H{i + 1:07d}"
            r["lon"] = f"{float(r['lon']) + rnd.uniform(-0.003, 0.003):.6f}"
            r["lat"] = f"{float(r['lat']) + rnd.uniform(-0.003, 0.003):.6f}"
            w.writerow(r)


def run(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> dict:
    """Run a command; wall time, CPU time (user + system) and the peak RSS of that child (KB -> MB)."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = ru.ru_utime + ru.ru_stime
    t = time.perf_counter()
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as rss:  # GNU time: this child's own peak RSS
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd], capture_output=True, text=True,
                           env=env, timeout=timeout)
        wall = time.perf_counter() - t
        own_kb = int((rss.read().strip().splitlines() or ["0"])[-1] or 0)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = ru.ru_utime + ru.ru_stime - cpu0
    if p.returncode != 0:
        raise RuntimeError(f"{cmd}: {p.stderr[-2000:]}")
    # ru_maxrss of children is the max over all children so far: only trust it when it rose
    return {"wall_s": wall, "cpu_s": cpu, "peak_mb": own_kb / 1024 if own_kb else None,
            "stdout": p.stdout.strip()}


def gridmap_cmd(python: str = sys.executable, path: Path | None = None) -> list[str]:
    if path is None:
        return [python, "-m", "gridmap"]
    return [python, "-c", f"import sys; sys.path.insert(0, {str(path)!r}); from gridmap.cli import main; main()"]


def old_tree(ref: str, work: Path) -> Path:
    """The gridmap package of commit ``ref`` exported to ``work/old`` (the old code, runnable).

    Its top-level ``templates/`` goes in as ``gridmap/templates``: installed, that folder is the
    package ``gridmap.templates``, and without it the old code would render this tree's templates."""
    dst = work / "old"
    dst.mkdir()
    arch = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "gridmap", "templates"], capture_output=True,
                          check=True)
    subprocess.run(["tar", "-x", "-C", str(dst)], input=arch.stdout, check=True)
    if (dst / "templates").is_dir() and not (dst / "gridmap" / "templates").exists():
        (dst / "templates").rename(dst / "gridmap" / "templates")
    return dst


CPU: dict[str, float] = {}  # CPU seconds of the last timed() call per label (the machine is shared)


def timed(fn, repeat: int = 3, label: str = ""):
    """Best wall time of ``repeat`` calls (and its CPU time in CPU[label]); the last result."""
    best, out = None, None
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        out = fn()
        d, dc = time.perf_counter() - t, time.process_time() - c
        if best is None or d < best:
            best = d
            CPU[label] = dc
    return best, out


def in_process(url: str, log) -> dict:
    """Metrics and supervision, new vs old, inside this process on the imported store."""
    from zoneinfo import ZoneInfo

    from gridmap.incidents import metrics as py
    from gridmap.incidents.metrics_db import compute_db
    from gridmap.incidents.model import OPEN_STATUSES
    from gridmap.services import Services
    from gridmap.settings import Settings

    svc = Services.open(Settings(db=url)).incidents
    tz = ZoneInfo(svc.services.settings.timezone)
    start, end = dt.datetime(2024, 1, 1, tzinfo=tz), dt.datetime(2025, 1, 1, tzinfo=tz)
    out = {"count": svc.repo.count()}
    out["metrics_new_s"], (new, _) = timed(lambda: compute_db(svc.repo, "zone", start, end, tz=tz), label="metrics_new")
    for by in ("grid", "town", "worker", "category", "month", "all"):
        out[f"metrics_new_{by}_s"], _ = timed(lambda: compute_db(svc.repo, by, start, end, tz=tz), repeat=1)
    log(f"    metrics by zone (SQL) {out['metrics_new_s']:.3f} s")
    out["metrics_old_s"], old = timed(lambda: py.compute(svc.repo.query(start=start, end=end), "zone", start, end),
                                      repeat=1, label="metrics_old")
    out["in_range"] = sum(m.count for m in new)
    out["metrics_equal"] = all(
        a.__dict__ | {"mean_hours_to_close": 0} == b.__dict__ | {"mean_hours_to_close": 0}
        and abs((a.mean_hours_to_close or 0) - (b.mean_hours_to_close or 0)) <= 1e-9 * abs(b.mean_hours_to_close or 1)
        for a, b in zip(new, old)) and len(new) == len(old)
    log(f"    metrics by zone (old Python) {out['metrics_old_s']:.1f} s, equal: {out['metrics_equal']}")
    now = dt.datetime(2026, 11, 1, tzinfo=tz)
    sup = getattr(svc.repo, "supervision_page", None)
    if sup is not None:
        out["supervision_new_s"], page = timed(lambda: sup(now, now + dt.timedelta(hours=2), limit=100),
                                                       label="supervision_new")
        out["supervision_new_rows"] = sum(len(v) for v in page.values() if isinstance(v, list))
    out["supervision_old_s"], old_open = timed(
        lambda: [i for i in svc.repo.query(status=OPEN_STATUSES, order="due_at") if py.is_overdue(i, now)], repeat=1,
        label="supervision_old")
    out["supervision_old_rows"] = len(old_open)
    log(f"    supervision: new {out.get('supervision_new_s', float('nan')):.3f} s, old {out['supervision_old_s']:.1f} s")
    out |= {f"{k}_cpu_s": v for k, v in CPU.items() if k}
    svc.services.store.close()
    return out


def bench_backend(name: str, new_db, csv_path: Path, base_csv: Path | None, old: Path | None, work: Path,
                  log) -> dict:
    """Every job on one backend; ``new_db(label)`` gives the URL of a fresh, empty database."""
    url = new_db("history")
    gm = gridmap_cmd()
    res: dict = {"backend": name}
    log(f"[{name}] demo store")
    run([*gm, "--db", url, "demo", "--out", str(work / f"out-{name}")])
    log(f"[{name}] import {csv_path.name}")
    res["import"] = run([*gm, "--db", url, "incidents", "import", str(csv_path)])
    log(f"    {res['import']['wall_s']:.1f} s, peak {res['import']['peak_mb']} MB: {res['import']['stdout']}")
    res |= in_process(url, log)
    cli = run([*gm, "--db", url, "incidents", "metrics", "--by", "zone", "--from", "2024-01-01", "--to", "2025-01-01"])
    res["metrics_cli_s"], res["metrics_cli_cpu_s"] = cli["wall_s"], cli["cpu_s"]
    log(f"    gridmap incidents metrics --by zone: {cli['wall_s']:.2f} s whole process")
    if base_csv is not None and old is not None:
        for label, code in (("new", None), ("old", old)):
            burl = new_db(f"base_{label}")
            # each code on a store it made itself (the old code cannot open the new schema)
            run([*gridmap_cmd(path=code), "--db", burl, "demo", "--out", str(work / f"out-b-{name}-{label}")])
            r = run([*gridmap_cmd(path=code), "--db", burl, "incidents", "import", str(base_csv)])
            res[f"baseline_import_{label}"] = r
            log(f"    baseline import ({label} code, {base_csv.name}): {r['wall_s']:.1f} s, peak {r['peak_mb']} MB")
    return res


def report(results: list[dict], args) -> str:
    L = [f"# History at scale: {args.rows:,} incidents", "",
         f"`python bench/bench_history.py --rows {args.rows} --baseline-rows {args.baseline_rows} "
         f"--backends {' '.join(args.backends)}` on {os.cpu_count()} cores (shared), {dt.date.today()}; "
         f"load average at the end {os.getloadavg()[0]:.1f}. Wall time (CPU time of the process doing the work: "
         "on a shared machine the fairer figure).", ""]
    for r in results:
        imp = r["import"]
        L += [f"## {r['backend']}", "", "| job | new | old | ratio |", "| --- | --- | --- | --- |"]
        L.append(f"| import {args.rows:,} rows (whole process) | {imp['wall_s']:.1f} s ({imp.get('cpu_s', 0):.1f} s CPU), "
                 f"peak {imp['peak_mb'] or '?'} MB | (old code only at the baseline size) | |")
        bn, bo = r.get("baseline_import_new"), r.get("baseline_import_old")
        if bn and bo:
            L.append(f"| import {args.baseline_rows:,} rows | {bn['wall_s']:.1f} s ({bn['cpu_s']:.1f} s CPU), "
                     f"{bn['peak_mb'] or '?'} MB | {bo['wall_s']:.1f} s ({bo['cpu_s']:.1f} s CPU), {bo['peak_mb'] or '?'} MB"
                     f" | {bo['cpu_s'] / bn['cpu_s']:.1f}x CPU |")
        L.append(f"| metrics by zone, 2024 ({r['in_range']:,} incidents) | {r['metrics_new_s']:.3f} s "
                 f"({r.get('metrics_new_cpu_s', 0):.3f} s CPU) | {r['metrics_old_s']:.1f} s "
                 f"({r.get('metrics_old_cpu_s', 0):.1f} s CPU) | {r['metrics_old_s'] / r['metrics_new_s']:.0f}x "
                 f"(equal: {r['metrics_equal']}) |")
        for by in ("grid", "town", "worker", "category", "month", "all"):
            L.append(f"| metrics by {by} (SQL) | {r[f'metrics_new_{by}_s']:.3f} s | | |")
        L.append(f"| `gridmap incidents metrics --by zone` whole process | {r['metrics_cli_s']:.2f} s "
                 f"({r.get('metrics_cli_cpu_s', 0):.2f} s CPU) | | |")
        if "supervision_new_s" in r:
            L.append(f"| supervision (first page of 100 + counts) | {r['supervision_new_s']:.3f} s "
                     f"({r.get('supervision_new_cpu_s', 0):.3f} s CPU) | "
                     f"{r['supervision_old_s']:.1f} s ({r['supervision_old_rows']:,} overdue) | "
                     f"{r['supervision_old_s'] / r['supervision_new_s']:.0f}x |")
        L.append("")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--baseline-rows", type=int, default=100_000, help="rows for the old import (0: skip)")
    ap.add_argument("--baseline-ref", default="6cf6caf", help="git commit of the old code")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgis"], choices=["sqlite", "postgis"])
    ap.add_argument("--out", type=Path, default=RESULTS / "history.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridmap-history-"))
    log = lambda msg: print(msg, flush=True)
    pg = None
    try:
        csv_path = work / f"history_{args.rows}.csv"
        t = time.perf_counter()
        make_history_csv(csv_path, args.rows)
        log(f"wrote {csv_path} in {time.perf_counter() - t:.0f} s")
        base_csv = old = None
        if args.baseline_rows:
            base_csv = work / f"history_{args.baseline_rows}.csv"
            make_history_csv(base_csv, args.baseline_rows)
            old = old_tree(args.baseline_ref, work)
        results = []
        for name in args.backends:
            if name == "sqlite":
                new_db = lambda label: f"sqlite:///{work / (label + '.db')}"
            else:
                from tests.pg_server import PostgresServer, find_bindir

                pg = PostgresServer(find_bindir()).start()
                new_db = pg.create_database
            results.append(bench_backend(name, new_db, csv_path, base_csv, old, work, log))
            args.out.with_suffix(".partial.md").write_text(report(results, args), encoding="utf-8")
        text = report(results, args)
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text, encoding="utf-8")
        print(text)
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
