"""The demo store (Lingcheng: 100 grids, staff, a year of incidents) built once per test run and copied
for each test that wants one: building it takes seconds, copying a few milliseconds."""

from __future__ import annotations

import atexit
import datetime as dt
import shutil
import tempfile
from pathlib import Path

from gridmap.settings import Settings

_templates: dict[dt.date, Path] = {}


def demo_settings(tmp: Path, name: str = "d.db", today: dt.date | None = None) -> Settings:
    """Settings over a private copy of the demo store at tmp/name (built on the first call for `today`).

    `today`: the day the demo's history ends before (default: the day the shipped history describes,
    2026-11-01, so tests on the demo's figures do not change with the calendar)."""
    from gridmap.demo import HISTORY_AS_OF, run_demo

    today = today or HISTORY_AS_OF
    if today not in _templates:
        folder = Path(tempfile.mkdtemp(prefix="gridmap-demo-template-"))
        atexit.register(shutil.rmtree, folder, True)
        run_demo(Settings(db=str(folder / "d.db")), out_dir=folder / "out", echo=lambda *a: None,
                 today=today).store.close()
        _templates[today] = folder / "d.db"
    template = _templates[today]
    tmp.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):  # a closed store has no WAL left, but copy one if SQLite kept it
        src = template.with_name(template.name + suffix)
        if src.exists():
            shutil.copy(src, tmp / (name + suffix))
    return Settings(db=str(tmp / name))
