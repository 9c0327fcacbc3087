"""OGC API – Features paging through 50,000 grids: time per page of 1,000.

1. A copy of bench/data/bench.db (50,000 grids, 500 zones: bench/make_data.py) in a temporary
   folder (opening it migrates the schema; the shared file is left alone).
2. The app under gunicorn (`gunicorn 'gridmap:create_app()'`, 2 sync workers, as deployed) on
   127.0.0.1, in its own process group.
3. A client (`requests`, one keep-alive session) fetches /ogcapi/collections/grid/items?limit=1000
   and follows every `next` link to the end: per page, the time to the whole body, its bytes and
   the client's JSON parse time. The 50 pages must hold 50,000 distinct codes and numberMatched
   must say 50,000 (checked, not assumed).
4. A bbox page (a 0.1° x 0.1° box, ~230 grids), and the same first / middle / last page served in
   process (Flask test client), which splits server time from the network and the client.

Usage: python bench/bench_ogcapi.py [--limit 1000] [--rounds 3]     -> bench/results/ogcapi.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "bench.db"
RESULTS = HERE / "results"
BBOX = (116.70, 37.20, 116.80, 37.30)


def log(msg: str) -> None:
    print(f"[bench_ogcapi {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(db: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")} | {"GRIDMAP_DB": str(db)}
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "120",
                             "gridmap:create_app()"], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/ogcapi/", timeout=30).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGTERM)
    raise RuntimeError("gunicorn did not answer within 60 s")


def page_through(base: str, limit: int) -> dict:
    """Follow `next` from the first page to the last; per-page timings and a completeness check."""
    session = requests.Session()
    url = f"{base}/ogcapi/collections/grid/items?limit={limit}"
    times, parse, sizes, codes, matched = [], [], [], [], None
    t_all = time.perf_counter()
    while url:
        t0 = time.perf_counter()
        r = session.get(url, timeout=120)
        body = r.content
        t1 = time.perf_counter()
        assert r.status_code == 200 and r.headers["Content-Type"] == "application/geo+json", r.status_code
        doc = json.loads(body)
        parse.append(time.perf_counter() - t1)
        times.append(t1 - t0)
        sizes.append(len(body))
        codes += [f["id"] for f in doc["features"]]
        matched = doc["numberMatched"]
        url = next((lk["href"] for lk in doc["links"] if lk["rel"] == "next"), None)
    total = time.perf_counter() - t_all
    assert matched == len(codes) == len(set(codes)), (matched, len(codes), len(set(codes)))
    return {"times": times, "parse": parse, "sizes": sizes, "count": len(codes), "total": total}


def in_process(db: Path, limit: int, reps: int) -> dict[str, float]:
    """Median time to build the first, middle and last page and a bbox page inside the app (no network)."""
    from gridmap import create_app
    from gridmap.settings import Settings

    app = create_app(Settings(db=str(db)))
    client = app.test_client()
    out = {}
    for label, query in [("first page (offset 0)", "offset=0"), ("middle page (offset 25,000)", "offset=25000"),
                         ("last page (offset 49,000)", "offset=49000"),
                         (f"bbox {BBOX} (0.1° box)", "bbox=" + ",".join(map(str, BBOX)))]:
        runs = []
        for _ in range(reps + 1):
            t0 = time.perf_counter()
            r = client.get(f"/ogcapi/collections/grid/items?limit={limit}&{query}")
            r.get_data()
            runs.append(time.perf_counter() - t0)
            assert r.status_code == 200
        out[label] = (statistics.median(runs[1:]), r.json["numberReturned"], r.json["numberMatched"])
    app.extensions["gridmap"].store.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="full paging runs over HTTP (median reported)")
    args = ap.parse_args()
    if not DATA.exists():
        sys.exit(f"{DATA} is missing: run `python bench/make_data.py` first")
    with tempfile.TemporaryDirectory(prefix="bench_ogcapi_") as tmp:
        db = Path(tmp) / "bench.db"
        shutil.copy(DATA, db)
        log("migrating the copy and measuring in process")
        inproc = in_process(db, args.limit, args.rounds)
        port = free_port()
        proc = start_gunicorn(db, port)
        try:
            base = f"http://127.0.0.1:{port}"
            page_through(base, args.limit)  # warm-up: both workers' connections and caches
            runs = []
            for i in range(args.rounds):
                runs.append(page_through(base, args.limit))
                log(f"round {i + 1}: {runs[-1]['count']:,} grids in {len(runs[-1]['times'])} pages, "
                    f"{runs[-1]['total']:.1f} s")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=30)
    write(args, inproc, runs)


def write(args, inproc: dict, runs: list[dict]) -> None:
    per_page = [statistics.median(t) for t in zip(*(r["times"] for r in runs))]
    parse = [statistics.median(t) for t in zip(*(r["parse"] for r in runs))]
    sizes = runs[0]["sizes"]
    totals = sorted(r["total"] for r in runs)
    q = statistics.quantiles(per_page, n=20)
    lines = [
        "# OGC API – Features: paging through 50,000 grids",
        "",
        f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- Machine: {os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}",
        f"- Command (cwd = repository root): `python bench/bench_ogcapi.py --limit {args.limit} --rounds {args.rounds}`",
        "- Data: bench/data/bench.db (bench/make_data.py: 50,000 wiggly Voronoi grids, ~50-200 vertices each, "
        "SQLite), copied to a temporary folder.",
        "- Server: gunicorn, 2 sync workers, `gridmap:create_app()`, 127.0.0.1. Client: `requests`, one keep-alive "
        "session, following `next` links from the first page to the last; the machine is shared, so compare "
        "figures from one run only.",
        "",
        "## Over HTTP",
        "",
        "| | value |",
        "|---|---:|",
        f"| pages of {args.limit:,} (all grids, checked distinct, = numberMatched) | {len(per_page)} ({runs[0]['count']:,} grids) |",
        f"| **time per page** (request to the last byte), median | **{statistics.median(per_page) * 1000:.0f} ms** |",
        f"| time per page, p95 / max | {q[18] * 1000:.0f} ms / {max(per_page) * 1000:.0f} ms |",
        f"| first page / last page | {per_page[0] * 1000:.0f} ms / {per_page[-1] * 1000:.0f} ms |",
        f"| client JSON parse per page, median | {statistics.median(parse) * 1000:.0f} ms |",
        f"| page size, median (uncompressed GeoJSON) | {statistics.median(sizes) / 1e6:.1f} MB |",
        f"| all 50,000 grids, one client, median of {len(totals)} rounds | {statistics.median(totals):.1f} s |",
        "",
        "## In process (Flask test client: the server's share, no network)",
        "",
        "| request | median | returned / matched |",
        "|---|---:|---:|",
    ]
    for label, (t, returned, matched) in inproc.items():
        lines.append(f"| {label} | {t * 1000:.0f} ms | {returned:,} / {matched:,} |")
    lines += ["", "Each page runs two SQL statements (a COUNT for numberMatched and the page by code with LIMIT/OFFSET); "
              "the rest is decoding WKB, building GeoJSON and serialising ~5 MB of JSON.", ""]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / "ogcapi.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    log(f"wrote {out}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
