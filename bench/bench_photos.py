"""What a resident's photo costs: checking and re-encoding (incidents/photos.py), and a report with
one against a report without, side by side in one run (the machine is shared: compare, do not add).

    python bench/bench_photos.py [--rounds 5]      # ~1 min on 2 cores -> stdout (markdown)

Inputs are made here, deterministic: a 12-megapixel phone-camera JPEG (4032 x 3024, noisy
content so it compresses like a photo, with EXIF GPS), the same picture as HEIC (pillow-heif),
and a 1.5 MB 1600 x 1200 PNG screenshot. Each is timed through `prepare` (CPU seconds and wall
seconds, best and median of --rounds) and through POST /api/v1/incidents with the Flask test
client on a fresh SQLite sample store (multipart, with the file written and the row committed),
interleaved with the same report as JSON without a photo.
"""

from __future__ import annotations

import argparse
import io
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart


def camera_jpeg(w: int = 4032, h: int = 3024) -> bytes:
    rng = np.random.default_rng(7)
    base = np.linspace(0, 255, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    noisy = np.clip(base * 0.6 + rng.normal(0, 28, (h, w, 3)), 0, 255).astype(np.uint8)
    img = Image.fromarray(noisy)
    exif = Image.Exif()
    exif[0x0112] = 6
    exif.get_ifd(0x8825).update({1: "N", 2: (37.0, 26.0, 10.5), 3: "E", 4: (116.0, 18.0, 2.25)})
    out = io.BytesIO()
    img.save(out, "JPEG", quality=88, exif=exif)
    return out.getvalue()


def heic_of(jpeg: bytes) -> bytes:
    from pillow_heif import from_pillow

    out = io.BytesIO()
    from_pillow(Image.open(io.BytesIO(jpeg)).convert("RGB")).save(out, quality=70)
    return out.getvalue()


def png_screenshot() -> bytes:
    rng = np.random.default_rng(3)
    arr = (rng.integers(0, 4, (1200, 1600, 3)) * 60).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(arr).save(out, "PNG")
    return out.getvalue()


def one_grid_store(settings, tmp: Path) -> None:
    """A store of one county, town, zone and grid: the square lon 116.1-116.2, lat 39.0-39.1."""
    import json

    from gridmap.registry.model import Level
    from gridmap.registry.validate import ImportSpec
    from gridmap.services import Services

    square = {"type": "Polygon", "coordinates": [[[116.1, 39.0], [116.2, 39.0], [116.2, 39.1], [116.1, 39.1], [116.1, 39.0]]]}
    services = Services.open(settings, create=True)
    parent = None
    for level, code in (("county", "110101"), ("town", "110101001"), ("zone", "110101001001"), ("grid", "110101001001001")):
        path = tmp / f"{level}.geojson"
        props = {"code": code, "name": code, **({"parent_code": parent} if parent else {})}
        path.write_text(json.dumps({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": props, "geometry": square}]}), encoding="utf-8")
        services.import_units(path, ImportSpec(Level(level), parent_field="parent_code" if parent else None))
        parent = code
    services.store.close()


def timed(fn, rounds: int) -> tuple[list[float], list[float]]:
    wall, cpu = [], []
    for _ in range(rounds):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return wall, cpu


def row(name: str, size: int | str, wall: list[float], cpu: list[float]) -> str:
    return (f"| {name} | {size} | {min(wall) * 1000:.0f} | {statistics.median(wall) * 1000:.0f} | "
            f"{min(cpu) * 1000:.0f} | {statistics.median(cpu) * 1000:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    from gridmap.incidents.photos import prepare

    inputs = {"JPEG 4032x3024 (camera)": camera_jpeg()}
    inputs["HEIC 4032x3024"] = heic_of(inputs["JPEG 4032x3024 (camera)"])
    inputs["PNG 1600x1200 (screenshot)"] = png_screenshot()
    print("| input | bytes | wall best ms | wall median ms | CPU best ms | CPU median ms |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, data in inputs.items():
        ready = prepare(data, 20 * 2**20, 60_000_000)
        wall, cpu = timed(lambda d=data: prepare(d, 20 * 2**20, 60_000_000), args.rounds)
        print(row(f"prepare: {name} -> {ready.width}x{ready.height}, {len(ready.jpeg)} B + thumb {len(ready.thumb)} B",
                  len(data), wall, cpu))

    with tempfile.TemporaryDirectory() as tmp:
        from gridmap import create_app
        from gridmap.settings import Settings

        settings = Settings(db=str(Path(tmp) / "b.db"), report_rate_limit="100000 per minute")
        one_grid_store(settings, Path(tmp))
        app = create_app(settings)
        client = app.test_client()
        fields = {"category": "exposed_rubbish", "lon": "116.15", "lat": "39.05", "description": "路口垃圾"}
        photo = inputs["JPEG 4032x3024 (camera)"]

        def with_photo():
            boundary, body = encode_multipart({**fields, "photo": FileStorage(io.BytesIO(photo), filename="p.jpg")})
            r = client.post("/api/v1/incidents", data=body, content_type=f"multipart/form-data; boundary={boundary}")
            assert r.status_code == 201, r.json

        def without():
            assert client.post("/api/v1/incidents", json=fields).status_code == 201

        results: dict[str, tuple[list[float], list[float]]] = {"json": ([], []), "photo": ([], [])}
        for _ in range(args.rounds):  # interleaved: the same load on both
            for key, fn in (("json", without), ("photo", with_photo)):
                w, c = timed(fn, 1)
                results[key][0].extend(w)
                results[key][1].extend(c)
        print(row("POST /api/v1/incidents, JSON, no photo", "-", *results["json"]))
        print(row("POST /api/v1/incidents, multipart + camera JPEG", len(photo), *results["photo"]))
        app.extensions["gridmap"].store.close()


if __name__ == "__main__":
    main()
