"""The demo store (Lingcheng: 100 grids, staff, a year of incidents) built once per test run and copied
for each test that wants one: building it takes seconds, copying a few milliseconds."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path

from gridmap.settings import Settings

_template: Path | None = None


def demo_settings(tmp: Path, name: str = "d.db") -> Settings:
    """Settings over a private copy of the demo store at tmp/name (built on the first call)."""
    global _template
    if _template is None:
        from gridmap.demo import run_demo

        folder = Path(tempfile.mkdtemp(prefix="gridmap-demo-template-"))
        atexit.register(shutil.rmtree, folder, True)
        run_demo(Settings(db=str(folder / "d.db")), out_dir=folder / "out", echo=lambda *a: None).store.close()
        _template = folder / "d.db"
    tmp.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # a closed store has no WAL left, but copy one if SQLite kept it
        src = _template.with_name(_template.name + suffix)
        if src.exists():
            shutil.copy(src, tmp / (name + suffix))
    return Settings(db=str(tmp / name))
