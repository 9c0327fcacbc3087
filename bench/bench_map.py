"""Map page weight and speed: /map on the demo and on a 5,000-grid synthetic store (+ the 50,000-grid one).

Goal (the issue "Web app and interactive maps that work on an offline government network"):
a store of 5,000 grids opens in the browser in under 2 s with under 5 MB sent; beyond that,
grids load by the map's bounding box.

1. Stores, in a temporary folder: the demo (`gridmap demo`: 100 grids, 269 open incidents),
   and a fresh 5,000-grid store made like bench/make_data.py (Voronoi cells whose edges are
   densified and displaced by smooth noise, ~50-240 vertices per grid, neighbours sharing edges)
   at 5,000 grids in a 0.47 x 0.47 degree box (the same grid size as the 50,000 one), 50 zones,
   a 1+1+2 team per grid (20,000 people) and 1,000 open incidents, written with
   open_store(...).add_units / add_staff and the incident bulk import. bench/data/bench.db (50,000
   grids, from make_data.py) is measured too when it exists.
2. Server side (Flask test client, in process): time to build /map (median of --reps after one
   cold request that also builds the grid catalog), bytes raw and gzip-compressed as sent to a
   browser that accepts gzip.
3. Browser: the app in its own process (werkzeug, threaded, 127.0.0.1), headless Debian
   Chromium driven by Playwright, a fresh browser context per run (empty cache: the vendored
   Leaflet files are fetched too). Time from navigation start to the first frame painted with
   every grid (window.gridmapDrawn), to the load event, and bytes on the wire (CDP
   encodedDataLength over every response). Median of --reps.
4. Above the embedding threshold (5,000) the page carries no grids and fetches
   /map/grids.geojson by bbox: measured on the 50,000-grid store, and on the 5,000 store with
   the threshold forced to 1,000 (time to the zoomed-in grids after a zoom to level 14).

Usage: python bench/bench_map.py [--reps 3] [--keep DIR]     -> bench/results/map.md
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
GOAL_S, GOAL_MB = 2.0, 5.0
CHROMIUM = os.environ.get("GRIDMAP_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def log(msg: str) -> None:
    print(f"[bench_map {time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- stores --------------------------------------------------------------------------------------
def build_demo(tmp: Path) -> Path:
    from gridmap.demo import run_demo
    from gridmap.settings import Settings

    db = tmp / "demo.db"
    run_demo(Settings(db=str(db)), out_dir=tmp / "demo-out", echo=lambda *a: None).store.close()
    return db


def build_synthetic(tmp: Path, n_grids: int = 5_000, n_zones: int = 50, n_incidents: int = 1_000) -> tuple[Path, dict]:
    """A fresh store of `n_grids` wiggly Voronoi grids (bench/make_data.py's method), teams, incidents."""
    import shapely

    sys.path.insert(0, str(HERE))
    import make_data as md  # noqa: E402  (bench/make_data.py: its tiling, at another size)

    side = 1.5 * (n_grids / 50_000) ** 0.5  # same grid size as the 50,000-grid set
    md.BOX = (116.0, 36.5, 116.0 + side, 36.5 + side)
    md.N_ZONES = n_zones
    rng = np.random.default_rng(md.SEED)
    polys = md.wiggly_tiling(n_grids, rng)
    bad = ~shapely.is_valid(polys)
    polys[bad] = shapely.make_valid(polys[bad])
    zone_no = md.zones_for(polys, rng)

    from gridmap.registry.codes import reading_order
    from gridmap.registry.model import Level, Person, Role, Unit
    from gridmap.store import open_store

    zone_codes = [f"{md.COUNTY}{z // 10 + 1:03d}{z % 10 + 1:03d}" for z in range(n_zones)]
    units, grids = [], []
    for z in range(n_zones):
        members = np.flatnonzero(zone_no == z)
        units.append(Unit(zone_codes[z], f"第{z + 1}管区", Level.zone, shapely.coverage_union_all(polys[members])))
        for serial, i in enumerate(reading_order(polys[members]), start=1):
            code = f"{zone_codes[z]}{serial:03d}"
            grids.append(Unit(code, f"第{z + 1}管区第{serial}网格", Level.grid, polys[members[i]], parent_code=zone_codes[z],
                              households=int(rng.integers(100, 900))))
    surnames, given = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗", "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚"
    people, roles = [], []
    for k, g in enumerate(grids):
        for j, role in enumerate(("leader", "instructor", "worker", "worker")):
            pid = f"S{k:05d}{j}"
            name = surnames[rng.integers(len(surnames))] + "".join(given[i] for i in rng.integers(len(given), size=2))
            people.append(Person(pid, name, f"1380{k:05d}{j}"[:11]))
            roles.append(Role(pid, g.code, role))
    db = tmp / f"synthetic_{n_grids}.db"
    store = open_store(db, create=True)
    store.add_units(units + grids)
    store.add_staff(people, roles)
    store.close()
    from gridmap.incidents.model import Event
    from gridmap.incidents.service import import_rows
    from gridmap.services import Services
    from gridmap.settings import Settings

    services = Services.open(Settings(db=str(db)))
    svc = services.incidents
    now = dt.datetime.now(dt.timezone.utc)
    cats = ["exposed_rubbish", "illegal_parking", "street_light", "street_vending", "manhole_cover"]
    rows = [{"category": cats[i % len(cats)], "lon": f"{rng.uniform(md.BOX[0], md.BOX[2]):.6f}",
             "lat": f"{rng.uniform(md.BOX[1], md.BOX[3]):.6f}", "status": ["dispatched", "in_progress", "filed"][i % 3],
             "reported_at": (now - dt.timedelta(hours=float(rng.uniform(1, 24 * 30)))).isoformat(),
             "description": "路灯不亮" if i % 2 else "占道经营"} for i in range(n_incidents)]
    good, problems = import_rows(svc, rows)
    assert not problems, problems[:3]
    svc.repo.add_many([(i, Event("", i.reported_at, "bench", "import", None, i.status), None) for i in good])
    services.store.close()
    nverts = shapely.get_num_coordinates(polys)
    return db, {"grids": len(grids), "zones": n_zones, "people": len(people), "incidents": len(good),
                "vertices_median": float(np.median(nverts)), "vertices_min": int(nverts.min()),
                "vertices_max": int(nverts.max()), "box_deg": round(side, 3)}


# -- server side ---------------------------------------------------------------------------------
def server_side(db: Path, reps: int, embed_max: int | None = None) -> dict:
    from gridmap.app import create_app
    from gridmap.settings import Settings

    extra = {"map_embed_max_grids": embed_max} if embed_max is not None else {}
    app = create_app(Settings(db=str(db), **extra))
    c = app.test_client()
    t = time.perf_counter()
    r = c.get("/map")
    cold = time.perf_counter() - t
    assert r.status_code == 200, r.status_code
    times, gz_times = [], []
    for _ in range(reps):
        t = time.perf_counter()
        raw = c.get("/map").data
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        packed = c.get("/map", headers={"Accept-Encoding": "gzip"})
        gz_times.append(time.perf_counter() - t)
    assert packed.headers.get("Content-Encoding") == "gzip"
    app.extensions["gridmap"].store.close()
    return {"cold_s": cold, "warm_s": statistics.median(times), "gzip_s": statistics.median(gz_times),
            "raw_mb": len(raw) / 1e6, "gzip_mb": len(packed.data) / 1e6,
            "check_mb": len(gzip.compress(raw, 3)) / 1e6}


# -- browser -------------------------------------------------------------------------------------
SERVER = textwrap.dedent("""
    import sys
    from werkzeug.serving import make_server
    from gridmap.app import create_app
    from gridmap.settings import Settings
    db, port, embed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    app = create_app(Settings(db=db, **({"map_embed_max_grids": embed} if embed else {})))
    app.test_client().get("/map")  # warm: the grid catalog and the index
    make_server("127.0.0.1", port, app, threaded=True).serve_forever()
""")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def served(db: Path, embed_max: int | None, tmp: Path):
    port = free_port()
    script = tmp / "serve_map.py"
    script.write_text(SERVER)
    proc = subprocess.Popen([sys.executable, str(script), str(db), str(port), str(embed_max or 0)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        base = f"http://127.0.0.1:{port}"
        import urllib.request

        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/static/vendor/leaflet/leaflet.css", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise RuntimeError("the map server did not start")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def browser_runs(base: str, n_grids: int | None, reps: int, zoom_to: tuple[float, float] | None = None) -> dict:
    """Median time to grid paths present / load event and bytes on the wire, fresh context per run.

    n_grids: how many <path class="gm-grid"> mean "drawn" (None: the page has none until a
    zoom, then zoom_to (lat, lon) at level 14 and time the grids loaded by bbox)."""
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"grids_s": [], "load_s": [], "wire_mb": [], "page_mb": [], "requests": [],
                                   "zoom_s": [], "zoom_grids": [], "zoom_kb": []}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            for _ in range(reps + 1):  # the first run warms the server's caches and is dropped
                ctx = browser.new_context(viewport={"width": 1280, "height": 900})
                page = ctx.new_page()
                cdp = ctx.new_cdp_session(page)
                cdp.send("Network.enable")
                sizes: dict[str, float] = {}
                urls: dict[str, str] = {}
                cdp.on("Network.responseReceived", lambda e: urls.__setitem__(e["requestId"], e["response"]["url"]))
                cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
                page.goto(base + "/map", wait_until="load")
                if n_grids:
                    # gridmap-map.js sets window.gridmapDrawn (performance.now()) two animation frames
                    # after the grids were added: the first frame with them has been painted
                    page.wait_for_function("window.gridmapDrawn", timeout=60_000, polling="raf")
                    count = page.evaluate("() => { const m = window[document.querySelector('.folium-map').id]; "
                                          "return Object.values(m._layers).filter(l => l._gmGrid).length; }")
                    assert count == n_grids, (count, n_grids)
                    out["grids_s"].append(page.evaluate("window.gridmapDrawn") / 1000)
                else:
                    page.wait_for_selector("path.leaflet-interactive", timeout=60_000)
                    out["grids_s"].append(page.evaluate("performance.now()") / 1000)
                out["load_s"].append(page.evaluate("performance.getEntriesByType('navigation')[0].loadEventEnd") / 1000)
                page.wait_for_timeout(300)
                out["wire_mb"].append(sum(sizes.values()) / 1e6)
                out["page_mb"].append(sum(v for k, v in sizes.items() if urls.get(k, "").endswith("/map")) / 1e6)
                out["requests"].append(len(sizes))
                if zoom_to:
                    before = dict(sizes)
                    t = time.perf_counter()
                    with page.expect_response(lambda r: "/map/grids.geojson?bbox=" in r.url, timeout=60_000):
                        page.evaluate(f"() => {{ const m = window[document.querySelector('.folium-map').id]; "
                                      f"m.setView([{zoom_to[0]}, {zoom_to[1]}], 14, {{animate: false}}); }}")
                    grids = ("() => { const m = window[document.querySelector('.folium-map').id]; "
                             "return Object.values(m._layers).filter(l => l._gmGrid).length; }")
                    page.wait_for_function(grids.replace("return ", "return 0 < "), timeout=60_000, polling="raf")
                    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                    out["zoom_s"].append(time.perf_counter() - t)
                    out["zoom_grids"].append(page.evaluate(grids))
                    page.wait_for_timeout(300)
                    out["zoom_kb"].append(sum(v for k, v in sizes.items() if k not in before) / 1e3)
                ctx.close()
        finally:
            browser.close()
    return {k: statistics.median(v[1:]) for k, v in out.items() if v}


# -- report --------------------------------------------------------------------------------------
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--keep", help="keep the stores in this folder")
    ap.add_argument("--no-50k", action="store_true", help="skip bench/data/bench.db")
    args = ap.parse_args()
    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="bench_map_"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        t = time.perf_counter()
        demo = build_demo(tmp)
        log(f"demo store in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        synth, synth_stats = build_synthetic(tmp)
        log(f"5,000-grid store in {time.perf_counter() - t:.1f} s: {synth_stats}")
        big = HERE / "data" / "bench.db"
        cases = [("demo (100 grids, 269 open incidents)", demo, None, 100, None),
                 ("synthetic 5,000 grids, 1,000 open incidents, 20,000 staff", synth, None, 5_000, None),
                 ("synthetic 5,000 grids, threshold forced to 1,000 (bbox loading)", synth, 1_000, None,
                  (36.5 + synth_stats["box_deg"] / 2, 116.0 + synth_stats["box_deg"] / 2))]
        if big.exists() and not args.no_50k:
            cases.append(("bench/data/bench.db: 50,000 grids (bbox loading)", big, None, None, (37.25, 116.75)))
        rows = []
        for label, db, embed, n, zoom_to in cases:
            log(f"server side: {label}")
            srv = server_side(db, args.reps, embed)
            log(f"  {srv}")
            log(f"browser: {label}")
            with served(db, embed, tmp) as base:
                web = browser_runs(base, n, args.reps, zoom_to)
            log(f"  {web}")
            rows.append((label, srv, web, n, zoom_to))
        write_report(rows, synth_stats, args.reps)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)


def write_report(rows, synth_stats: dict, reps: int) -> None:
    import importlib.metadata as md

    import folium
    from playwright.sync_api import sync_playwright  # noqa: F401 (version below)

    chromium = subprocess.run([CHROMIUM, "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        "# Map pages: bytes and time to render (`/map`)",
        "",
        f"- Date: {dt.datetime.now(dt.timezone.utc).isoformat(timespec='seconds')}",
        f"- Machine: {os.cpu_count()} CPUs (nproc), {platform.platform()}, Python {platform.python_version()}, "
        f"folium {folium.__version__}, Playwright {md.version('playwright')}, {chromium}",
        "- Command (cwd = repository root): `python bench/bench_map.py`",
        f"- 5,000-grid store: bench/make_data.py's wiggly Voronoi tiling in a {synth_stats['box_deg']}° box, "
        f"{synth_stats['vertices_min']}–{synth_stats['vertices_max']} vertices per grid (median "
        f"{synth_stats['vertices_median']:.0f}), {synth_stats['zones']} zones, {synth_stats['people']:,} staff "
        f"(1+1+2 per grid), {synth_stats['incidents']:,} open incidents.",
        f"- Browser: Debian Chromium headless via Playwright, the app in its own process (werkzeug, threaded) on "
        f"127.0.0.1, a fresh context per run (empty cache), median of {reps} runs after one dropped warm-up. "
        "Grids drawn = navigation start to the first frame painted with every grid (`window.gridmapDrawn`, set by "
        "gridmap-map.js two animation frames after the grids were added; all N grid layers checked on the map). "
        "Wire = every response's encoded bytes (CDP), the page gzip-compressed, Leaflet and plugins as served.",
        "- The machine is shared (other jobs run beside it): compare figures from one run only.",
        "",
        "## Result",
        "",
        "| store | server: build /map (warm; cold) | page raw | page sent (gzip) | grids drawn in Chromium | "
        "load event | sent in all (requests) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    verdict = []
    for label, srv, web, n, zoom_to in rows:
        drawn = f"{web['grids_s']:.2f} s" if n else f"{web['grids_s']:.2f} s (zones)"
        lines.append(f"| {label} | {srv['warm_s']:.2f} s ({srv['cold_s']:.2f} s) | {srv['raw_mb']:.2f} MB | "
                     f"{srv['gzip_mb']:.2f} MB | **{drawn}** | {web['load_s']:.2f} s | "
                     f"**{web['wire_mb']:.2f} MB** ({web['requests']:.0f}) |")
        if n == 5_000:
            ok = web["grids_s"] < GOAL_S and web["wire_mb"] < GOAL_MB
            verdict.append(f"**5,000 grids: {'goal met' if ok else 'goal NOT met'}**: drawn in "
                           f"{web['grids_s']:.2f} s (goal < {GOAL_S:g} s), {web['wire_mb']:.2f} MB sent in all "
                           f"(goal < {GOAL_MB:g} MB; the page alone {srv['gzip_mb']:.2f} MB gzip, "
                           f"{srv['raw_mb']:.2f} MB uncompressed).")
    zoomed = [(label, web) for label, _, web, n, z in rows if z]
    if zoomed:
        lines += ["", "## Beyond the threshold: grids by bounding box", "",
                  "| store | zoom to level 14: grids drawn after | grids in view | bytes of the bbox answer(s) |",
                  "|---|---:|---:|---:|"]
        for label, web in zoomed:
            lines.append(f"| {label} | {web['zoom_s']:.2f} s | {web['zoom_grids']:.0f} | {web['zoom_kb']:.0f} kB |")
        lines += ["", "At the first view (the whole area) these pages show the zone outlines and a note to zoom "
                  "in: the box holds more than 3,000 grids (BBOX_MAX_GRIDS)."]
    raw5k = [srv["raw_mb"] for _, srv, _, n, _ in rows if n == 5_000]
    lines += ["", "## Verdict", ""] + verdict
    if raw5k:
        lines += ["", f"Uncompressed, the 5,000-grid page is {raw5k[0]:.2f} MB "
                  + ("(also under 5 MB)." if raw5k[0] < GOAL_MB else "(over 5 MB: the goal relies on gzip, which "
                     "every browser accepts; a proxy that strips compression would break it).")]
    lines += ["", "The cold column is the first request after the app starts: it loads every grid and builds the "
              "grid catalog (STRtree, encoded geometry, teams); later requests reuse it until the plan or the "
              "unit counts change."]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "map.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    log(f"wrote {RESULTS / 'map.md'}")


if __name__ == "__main__":
    sys.exit(main())
