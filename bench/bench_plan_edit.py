"""A planner's edit on a county-scale draft: what the page costs per edit, old way vs new, side by side.

    python bench/bench_plan_edit.py                 # 5,000 grids, 20 edits -> bench/results/plan_edit.md
    python bench/bench_plan_edit.py --grids 1000 --edits 6 --out -

A synthetic, deterministic county (SQLite store in a temp dir): 10 towns x 10 zones x 50 square
grids of 0.004° (households from random.Random(7)), imported as the plan in force; a draft is
made from it. Every edit is a real `move` of a strip between two neighbouring grids (and back),
sent through the Flask app (in process, a planner's bearer token) both ways, alternating:

* old: POST /api/v1/plans/N/edits, then what the page's reload() fetched after each edit:
  GET /planner.json?plan=N and GET /api/v1/plans/N/units?level=grid (every grid of the draft);
* new: POST /api/v1/plans/N/edits?features=1 (the changed grids come back with the answer; the
  page patches its layers and balance from them: no other request).

With `--browser`, the same draft is opened in headless Chromium (/usr/bin/chromium, a server on
127.0.0.1 in a thread, stopped at the end): the page open until the focused zone is drawn, and in
that page edits timed from the click's call to the redrawn map: new (P.edit: the edit's answer
patches the map) vs the old path replayed in the same page (the edit, then a reload of every grid
of the draft and planner.json, as reload() did), alternating.

Server time is the sum of the requests' times in the app (no network); bytes are the response
bodies; connections are SQLAlchemy pool checkouts. The page open is measured the same way: old
(the page, planner.json again, every grid) vs new (the page, the focused zone's grids, the
zones drawn light).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COUNTY, SIDE = "110101", 0.004
X0, Y0 = 116.0, 39.0


def synthetic(d: Path, towns: int = 10, zones: int = 10, cols: int = 10, rows: int = 5) -> dict[str, Path]:
    """County -> towns (columns) -> zones (rows) -> cols x rows square grids, as GeoJSON files."""
    rnd = random.Random(7)

    def box(x0, y0, x1, y1):
        return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}

    feats = {"county": [], "town": [], "zone": [], "grid": []}
    w, h = towns * cols * SIDE, zones * rows * SIDE
    feats["county"].append({"code": COUNTY, "name": "测试县", "geometry": box(X0, Y0, X0 + w, Y0 + h)})
    for t in range(towns):
        tc = f"{COUNTY}{t + 1:03d}"
        tx = X0 + t * cols * SIDE
        feats["town"].append({"code": tc, "name": f"镇{t + 1}", "parent_code": COUNTY,
                              "geometry": box(tx, Y0, tx + cols * SIDE, Y0 + h)})
        for z in range(zones):
            zc = f"{tc}{z + 1:03d}"
            zy = Y0 + z * rows * SIDE
            feats["zone"].append({"code": zc, "name": f"社区{t + 1}-{z + 1}", "parent_code": tc,
                                  "geometry": box(tx, zy, tx + cols * SIDE, zy + rows * SIDE)})
            for k in range(cols * rows):
                i, j = k % cols, k // cols
                x, y = tx + i * SIDE, zy + j * SIDE
                feats["grid"].append({"code": f"{zc}{k + 1:03d}", "name": f"网格{k + 1}", "parent_code": zc,
                                      "households": rnd.randint(250, 550),
                                      "geometry": box(x, y, x + SIDE, y + SIDE)})
    out = {}
    for level, rows_ in feats.items():
        doc = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {k: v for k, v in r.items() if k != "geometry"}, "geometry": r["geometry"]}
            for r in rows_]}
        out[level] = d / f"{level}.geojson"
        out[level].write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return out


def build(d: Path, towns: int, zones: int):
    from gridmap.app import create_app
    from gridmap.registry.model import Level
    from gridmap.registry.validate import ImportSpec
    from gridmap.services import Services
    from gridmap.settings import Settings
    from gridmap.web.auth import create_token, create_user

    files = synthetic(d, towns, zones)
    settings = Settings(db=str(d / "bench.db"))
    s = Services.open(settings, create=True)
    for level in ("county", "town", "zone", "grid"):
        s.import_units(files[level], ImportSpec(Level(level), parent_field=None if level == "county" else "parent_code"))
    create_user(s.store, "plan", "password123", "planner")
    token = create_token(s.store, "plan")
    s.store.close()
    app = create_app(settings)
    return app, {"Authorization": f"Bearer {token}"}


class Meter:
    """Requests through the test client: time, response bytes and pool checkouts."""

    def __init__(self, app, headers):
        import sqlalchemy as sa

        self.client, self.headers, self.checkouts = app.test_client(), headers, 0
        sa.event.listen(app.extensions["gridmap"].store.engine, "checkout", self._out)

    def _out(self, *a):
        self.checkouts += 1

    def __call__(self, method: str, url: str, **kw):
        c0, t = self.checkouts, time.perf_counter()
        r = self.client.open(url, method=method, headers=self.headers, **kw)
        body = r.get_data()
        dt_ = time.perf_counter() - t
        if r.status_code >= 400:
            raise RuntimeError(f"{method} {url}: {r.status_code} {body[:300]!r}")
        return r, {"s": dt_, "bytes": len(body), "conns": self.checkouts - c0, "requests": 1}


def add(a: dict, b: dict) -> dict:
    return {k: a.get(k, 0) + b[k] for k in b}


def strip(code_a: str, unit_bounds, west: bool = False) -> dict:
    """A strip of grid A along its east (or west) edge, a quarter of it: what A gives that neighbour."""
    x0, y0, x1, y1 = unit_bounds
    if west:
        xa, x1 = x0, x0 + (x1 - x0) / 4
    else:
        xa = x1 - (x1 - x0) / 4
    return {"type": "Polygon", "coordinates": [[[xa, y0], [x1, y0], [x1, y1], [xa, y1], [xa, y0]]]}


def in_browser(app, n: int, focus: str, pairs, grids, edits: int) -> dict:
    """Open the page in Chromium and time the open and edits (new vs the old reload replayed)."""
    import threading

    import shapely
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    th = threading.Thread(target=server.serve_forever, daemon=True)
    th.start()
    base = f"http://127.0.0.1:{server.server_port}"
    out = {"opens": 3, "n": 0}
    try:
        with sync_playwright() as pw:
            br = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
            page = br.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base}/login?next=/planner", wait_until="load")
            page.fill('input[name="username"]', "plan")
            page.fill('input[name="password"]', "password123")
            page.click('button[type="submit"]')
            page.wait_for_url(f"{base}/planner")
            ready = ("() => window.gridmap && window.gridmap.planner && !window.gridmap.planner.busy() && "
                     "Object.keys(window.gridmap.planner.layers).length > 0 && "
                     "(window.gridmap.planner.focus() === null || window.gridmap.planner.context() > 0)")
            opens = []
            for _ in range(out["opens"]):
                t = time.perf_counter()
                page.goto(f"{base}/planner?plan={n}", wait_until="commit")
                page.wait_for_function(ready, timeout=60000)
                opens.append(1000 * (time.perf_counter() - t))
            out["open_ms"] = statistics.median(opens)
            olds, news = [], []
            zone_pairs = [(x, y) for x, y in pairs if x.startswith(focus)] or [(focus + "003", focus + "004"),
                                                                             (focus + "005", focus + "006")]
            body_js = """async (args) => {
              const P = window.gridmapPlanner, t = performance.now();
              const [src, dst, area, old] = args;
              let ok;
              if (!old) { ok = !!(await P.edit({op: "move", from: src, to: dst, area: area}, [src, dst])); }
              else {
                const r = await P.call("POST", P.urls.edits, {op: "move", from: src, to: dst, area: area,
                                                              rev: P.rev([src, dst])});
                ok = r.status === 200;
                const focus = P.focus; P.focus = null;
                await P.reload(false, true); P.focus = focus;
              }
              return [performance.now() - t, ok]; }"""
            for i in range(edits):
                src, dst = zone_pairs[i % len(zone_pairs)]
                for way in (("old", "new") if i % 2 == 0 else ("new", "old")):
                    g = page.evaluate("c => window.gridmap.planner.layers[c].toGeoJSON(false).geometry", src)
                    west = src > dst  # the second of a pair lies east of the first
                    area = strip(src, shapely.geometry.shape(g).bounds, west=west)
                    ms, ok = page.evaluate(body_js, [src, dst, area, way == "old"])
                    if not ok:
                        raise RuntimeError(f"browser edit {way} {src} -> {dst} refused: "
                                           + page.inner_text("#edit-msg"))
                    (olds if way == "old" else news).append(ms)
                    src, dst = dst, src  # and back the next time
            out.update(n=len(news), new_ms=statistics.median(news), old_ms=statistics.median(olds))
            br.close()
    finally:
        server.shutdown()
        th.join(timeout=10)
        server.server_close()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--towns", type=int, default=10)
    ap.add_argument("--zones", type=int, default=10, help="zones per town (50 grids each)")
    ap.add_argument("--edits", type=int, default=20, help="edits per way (alternating old/new)")
    ap.add_argument("--out", default=str(ROOT / "bench" / "results" / "plan_edit.md"))
    ap.add_argument("--browser", action="store_true", help="also time the page in headless Chromium")
    a = ap.parse_args(argv)
    import shapely

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        app, headers = build(Path(tmp), a.towns, a.zones)
        m = Meter(app, headers)
        n = m("POST", "/api/v1/plans", json={"note": "bench"})[0].get_json()["version"]
        units = m("GET", f"/api/v1/plans/{n}/units?level=grid")[0].get_json()["features"]
        grids = {f["properties"]["code"]: f for f in units}
        setup = time.perf_counter() - t0
        print(f"{len(grids)} grids, draft {n}, setup {setup:.1f} s", flush=True)
        # pairs (A, east neighbour B) in distinct zones: every edit touches fresh grids
        zones = sorted({c[:-3] for c in grids})
        pairs = [(z + "001", z + "002") for z in zones]
        revs = {c: f["properties"]["rev"] for c, f in grids.items()}
        old, new = [], []
        for i in range(a.edits):
            for way in (("old", "new") if i % 2 == 0 else ("new", "old")):
                src, dst = pairs[(2 * i + (way == "new")) % len(pairs)]
                area = strip(src, shapely.geometry.shape(grids[src]["geometry"]).bounds)
                body = {"op": "move", "from": src, "to": dst, "area": area, "rev": {src: revs[src], dst: revs[dst]}}
                if way == "old":
                    r, cost = m("POST", f"/api/v1/plans/{n}/edits", json=body)
                    revs.update(r.get_json()["revs"])
                    _, c2 = m("GET", f"/planner.json?plan={n}")
                    r3, c3 = m("GET", f"/api/v1/plans/{n}/units?level=grid")
                    cost = add(add(cost, c2), c3)
                    feats = {f["properties"]["code"]: f for f in r3.get_json()["features"]}
                    grids[src], grids[dst] = feats[src], feats[dst]
                    old.append(cost)
                else:
                    r, cost = m("POST", f"/api/v1/plans/{n}/edits?features=1", json=body)
                    out = r.get_json()
                    revs.update(out["revs"])
                    assert {f["properties"]["code"] for f in out["features"]} == {src, dst}, out["changed"]
                    for f in out["features"]:
                        grids[f["properties"]["code"]] = f
                    new.append(cost)
        # the page open
        focus = zones[0]
        opens_old, opens_new = [], []
        for i in range(3):
            for way in (("old", "new") if i % 2 == 0 else ("new", "old")):
                if way == "old":
                    _, c = m("GET", f"/planner?plan={n}")
                    c = add(c, m("GET", f"/planner.json?plan={n}")[1])
                    c = add(c, m("GET", f"/api/v1/plans/{n}/units?level=grid")[1])
                    opens_old.append(c)
                else:
                    _, c = m("GET", f"/planner?plan={n}")
                    c = add(c, m("GET", f"/api/v1/plans/{n}/units?level=grid&parent={focus}")[1])
                    c = add(c, m("GET", f"/api/v1/plans/{n}/units?level=zone")[1])
                    opens_new.append(c)
        browser_rows = in_browser(app, n, focus, pairs[2 * a.edits + 2:], grids, a.edits) if a.browser else None
        app.extensions["gridmap"].store.close()

    def med(rows, k):
        return statistics.median(r[k] for r in rows)

    lines = [
        "# Plan edit: refresh only what changed (bench/bench_plan_edit.py)",
        "",
        f"`python bench/bench_plan_edit.py --towns {a.towns} --zones {a.zones} --edits {a.edits}` · "
        f"{len(grids)} grids in the draft · SQLite · in-process Flask test client · "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · shared 2-core machine (noisy)",
        "",
        "Per edit (a `move` of a strip between two neighbouring grids), medians of "
        f"{a.edits} edits each, old and new alternating in one run:",
        "",
        "| way | requests | server time (ms) | bytes sent | DB connections |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rows in (("old: edit + reload (planner.json + every grid)", old), ("new: edit?features=1", new)):
        lines.append(f"| {name} | {med(rows, 'requests'):.0f} | {1000 * med(rows, 's'):.0f} | "
                     f"{med(rows, 'bytes'):,.0f} | {med(rows, 'conns'):.0f} |")
    lines += ["", f"Ratio old/new: server time {med(old, 's') / med(new, 's'):.1f}x, bytes "
              f"{med(old, 'bytes') / med(new, 'bytes'):.0f}x. Targets: < 300 ms and < 50 KB per edit: "
              f"{'met' if med(new, 's') < 0.3 and med(new, 'bytes') < 50_000 else 'NOT met'}.", "",
              "Page open (server side), medians of 3 each, alternating:", "",
              "| way | requests | server time (ms) | bytes sent |", "|---|---:|---:|---:|"]
    for name, rows in (("old: page + planner.json + every grid", opens_old),
                       (f"new: page + focused zone {focus}'s grids + zones drawn light", opens_new)):
        lines.append(f"| {name} | {med(rows, 'requests'):.0f} | {1000 * med(rows, 's'):.0f} | {med(rows, 'bytes'):,.0f} |")
    lines += ["", f"Ratio old/new page open: server time {med(opens_old, 's') / med(opens_new, 's'):.1f}x, bytes "
              f"{med(opens_old, 'bytes') / med(opens_new, 'bytes'):.1f}x.", ""]
    if browser_rows:
        b = browser_rows
        lines += ["In headless Chromium (1400x900), same draft, medians:", "",
                  "| what | time (ms) |", "|---|---:|",
                  f"| page open: HTML to the focused zone drawn, zones light ({b['opens']} opens) | {b['open_ms']:.0f} |",
                  f"| edit, new: P.edit, the answer patches the map ({b['n']} edits) | {b['new_ms']:.0f} |",
                  f"| edit, old path replayed: edit + planner.json + every grid redrawn ({b['n']} edits) | {b['old_ms']:.0f} |",
                  "", f"Browser ratio old/new per edit: {b['old_ms'] / b['new_ms']:.1f}x. Page open target < 2 s: "
                  f"{'met' if b['open_ms'] < 2000 else 'NOT met'}.", ""]
    text = "\n".join(lines)
    print(text)
    if a.out != "-":
        Path(a.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
