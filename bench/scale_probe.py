"""One code tree's page timings on one store (run by bench/bench_scale.py, once per tree).

    python bench/scale_probe.py --code /path/to/tree --db URL --reps 3   -> JSON on stdout

Imports gridmap from ``--code`` (the baseline's export or this tree), opens the app on ``--db``
and times, through Flask's test client (the whole view: SQL, Python, rendering, gzip off):
the metrics API by zone over 2024, /map and /map.json (default filter: open incidents), the
busiest grid's page, and the board's text search (2-character words, one rare and one in a fifth of
the history, and a 5-character phrase).
Best wall time of ``--reps`` after one warm-up call each, with the bytes of the answer.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--code", required=True)
    ap.add_argument("--db", required=True)
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()
    sys.path.insert(0, args.code)
    import sqlalchemy as sa

    from gridmap.app import create_app
    from gridmap.settings import Settings
    from gridmap.web.auth import create_token, create_user

    app = create_app(Settings(db=args.db))
    store = app.extensions["gridmap"].store
    if "bench" not in {r[0] for r in store.engine.connect().execute(sa.text("SELECT username FROM users")).all()}:
        create_user(store, "bench", "bench-password-1", "admin")
    token = create_token(store, "bench")
    with store.engine.connect() as conn:
        grid = conn.execute(sa.text("SELECT grid_code FROM incidents WHERE grid_code IS NOT NULL "
                                    "GROUP BY grid_code ORDER BY count(*) DESC LIMIT 1")).scalar()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    urls = {
        "metrics_zone_2024": "/api/v1/metrics?by=zone&from=2024-01-01&to=2025-01-01",
        "map": "/map", "map_json": "/map.json",
        "grid_page": f"/grids/{grid}", "grid_json": f"/grids/{grid}.json",
        "board_search_2": "/board.json?queue=all&q=井盖",
        "board_search_2_common": "/board.json?queue=all&q=垃圾",
        "board_search_5": "/board.json?queue=all&q=宅基地纠纷",
    }
    out = {"grid": grid}
    for name, url in urls.items():
        r = client.get(url, headers=headers)  # warm-up (caches: catalog, teams)
        best = None
        for _ in range(args.reps):
            t = time.perf_counter()
            r = client.get(url, headers=headers)
            d = time.perf_counter() - t
            best = d if best is None else min(best, d)
        body = r.get_data()
        extra = {}
        if r.is_json:
            j = r.get_json()
            extra = {k: j.get(k) for k in ("total",) if k in j}
            if name.startswith("metrics"):
                extra["rows"] = len(j.get("rows", []))
                # means compared to 12 significant digits (as tests/test_metrics_db.py does): a sum of
                # floats depends on its order, and each tree sums in its own; every other field exactly
                rows = [{k: (float(f"{v:.12g}") if k == "mean_hours_to_close" and v is not None else v)
                         for k, v in row.items()} for row in j.get("rows", [])]
                extra["digest"] = json.dumps(rows, sort_keys=True, ensure_ascii=False)
        out[name] = {"s": best, "bytes": len(body), "status": r.status_code, **extra}
        print(f"  {name}: {best:.3f} s, {len(body):,} B, HTTP {r.status_code}", file=sys.stderr, flush=True)
    store.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
