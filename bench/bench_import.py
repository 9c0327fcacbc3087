"""`gridmap incidents import` of a city's history, this tree against a baseline commit, in one run.

    python bench/bench_import.py --rows 1000000 --baseline-ref ccc1f47   # -> bench/results/import.md
    python bench/bench_import.py --rows 200000 --backends sqlite --csv history.csv

For each backend and each code (this tree, ``--baseline-ref`` exported with ``git archive``), in
turns (new, old, new, old ... for ``--rounds``): a fresh demo store made by that code, then the
import of the same N-row CSV (``bench_history.make_history_csv``), timed as a whole process with
its CPU time and its own peak RSS (GNU time). After each import the store is checked: N more
incidents and N more events than the demo had, and roll-ups whose totals equal the incidents. The two codes' stores
must hold the same incidents (grid, zone, status, times) and the same roll-up rows: a checksum of
each is compared. PostGIS is a throwaway server (tests/pg_server.py) on 127.0.0.1, stopped by its
pid at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_history import gridmap_cmd, make_history_csv, old_tree, run  # noqa: E402

CHECKED = ("external_id", "grid_code", "zone_code", "town_code", "status", "reported_at", "closed_at", "due_at",
           "assignee", "rating")


def fingerprint(url: str) -> dict:
    """Counts and checksums of what an import stored (the incidents' routed fields, the roll-ups)."""
    import sqlalchemy as sa

    from gridmap.store import open_store, schema

    store = open_store(url)
    out: dict = {}
    try:
        with store.connect() as conn:
            t = schema.incidents
            out["incidents"] = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            out["events"] = conn.execute(sa.select(sa.func.count()).select_from(schema.incident_events)).scalar()
            h = hashlib.sha256()
            for row in conn.execute(sa.select(t.c.id, *[t.c[c] for c in CHECKED]).order_by(t.c.id)):
                h.update(repr(tuple(row)).encode())
            out["incidents_sha"] = h.hexdigest()[:16]
            for table in (schema.rollup_day, schema.rollup_month):
                keys = [table.c[c.name] for c in table.columns if c.name != "id"]
                h = hashlib.sha256()
                for row in conn.execute(sa.select(*keys).order_by(*keys[:6])):
                    h.update(repr(tuple(row)).encode())
                out[f"{table.name}_sha"] = h.hexdigest()[:16]
                out[f"{table.name}_count"] = conn.execute(sa.select(sa.func.sum(table.c["count"]))).scalar()
    finally:
        store.close()
    return out


def one_import(code: Path | None, url: str, csv_path: Path, work: Path, label: str, log) -> dict:
    run([*gridmap_cmd(path=code), "--db", url, "demo", "--out", str(work / f"out-{label}")])
    before = fingerprint(url)  # the demo's own incidents and events
    r = run([*gridmap_cmd(path=code), "--db", url, "incidents", "import", str(csv_path)], timeout=7200)
    r["check"] = fingerprint(url)
    r["added"] = {k: r["check"][k] - before[k] for k in ("incidents", "events")}
    log(f"    {label}: {r['wall_s']:.1f} s wall, {r['cpu_s']:.1f} s CPU, peak {r['peak_mb']:.0f} MB; "
        f"{r['check']['incidents']:,} incidents")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--csv", type=Path, help="an existing history CSV of --rows rows (else one is written)")
    ap.add_argument("--baseline-ref", default="ccc1f47", help="git commit of the old code")
    ap.add_argument("--backends", nargs="+", default=["sqlite", "postgis"], choices=["sqlite", "postgis"])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "import.md")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="gridmap-import-"))
    log = lambda msg: print(msg, flush=True)  # noqa: E731
    pg = None
    results: dict[str, dict[str, list[dict]]] = {}
    try:
        csv_path = args.csv
        if csv_path is None:
            csv_path = work / "history.csv"
            make_history_csv(csv_path, args.rows)
        old = old_tree(args.baseline_ref, work)
        for backend in args.backends:
            if backend == "postgis":
                from tests.pg_server import PostgresServer, find_bindir

                pg = PostgresServer(find_bindir()).start()
            results[backend] = {"new": [], "old": []}
            for k in range(args.rounds):
                for label, code in (("new", None), ("old", old)):
                    log(f"[{backend}] round {k + 1}, {label} code")
                    if pg is not None and backend == "postgis":
                        url = pg.create_database(f"imp_{label}_{k}")
                    else:
                        url = f"sqlite:///{work / f'{label}_{k}.db'}"
                    results[backend][label].append(one_import(code, url, csv_path, work, f"{label}_{k}", log))
                    if backend == "sqlite":
                        for f in work.glob(f"{label}_{k}.db*"):
                            f.unlink() if f.is_file() else shutil.rmtree(f)
            if pg is not None:
                pg.stop()
                pg = None
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)
    args.out.write_text(report(results, args), encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=1, default=str), encoding="utf-8")
    print(args.out.read_text(encoding="utf-8"))


def report(results: dict, args) -> str:
    L = [f"# `gridmap incidents import` of {args.rows:,} incidents: this tree vs {args.baseline_ref}", "",
         f"`python bench/bench_import.py --rows {args.rows} --baseline-ref {args.baseline_ref} --backends "
         f"{' '.join(args.backends)} --rounds {args.rounds}` on {os.cpu_count()} cores, {dt.date.today()}, one run, "
         f"the two codes in turns; load average at the end {os.getloadavg()[0]:.1f}. Whole process (demo store "
         "made first by the same code); best of the rounds.", "",
         "| backend | new: wall / CPU / peak RSS | old: wall / CPU / peak RSS | ratio (wall, CPU) | same rows |",
         "| --- | --- | --- | --- | --- |"]
    for backend, by in results.items():
        new = min(by["new"], key=lambda r: r["wall_s"])
        old = min(by["old"], key=lambda r: r["wall_s"])
        same = all(r["check"] == by["new"][0]["check"] for r in by["new"] + by["old"])
        counted = all(r["added"]["incidents"] == r["added"]["events"] == args.rows and r["check"]["incidents"]
                      == r["check"]["incident_rollup_day_count"] == r["check"]["incident_rollup_month_count"]
                      for r in by["new"] + by["old"])
        L.append(f"| {backend} | {new['wall_s']:.1f} s / {new['cpu_s']:.1f} s / {new['peak_mb']:.0f} MB "
                 f"| {old['wall_s']:.1f} s / {old['cpu_s']:.1f} s / {old['peak_mb']:.0f} MB "
                 f"| {old['wall_s'] / new['wall_s']:.2f}x, {old['cpu_s'] / new['cpu_s']:.2f}x "
                 f"| {'yes' if same and counted else 'NO'} |")
    L += ["", "Every round:", ""]
    for backend, by in results.items():
        for label in ("new", "old"):
            L.append(f"- {backend} {label}: " + ", ".join(
                f"{r['wall_s']:.1f} s ({r['cpu_s']:.1f} s CPU, {r['peak_mb']:.0f} MB)" for r in by[label]))
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
