"""QGIS, the desktop GIS most offices use, reads gridmap: every OGC API collection through QGIS's
OAPIF provider against a live server on 127.0.0.1, and the exported GeoPackage through OGR.
Feature counts must match the store; QGIS renders a map PNG (copied to /tmp/gridmap-print-check/
for a person to look at).

QGIS runs headless (QT_QPA_PLATFORM=offscreen) in the system Python that has it (Debian `qgis`
and `python3-qgis`), as a subprocess: tests/qgis_probe.py. Skipped when QGIS is absent, unless
REQUIRE_QGIS_TESTS=required (.ci/run sets it and installs QGIS).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gridmap.registry.model import Level

from .live_server import live_server
from .test_ogc_clients import Recorder
from .test_ogcapi import app  # noqa: F401  (the fixture: two plans, three incidents, both backends)

SYSTEM_PYTHON = "/usr/bin/python3"
PROBE = Path(__file__).with_name("qgis_probe.py")
CHECK_DIR = Path("/tmp/gridmap-print-check")


def _qgis_missing() -> str | None:
    if not Path(SYSTEM_PYTHON).exists():
        return f"{SYSTEM_PYTHON} is missing"
    r = subprocess.run([SYSTEM_PYTHON, "-c", "import qgis.core"], capture_output=True, text=True, timeout=120,
                       env={"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen"})
    return None if r.returncode == 0 else "QGIS is not installed (apt-get install qgis python3-qgis)"


@pytest.fixture(scope="module")
def qgis_ready():
    why = _qgis_missing()
    if why:
        if os.environ.get("REQUIRE_QGIS_TESTS") == "required":
            pytest.fail(f"{why} but REQUIRE_QGIS_TESTS=required")
        pytest.skip(why)


@pytest.mark.slow
def test_qgis_loads_every_collection_and_the_geopackage(qgis_ready, app, tmp_path):  # noqa: F811
    services = app.extensions["gridmap"]
    loop = app.extensions["gridmap"].incidents
    store = services.store
    expected = {lv.value: len(store.units(level=lv)) for lv in (Level.county, Level.town, Level.zone, Level.grid)}
    expected["incidents"] = len(loop.repo.query())
    assert expected["grid"] == 3 and expected["incidents"] == 3
    gpkg = tmp_path / "export.gpkg"
    services.export(gpkg)
    rec = Recorder(app.wsgi_app)
    app.wsgi_app = rec
    png = tmp_path / "qgis-map.png"
    with live_server(app) as base:
        job = tmp_path / "job.json"
        job.write_text(json.dumps({"oapif": f"{base}/ogcapi", "collections": list(expected), "gpkg": str(gpkg),
                                   "gpkg_layers": ["county", "town", "zone", "grid"], "png": str(png)}))
        env = {"PATH": "/usr/bin:/bin", "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path),
               "XDG_RUNTIME_DIR": str(tmp_path), "QGIS_CUSTOM_CONFIG_PATH": str(tmp_path / "qgis-profile")}
        r = subprocess.run([SYSTEM_PYTHON, "-X", "faulthandler", str(PROBE), str(job)], capture_output=True, text=True, timeout=300,
                           env=env)
    assert r.returncode == 0, r.stderr[-4000:]
    report = json.loads(r.stdout.strip().splitlines()[-1])
    for cid, n in expected.items():
        got = report["oapif"][cid]
        assert got["valid"] and got["count"] == n, (cid, got, n)
        assert got["crs"] in ("OGC:CRS84", "EPSG:4326"), got
    assert {"code", "name", "parent_code"} <= set(report["oapif"]["grid"]["fields"])
    # QGIS really went to the server for each collection's items
    asked = {p.split("/")[3] for p, _ in rec.seen if p.startswith("/ogcapi/collections/") and p.endswith("/items")}
    assert asked == set(expected), rec.seen
    for level in ("county", "town", "zone", "grid"):
        got = report["gpkg"][level]
        assert got["valid"] and got["count"] == expected[level], (level, got)
        assert got["crs"] == "EPSG:4326"
    from PIL import Image

    with Image.open(png) as im:
        assert im.size == (1000, 500)
        colours = im.convert("RGB").getcolors(1 << 20)
    assert len(colours) > 20  # fills, outlines, labels and markers, not a blank image
    CHECK_DIR.mkdir(parents=True, exist_ok=True)
    shutil.copy(png, CHECK_DIR / f"qgis-map-{Path(store.engine.url.database or 'pg').stem}.png")
