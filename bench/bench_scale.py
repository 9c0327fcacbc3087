"""Issue #13's page goals at 1,000,000 incidents, this tree vs the baseline commit, one run, SQLite and PostGIS.

    python bench/bench_scale.py --sqlite /work/meas/scale/h1m_0008.db --pg-dump /work/meas/scale/h1m_0008.pgdump

The 1M history (bench_history.py's generator, 3 years from 2023-11-01, ~9 % open) is built once
by the baseline code into a SQLite file and a pg_dump (see /work/meas/scale/build.sh and
build_pg.py); each run copies it twice: one copy stays at the baseline's schema, the other is
migrated by this tree (``gridmap init`` migrates it: the roll-up rebuild and the text
index are timed). Then, alternating baseline / new, ``bench/scale_probe.py`` times every page
in its own process and ``gridmap incidents metrics --by zone`` is timed as a whole process.
The metrics API's rows of both trees are compared. Results: bench/results/scale.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.bench_history import gridmap_cmd, old_tree, run  # noqa: E402

GOALS = {"metrics_zone_2024": 0.5, "map": 1.0, "map_json": 1.0, "grid_page": 0.3, "grid_json": 0.3,
         "board_search_2": 0.3, "board_search_2_common": 0.3, "board_search_5": 0.3}
LABELS = {"metrics_zone_2024": "`GET /api/v1/metrics?by=zone&from=2024-01-01&to=2025-01-01`",
          "map": "`GET /map` (open incidents)", "map_json": "`GET /map.json`", "grid_page": "grid page `/grids/<busiest>`",
          "grid_json": "`/grids/<busiest>.json`", "board_search_2": "board search `q=井盖` (2 chars, ~3 %)",
          "board_search_2_common": "board search `q=垃圾` (2 chars, ~22 %)",
          "board_search_5": "board search `q=宅基地纠纷` (5 chars, ~2 %)"}


def probe(code: Path, url: str, reps: int) -> dict:
    r = run([sys.executable, str(ROOT / "bench" / "scale_probe.py"), "--code", str(code), "--db", url,
             "--reps", str(reps)], timeout=3600)
    return json.loads(r["stdout"].splitlines()[-1])


def cli_metrics(code: Path, url: str) -> dict:
    return run([*gridmap_cmd(path=code), "--db", url, "incidents", "metrics", "--by", "zone", "--from", "2024-01-01",
                "--to", "2025-01-01"])


def bench_pair(name: str, old_url: str, new_url: str, old: Path, reps: int, rounds: int, log,
               migrate: bool = True) -> dict:
    res: dict = {"backend": name}
    if migrate:
        log(f"[{name}] migrate the new copy (roll-ups, text index)")
        res["migrate"] = run([*gridmap_cmd(path=ROOT), "--db", new_url, "init"], timeout=7200)
        log(f"    {res['migrate']['wall_s']:.1f} s ({res['migrate']['cpu_s']:.1f} s CPU)")
    for k in range(rounds):  # alternate, so load on the shared machine falls on both
        for label, code, url in (("old", old, old_url), ("new", ROOT, new_url)):
            log(f"[{name}] round {k + 1}: {label}")
            p = probe(code, url, reps)
            c = cli_metrics(code, url)
            prev = res.get(label)
            if prev is None:
                res[label] = p | {"cli": c}
                continue
            for key, v in p.items():
                if isinstance(v, dict) and v["s"] < prev[key]["s"]:
                    prev[key] = v
            if c["wall_s"] < prev["cli"]["wall_s"]:
                prev["cli"] = c
    o, n = res["old"]["metrics_zone_2024"], res["new"]["metrics_zone_2024"]
    res["metrics_equal"] = o.get("digest") == n.get("digest")
    return res


def report(results: list[dict], args) -> str:
    L = ["# Pages at a city's scale: 1,000,000 incidents (issue #13)", "",
         f"`python bench/bench_scale.py --rounds {args.rounds} --reps {args.reps}"
         f"{' --new-sqlite ...' if args.new_sqlite else ''}` on {os.cpu_count()} cores (shared), "
         f"{dt.date.today()}, load average at the end {os.getloadavg()[0]:.1f}. Baseline: git `{args.baseline_ref}` "
         "(exported and run as is, on its own copy of the store); new: this tree, on a copy migrated to its "
         "schema. Each figure is the best of the rounds' best-of-reps wall times through Flask's test client "
         "(the whole view; no network, no gzip) in its own process; old and new alternate.", ""]
    for r in results:
        m = r.get("migrate")
        mig = (f"{m['wall_s']:.1f} s ({m['cpu_s']:.1f} s CPU)" if m else
               "done before the run (`--new-sqlite`, a copy this tree migrated or built)")
        L += [f"## {r['backend']}", "",
              f"Migration of the 1M store to the new schema (roll-ups rebuilt, indexes built): "
              f"{mig}. Metrics API rows identical old vs new: **{r['metrics_equal']}**.", "",
              "| job | goal | old | new | ratio | bytes old / new | met |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for key, label in LABELS.items():
            o, n = r["old"].get(key), r["new"].get(key)
            if not o or not n:
                continue
            goal = GOALS[key]
            L.append(f"| {label} | < {goal} s | {o['s']:.3f} s | {n['s']:.3f} s | {o['s'] / n['s']:.1f}x | "
                     f"{o['bytes']:,} / {n['bytes']:,} | {'yes' if n['s'] < goal else 'no'} |")
        oc, nc = r["old"]["cli"], r["new"]["cli"]
        L.append(f"| `gridmap incidents metrics --by zone` 2024, whole process | < 1 s | {oc['wall_s']:.2f} s "
                 f"({oc['cpu_s']:.2f} s CPU) | {nc['wall_s']:.2f} s ({nc['cpu_s']:.2f} s CPU) | "
                 f"{oc['wall_s'] / nc['wall_s']:.1f}x | | {'yes' if nc['wall_s'] < 1 else 'no'} |")
        L.append("")
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sqlite", type=Path, help="the 1M SQLite store at the baseline's schema")
    ap.add_argument("--new-sqlite", type=Path, help="the same store already migrated by this tree (skips the migration)")
    ap.add_argument("--pg-dump", type=Path, help="pg_dump -Fc of the 1M PostGIS store at the baseline's schema")
    ap.add_argument("--baseline-ref", default="c341592")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--work", type=Path, default=None, help="where the copies go (default: a temp dir)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "scale.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridmap-scale-", dir=args.work))
    log = lambda msg: print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)  # noqa: E731
    old = old_tree(args.baseline_ref, work)
    results, pg = [], None
    try:
        if args.sqlite:
            urls = {}
            for label in ("old", "new"):
                dst = work / f"{label}.db"
                src = args.new_sqlite if label == "new" and args.new_sqlite else args.sqlite
                log(f"copy {src} -> {dst}")
                shutil.copy(src, dst)
                urls[label] = f"sqlite:///{dst}"
            results.append(bench_pair("sqlite", urls["old"], urls["new"], old, args.reps, args.rounds, log,
                                      migrate=not args.new_sqlite))
            args.out.with_suffix(".partial.md").write_text(report(results, args), encoding="utf-8")
        if args.pg_dump:
            from tests.pg_server import PostgresServer, find_bindir

            bindir = find_bindir()
            pg = PostgresServer(bindir).start()
            old_url = pg.create_database("old")
            log("pg_restore the baseline dump")
            cmd = [str(bindir / "pg_restore"), "-d", old_url, "--no-owner", str(args.pg_dump)]
            subprocess.run(["runuser", "-u", "postgres", "--", *cmd] if pg.user else cmd, check=True)
            subprocess.run(["runuser", "-u", "postgres", "--", str(bindir / "vacuumdb"), "-z", "-d", old_url]
                           if pg.user else [str(bindir / "vacuumdb"), "-z", "-d", old_url], check=True)
            import psycopg

            with psycopg.connect(pg.url(), autocommit=True) as conn:
                conn.execute('CREATE DATABASE "new" TEMPLATE "old"')
            results.append(bench_pair("postgis", old_url, pg.url("new"), old, args.reps, args.rounds, log))
        text = report(results, args)
        args.out.write_text(text, encoding="utf-8")
        print(text)
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
