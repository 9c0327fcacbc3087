"""The persisted grid index: a plan's index arrays written beside the store, memory-mapped back.

Building a GridIndex of 50,000 grids means reading 160 MB of WKB, decoding it and cutting it
into buckets and slabs: seconds. The result depends on the plan's units only, so it is
written once, as plain .npy arrays and one JSON file, in a folder named by its key
(store id, plan, plan.units_rev: migration 0010's triggers bump units_rev on every change of
a plan's units, so a publish or an edit gives a new key and the old folder is never read
for it). The CLI and every app worker then load it in milliseconds with np.load(mmap_mode="r"):
the pages are shared by the processes through the OS page cache.

Safe with several processes: a folder is written under a temporary name and renamed into
place (atomic; a process that loses the race uses the winner's). A folder that fails its
checks (truncated or garbled file, other layout) is ignored, removed and rebuilt.
Where: settings.index_cache, or beside a SQLite store (<file>.index/), or the user's cache
folder for PostgreSQL; "off" disables it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .flatindex import SLABS, Buckets, FlatIndex, Slabs
from .model import Level

FORMAT = 1  # the layout below; a change of it makes old folders unreadable, hence rebuilt
KEEP = 4  # folders kept per store (others' mmaps survive removal: POSIX unlink)
log = logging.getLogger(__name__)

_ARRAYS = {  # file stem -> (attribute path, dtype kind)
    "geom_part": ("flat.geom_part", "i"), "part_ring": ("flat.part_ring", "i"), "ring_off": ("flat.ring_off", "i"),
    "xy": ("flat.xy", "f"), "multi": ("flat.multi", "b"), "bucket_start": ("flat.buckets.start", "i"),
    "bucket_items": ("flat.buckets.items", "i"), "bounds": ("flat.buckets.bounds", "f"),
    "slab_y0": ("flat.slabs.y0", "f"), "slab_h": ("flat.slabs.h", "f"), "slab_start": ("flat.slabs.start", "i"),
    "slab_edges": ("flat.slabs.edges", "i"),
}


@dataclass(frozen=True)
class CacheKey:
    """What the arrays of one index depend on: the store, the plan, the plan's units revision."""

    store: str
    plan: int
    units_rev: int

    @property
    def name(self) -> str:
        return f"p{self.plan}-r{self.units_rev}-f{FORMAT}-{re.sub(r'[^0-9a-zA-Z]', '', self.store)[:32]}"


def cache_root(setting: str, db: str | Path | None) -> Path | None:
    """The cache folder for a store: the setting, else beside a SQLite file, else the user's cache."""
    if setting.strip().lower() == "off":
        return None
    if setting.strip():
        return Path(setting).expanduser()
    from ..store.gridread import sqlite_file

    path = sqlite_file(db)
    if path is not None:
        return path.with_name(path.name + ".index")
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gridmap" / "index"
    url = re.sub(r"//[^@/]*@", "//", str(db))  # no password in a folder name (nor its hash's input)
    return base / hashlib.sha256(url.encode()).hexdigest()[:16]


@dataclass
class CachedIndex:
    """The index's arrays and strings as stored (codes in index order)."""

    codes: list[str]
    names: list[str]
    chains: list[dict[str, str]]
    level: Level
    flat: FlatIndex


def load(root: Path | None, key: CacheKey) -> CachedIndex | None:
    """The cached index for `key`, or None (absent, or broken: then the folder is removed)."""
    if root is None:
        return None
    folder = root / key.name
    if not folder.is_dir():
        return None
    try:
        return _read(folder)
    except Exception as exc:  # any damage means: not a cache; rebuild (never a wrong answer)
        log.warning("网格索引缓存 %s 已损坏，将重建 / index cache %s is unreadable (%s): rebuilding it", folder, folder, exc)
        _remove(folder)
        return None


def save(root: Path | None, key: CacheKey, index) -> None:
    """Write a GridIndex's arrays for `key` (atomic; a failure to write only costs the next start)."""
    if root is None:
        return
    try:
        root.mkdir(parents=True, exist_ok=True)
        if (root / key.name).is_dir():
            return
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=root))
        try:
            _write(tmp, index)
            os.rename(tmp, root / key.name)  # atomic; fails if another process got there first
        except OSError:
            if not (root / key.name).is_dir():
                raise
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
        _prune(root, key)
    except OSError as exc:
        log.warning("网格索引缓存未写入 %s / index cache not written to %s: %s", root, root, exc)


