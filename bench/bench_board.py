"""The dispatch board with a large history: GET /board.json (paged, counted in SQL) vs the old way.

    python bench/bench_board.py                 # 1,000,000 incidents -> bench/results/board.md
    python bench/bench_board.py --n 200000      # quicker

1. A fresh demo store (`gridmap demo`) in a temp dir, copied for the run (SQLite).
2. N historical incidents added through the store's bulk path (`IncidentRepo.add_many`, one
   audit event each), in batches: positions and grids taken from the demo's 3,000 sample
   incidents (jittered), reported over the last three years, about 98.5 % closed/rejected/merged,
   the rest spread over reported, filed, dispatched, in progress (some overdue, some escalated),
   handled and verified. Fixed seed.
3. In-process Flask test client with a dispatcher's API token: each URL fetched once untimed,
   then `--reps` times; median and worst wall time per URL (the whole request: parse, SQL
   counts, page, JSON, no gzip).
4. The old approach, as the board did it before (every open incident loaded, queues counted
   and sorted in Python, the first 500 kept), timed the same way on the same store.
"""

from __future__ import annotations

import argparse
import datetime as dt
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
URLS = ["/board.json", "/board.json?queue=new", "/board.json?queue=active", "/board.json?queue=overdue",
        "/board.json?queue=escalated", "/board.json?queue=handled", "/board.json?page=2000",
        "/board.json?queue=all&zone=ZONE", "/board.json?queue=all&category=exposed_rubbish&from=FROM",
        "/board.json?q=NUMBER", "/board.json?q=垃圾", "/board.json?q=安德街道"]
OPEN_MIX = [("reported", 0.10), ("filed", 0.05), ("dispatched", 0.30), ("in_progress", 0.35),
            ("handled", 0.12), ("verified", 0.08)]


def build(tmp: Path, n: int, seed: int = 7):
    from gridmap.demo import run_demo
    from gridmap.incidents.model import Event, Incident
    from gridmap.settings import Settings

    settings = Settings(db=str(tmp / "board.db"))
    services = run_demo(settings, out_dir=tmp / "out", echo=lambda *a: None)
    repo = services.store.incidents
    base = repo.query()
    rnd = random.Random(seed)
    now = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    batch: list = []
    for k in range(n):
        b = rnd.choice(base)
        reported = now - dt.timedelta(seconds=rnd.uniform(0, 3 * 365 * 86400))
        inc = Incident(id="", category=b.category, lon=b.lon + rnd.uniform(-1e-4, 1e-4),
                       lat=b.lat + rnd.uniform(-1e-4, 1e-4), reported_at=reported, description=b.description,
                       source=b.source, severity=b.severity, grid_code=b.grid_code, zone_code=b.zone_code,
                       town_code=b.town_code, plan=b.plan, assignment=b.assignment, assignee=b.assignee,
                       handling_level=b.handling_level, department=b.department)
        if rnd.random() < 0.015:  # open
            x, acc = rnd.random(), 0.0
            for status, share in OPEN_MIX:
                acc += share
                if x <= acc:
                    break
            inc.status = status
            if status not in ("reported", "filed"):
                inc.dispatched_at = reported + dt.timedelta(hours=1)
                inc.due_at = reported + dt.timedelta(hours=rnd.uniform(24, 24 * 400))
            inc.escalated = rnd.random() < 0.05
        else:
            inc.status = rnd.choices(["closed", "rejected", "merged"], [0.93, 0.05, 0.02])[0]
            inc.dispatched_at = reported + dt.timedelta(hours=1)
            inc.due_at = reported + dt.timedelta(hours=48)
            inc.closed_at = reported + dt.timedelta(hours=rnd.uniform(2, 80))
        batch.append((inc, Event("", reported, "import", "import", None, inc.status), None))
        if len(batch) == 20_000:
            repo.add_many(batch)
            batch = []
            print(f"  {k + 1:,} / {n:,} incidents ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    if batch:
        repo.add_many(batch)
    return settings, services, time.perf_counter() - t0


def old_board(svc) -> int:
    """What GET /board.json did before: all open incidents loaded, counted and sorted in Python."""
    from gridmap.incidents.metrics import due_soon, overdue
    from gridmap.incidents.model import OPEN_STATUSES

    now = svc.clock()
    pool = svc.repo.query(status=OPEN_STATUSES, order="due_at")
    late = {i.id for i in overdue(pool, now)}
    due_soon(pool, now, 24)
    placed = [("new" if i.status in ("reported", "filed") else "overdue" if i.id in late else
               "escalated" if i.escalated else None, i) for i in pool]
    {q: sum(1 for k, _ in placed if k == q) for q in ("new", "overdue", "escalated")}
    shown = sorted([p for p in placed if p[0]], key=lambda ki: (ki[0], ki[1].due_at or now, ki[1].id))[:500]
    return len(shown)


def timed(fn, reps: int) -> tuple[float, float]:
    fn()
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), max(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="historical incidents to add (default 1,000,000)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--out", type=Path, default=RESULTS / "board.md")
    ap.add_argument("--keep", type=Path, help="copy the built store (SQLite file) here, to look into it afterwards")
    a = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    from gridmap.app import create_app
    from gridmap.web.auth import create_token, create_user

    with tempfile.TemporaryDirectory(prefix="bench-board-") as tmp:
        settings, services, load_s = build(Path(tmp), a.n)
        store = services.store
        total = store.incidents.count()
        create_user(store, "bench", "password123", "dispatcher")
        token = create_token(store, "bench")
        store.close()
        if a.keep:
            import shutil

            shutil.copy(settings.db, a.keep)
        app = create_app(settings)
        svc = app.extensions["gridmap"].incidents
        client = app.test_client()
        headers = {"Authorization": f"Bearer {token}"}
        some = svc.repo.query(limit=1, offset=total // 2)[0]
        zone = some.zone_code or ""
        start = (svc.clock() - dt.timedelta(days=60)).date().isoformat()
        lines = []
        for url in URLS:
            url = url.replace("ZONE", zone).replace("FROM", start).replace("NUMBER", some.id)

            def get(url=url):
                r = client.get(url, headers=headers)
                assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:300])
                return r

            med, worst = timed(get, a.reps)
            body = get().get_json()
            lines.append(f"| `{url}` | {med * 1000:,.0f} | {worst * 1000:,.0f} | {body['total']:,} | {body['shown']} |")
            print(lines[-1], file=sys.stderr)
        med_old, worst_old = timed(lambda: old_board(svc), max(1, min(a.reps, 3)))
        app.extensions["gridmap"].store.close()
    text = "\n".join([
        "# Dispatch board with a large history", "",
        f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC · {platform.node()} · {platform.processor() or platform.machine()}"
        f" · Python {platform.python_version()} · SQLite", "",
        f"Command: `python bench/bench_board.py --n {a.n} --reps {a.reps}`", "",
        f"Store: the demo plus {a.n:,} historical incidents ({total:,} in all), loaded in {load_s:,.0f} s.", "",
        "| request (dispatcher, API token) | median ms | worst ms | rows in tab | rows sent |", "|---|---:|---:|---:|---:|",
        *lines, "",
        f"Old approach (every open incident loaded, counted and sorted in Python): median {med_old * 1000:,.0f} ms,"
        f" worst {worst_old * 1000:,.0f} ms.", ""])
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
