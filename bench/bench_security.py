"""Issue #15: how long the former one-request denials of service take now (bounded, < 1 min in all).

python bench/bench_security.py  -> prints a Markdown table (and writes results/security.md)

Each case is one request through the Flask test client over a fresh SQLite store: a zipped
Shapefile of 100,000 and 1,000,000 records (every code the same), a 700-vertex self-intersecting
polygon, propose with maxp on 2,000 points (refused, then allowed with a 5 s budget), extend by
1e7 and 1e8 hours, 60 wrong passwords followed by the right one.
"""

from __future__ import annotations

import io
import platform
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gridmap.app import create_app  # noqa: E402
from gridmap.services import Services  # noqa: E402
from gridmap.settings import Settings  # noqa: E402
from gridmap.web.auth import create_token, create_user  # noqa: E402
from tests.conftest import ZONE, load_sample  # noqa: E402


def _sample(d: Path) -> None:
    import json

    def sq(x0, y0, x1, y1):
        return {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]}

    def fc(feats):
        return {"type": "FeatureCollection", "features": feats}

    def ft(g, **p):
        return {"type": "Feature", "properties": p, "geometry": g}

    box = (116.0, 39.0, 116.3, 39.1)
    (d / "county.geojson").write_text(json.dumps(fc([ft(sq(*box), code="110101", name="c")])))
    (d / "towns.geojson").write_text(json.dumps(fc([ft(sq(*box), code="110101001", name="t", parent_code="110101")])))
    (d / "zones.geojson").write_text(json.dumps(fc([ft(sq(*box), code=ZONE, name="z", parent_code="110101001")])))
    (d / "grids.geojson").write_text(json.dumps(fc([ft(sq(116.0 + 0.1 * i, 39.0, 116.1 + 0.1 * i, 39.1),
                                                        code=f"{ZONE}00{i + 1}", name=f"g{i}", parent_code=ZONE,
                                                        households=100) for i in range(3)])))
    (d / "staff.csv").write_text(f"person_id,name,phone,unit_code,role\nP1,a,13800000001,{ZONE}001,leader\n")


def _shapefile_zip(tmp: Path, n: int) -> bytes:
    import pyogrio

    geoms = np.full(n, shapely.box(116.0, 39.0, 116.01, 39.01), dtype=object)  # alike: compresses to little
    folder = tmp / f"shp{n}"
    folder.mkdir()
    pyogrio.raw.write(str(folder / "beats.shp"), shapely.to_wkb(geoms), driver="ESRI Shapefile",
                      geometry_type="Polygon", crs="EPSG:4326", field_data=[np.full(n, "A1", dtype=object)],
                      fields=["beat"])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in folder.iterdir():
            zf.write(f, f.name)
    return buf.getvalue()


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        (tmp / "s").mkdir()
        _sample(tmp / "s")
        settings = Settings(db=str(tmp / "b.db"), compute_timeout_s=5.0)
        s = Services.open(settings, create=True)
        load_sample(s, tmp / "s")
        s.store.close()
        app = create_app(settings)
        store = app.extensions["gridmap"].store
        create_user(store, "pl", "secret-pass", "admin")
        h = {"Authorization": f"Bearer {create_token(store, 'pl')}"}
        c = app.test_client()
        small = _shapefile_zip(tmp, 2)

        def timed(label, fn):
            t0 = time.perf_counter()
            r = fn()
            dt = time.perf_counter() - t0
            detail = (r.get_json(silent=True) or {}).get("detail", "") if r.is_json else ""
            rows.append((label, r.status_code, dt, str(detail).splitlines()[0][:110] if detail else ""))

        for n in (100_000, 1_000_000):
            z = _shapefile_zip(tmp, n)
            timed(f"/networks, zipped Shapefile of {n:,} records ({len(z) // 1024} KB)", lambda z=z: c.post(
                "/api/v1/networks", headers=h, content_type="multipart/form-data",
                data={"layer": [(io.BytesIO(z), "a.zip"), (io.BytesIO(small), "b.zip")], "code_field": "beat"}))
        ang = np.linspace(0, 2 * np.pi * 350 / 3, 700)  # a 700-vertex star that crosses itself everywhere
        star = shapely.Polygon(np.column_stack([116.05 + 0.01 * np.cos(ang) * (1 + (np.arange(700) % 2)),
                                                39.05 + 0.01 * np.sin(ang) * (1 + (np.arange(700) % 2))]))
        gj = ('{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"beat":"S1"},"geometry":'
              + shapely.to_geojson(star) + "}]}").encode()
        timed("/networks, one 700-vertex self-intersecting polygon", lambda: c.post(
            "/api/v1/networks", headers=h, content_type="multipart/form-data",
            data={"layer": [(io.BytesIO(gj), "star.geojson"), (io.BytesIO(small), "b.zip")], "code_field": "beat"}))
        rng = np.random.default_rng(1)
        pts = np.column_stack([rng.uniform(116.0, 116.3, 2000), rng.uniform(39.0, 39.1, 2000)]).tolist()
        body = {"zone": ZONE, "points": pts, "households": "150-250", "method": "maxp"}
        timed("/propose method=maxp, 2,000 points", lambda: c.post("/api/v1/propose", json=body, headers=h))
        app2 = create_app(Settings(db=settings.db, compute_timeout_s=5.0, propose_max_points="maxp=5000"))
        c2 = app2.test_client()
        timed("/propose maxp 2,000 points, limit raised, 5 s budget", lambda: c2.post("/api/v1/propose", json=body,
                                                                                   headers=h))
        iid = c.post("/api/v1/incidents", json={"category": "exposed_rubbish", "lon": 116.15, "lat": 39.05}).json["id"]
        for a in ("file", "dispatch"):
            c.post(f"/api/v1/incidents/{iid}/actions", json={"action": a}, headers=h)
        for hours in (1e7, 1e8):
            timed(f"extend hours={hours:g}", lambda hours=hours: c.post(
                f"/api/v1/incidents/{iid}/actions", json={"action": "extend", "hours": hours, "note": "x"}, headers=h))
        from tests.pages import csrf

        lc = app.test_client()
        t0 = time.perf_counter()
        codes = []
        for i in range(61):
            tok = csrf(lc.get("/login").get_data(as_text=True))
            codes.append(lc.post("/login", data={"username": "pl", "password": "secret-pass" if i == 60 else "nope",
                                                 "csrf_token": tok}).status_code)
        first_429 = codes.index(429) + 1 if 429 in codes else None
        rows.append(("60 wrong passwords, then the right one", codes[-1], time.perf_counter() - t0,
                     f"first 429 at attempt {first_429}; statuses {sorted(set(codes))}"))
        store.close()
        app2.extensions["gridmap"].store.close()
    out = ["| request | status | seconds | detail |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c:.2f} | {d} |" for a, b, c, d in rows]
    text = (f"# Security bounds (issue #15)\n\n`python bench/bench_security.py` on {platform.node()}, "
            f"{platform.python_version()}, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n\n" + "\n".join(out) + "\n")
    print(text)
    (Path(__file__).parent / "results" / "security.md").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
