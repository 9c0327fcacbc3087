"""gunicorn serving gridmap.wsgi:app: it starts, warms the map caches, and serves the pages."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from gridmap.services import Services
from gridmap.settings import Settings

from .conftest import load_sample
from .pg_server import _free_port


@pytest.mark.slow
def test_gunicorn_serves_the_wsgi_app_with_warm_caches(tmp_path: Path, sample_dir: Path):
    db = tmp_path / "serve.db"
    s = Services.open(Settings(db=str(db)), create=True)
    load_sample(s, sample_dir)
    s.store.close()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")} | {"GRIDMAP_DB": str(db)}
    err = open(tmp_path / "gunicorn.err", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "gridmap.wsgi:app", "-b", f"127.0.0.1:{port}",
                             "-w", "1", "-k", "gthread", "--threads", "2"], env=env, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=err)
    try:
        deadline = time.monotonic() + 60
        while "map caches ready" not in (tmp_path / "gunicorn.err").read_text():
            assert proc.poll() is None, (tmp_path / "gunicorn.err").read_text()
            assert time.monotonic() < deadline, "no warm-up within 60 s"
            time.sleep(0.2)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/map", timeout=30) as r:
            assert r.status == 200 and b"folium-map" in r.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/info", timeout=30) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        err.close()