def _write(folder: Path, index) -> None:
    flat = index.flat_index()
    flat.edge_slabs()
    chains = index.chains
    levels = sorted({lv for c in chains for lv in c})
    orders: dict[tuple[str, ...], int] = {}  # each grid's ancestors in their order (nearest first)
    which = [orders.setdefault(tuple(c), len(orders)) for c in chains]
    meta = {"format": FORMAT, "n": len(index.codes), "level": index.level.value, "slabs": SLABS,
            "buckets": {k: getattr(flat.buckets, k) for k in ("x0", "y0", "size", "nx", "ny")},
            "codes": [str(c) for c in index.codes], "names": list(index.names),
            "chains": {lv: [c.get(lv, "") for c in chains] for lv in levels},
            "chain_orders": [list(o) for o in orders], "chain_order": which, "arrays": {}}
    for stem, (attr, _) in _ARRAYS.items():
        arr = np.ascontiguousarray(_attr(index, attr))
        with open(folder / f"{stem}.npy", "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
            fh.flush()
            os.fsync(fh.fileno())
        meta["arrays"][stem] = [list(arr.shape), arr.dtype.str]
    with open(folder / "meta.json", "w", encoding="utf-8") as fh:
        json.dump(meta, fh, ensure_ascii=False)
        fh.flush()
        os.fsync(fh.fileno())


def _read(folder: Path) -> CachedIndex:
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    if meta.get("format") != FORMAT or meta.get("slabs") != SLABS:
        raise ValueError(f"layout {meta.get('format')}/{meta.get('slabs')}, this gridmap writes {FORMAT}/{SLABS}")
    a = {}
    for stem, (shape, dtype) in meta["arrays"].items():
        arr = np.load(folder / f"{stem}.npy", mmap_mode="r", allow_pickle=False)
        if list(arr.shape) != shape or arr.dtype.str != dtype:
            raise ValueError(f"{stem}.npy is {arr.shape} {arr.dtype.str}, expected {shape} {dtype}")
        a[stem] = arr
    if set(a) != set(_ARRAYS):
        raise ValueError("arrays missing")
    n, b = meta["n"], meta["buckets"]
    codes, names = meta["codes"], meta["names"]
    chain_cols = meta["chains"]
    checks = [len(codes) == n, len(names) == n, all(len(v) == n for v in chain_cols.values()),
              len(a["geom_part"]) == n + 1, len(a["bounds"]) == n, len(a["multi"]) == n,
              a["geom_part"][-1] + 1 == len(a["part_ring"]), a["part_ring"][-1] + 1 == len(a["ring_off"]),
              a["ring_off"][-1] == len(a["xy"]), len(a["bucket_start"]) == b["nx"] * b["ny"] + 1,
              a["bucket_start"][-1] == len(a["bucket_items"]), len(a["slab_start"]) == n * SLABS + 1,
              a["slab_start"][-1] == len(a["slab_edges"])]
    if not all(bool(c) for c in checks):
        raise ValueError("arrays do not fit together")
    buckets = Buckets(float(b["x0"]), float(b["y0"]), float(b["size"]), int(b["nx"]), int(b["ny"]),
                      a["bucket_start"], a["bucket_items"], a["bounds"])
    slabs = Slabs(a["slab_y0"], a["slab_h"], a["slab_start"], a["slab_edges"])
    flat = FlatIndex(buckets, a["geom_part"], a["part_ring"], a["ring_off"], a["xy"], a["multi"], slabs)
    orders, which = meta["chain_orders"], meta["chain_order"]
    if len(which) != n:
        raise ValueError("chains do not fit")
    chains = [{lv: chain_cols[lv][i] for lv in orders[k]} for i, k in enumerate(which)]
    return CachedIndex(codes, names, chains, Level(meta["level"]), flat)


def _attr(obj, path: str):
    for part in path.split("."):
        obj = getattr(obj, part)
    return obj


def _remove(folder: Path) -> None:
    try:  # rename first: another process never sees a half-removed folder under the key's name
        gone = folder.with_name(f".gone-{folder.name}-{os.getpid()}")
        os.rename(folder, gone)
        shutil.rmtree(gone, ignore_errors=True)
    except OSError:
        pass


def _prune(root: Path, keep: CacheKey) -> None:
    """Keep the newest KEEP folders (by modification time) and the one just written."""
    entries = sorted((p for p in root.iterdir() if p.is_dir() and p.name.startswith("p")),
                     key=lambda p: p.stat().st_mtime, reverse=True)
    for p in entries[KEEP:]:
        if p.name != keep.name:
            _remove(p)


def get_or_build(root: Path | None, key: CacheKey | None, build):
    """The GridIndex for `key` from the cache, else `build()` it and write it to the cache."""
    from .index import GridIndex

    hit = load(root, key) if key is not None else None
    if hit is not None:
        return GridIndex.from_flat(np.array(hit.codes, dtype=object), hit.names, hit.chains, hit.level, hit.flat)
    index = build()
    if key is not None and len(index):
        save(root, key, index)
    return index
