"""Bulk point-to-grid assignment on Dask, over (Geo)Parquet partitions.

The grid index travels to each worker once: the grids' WKB, codes and parents are pickled
into a `WorkerPlugin` that every worker receives when it joins (including workers that join
later); the `GridIndex` is built from them on first use and cached per worker process
(`processes=False` workers share one). Tasks carry only a token, never the index.

Each partition runs the single-machine code, `gridmap.assign._locate` (CRS conversion,
range checks, lat/lon swap check, `GridIndex.locate_many` with the boundary rule: covers,
lowest code on a shared edge), so a point gets the same grid code on both paths.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from .. import crs as crs_mod
from ..assign import _locate
from ..errors import InputError, NotFound
from ..index import GridIndex
from ..model import Level
from ..store.base import UnitRows

try:  # a worker plugin when distributed is installed; the index also works without it
    from distributed import WorkerPlugin
except ImportError:  # pragma: no cover
    WorkerPlugin = object


@dataclass(frozen=True)
class IndexParts:
    """What a worker needs to build the GridIndex: grid WKB and codes, and every unit's parent."""

    rows: UnitRows
    parents: dict[str, tuple[str | None, Level]]
    level: Level

    @property
    def token(self) -> str:
        """Identifies this plan's grids (same grids, same token): the per-worker cache key."""
        h = hashlib.sha1()
        for code, wkb in zip(self.rows.code, self.rows.wkb):
            h.update(code.encode())
            h.update(wkb)
        return f"gridmap-index-{self.level.value}-{h.hexdigest()[:16]}"

    def build(self) -> GridIndex:
        """The GridIndex, exactly as `Services.index` builds it."""
        return GridIndex.build(self.rows, self.parents, self.level)


def index_parts(services) -> IndexParts:
    """The plan in force's grids, in the form shipped to workers (mirrors Services._build_index)."""
    tree = services.store.unit_tree()
    if not tree:
        raise NotFound("the store holds no units yet: import some with `gridmap import` or run `gridmap demo`")
    present = {lv for _, _, lv in tree}
    level = Level.grid if Level.grid in present else max(present, key=lambda lv: lv.rank)
    parents = {code: (parent, lv) for code, parent, lv in tree}
    return IndexParts(services.store.unit_rows([level]), parents, level)


_PARTS: dict[str, IndexParts] = {}
_INDEXES: dict[str, GridIndex] = {}
_LOCK = threading.Lock()


def worker_index(token: str) -> GridIndex:
    """The GridIndex for `token` in this process, built once from the parts the plugin delivered."""
    index = _INDEXES.get(token)
    if index is None:
        with _LOCK:  # one build per process even when several worker threads ask at once
            index = _INDEXES.get(token)
            if index is None:
                if token not in _PARTS:
                    raise RuntimeError(f"grid index {token} was not broadcast to this worker")
                index = _INDEXES[token] = _PARTS[token].build()
    return index


class IndexPlugin(WorkerPlugin):
    """Delivers IndexParts to a worker once (pickled with the plugin, not with each task)."""

    def __init__(self, parts: IndexParts):
        self.parts = parts
        self.token = parts.token

    def setup(self, worker) -> None:
        _PARTS[self.token] = self.parts

    def teardown(self, worker) -> None:
        with _LOCK:
            _PARTS.pop(self.token, None)
            _INDEXES.pop(self.token, None)


def broadcast_index(client, parts: IndexParts) -> str:
    """Send the index parts to every worker of `client` (None: this process only); return the token."""
    token = parts.token
    _PARTS[token] = parts  # the client process too: meta inference and the local scheduler
    if client is not None:
        client.register_plugin(IndexPlugin(parts), name=token)
    return token


def _xy(df: pd.DataFrame, geometry: str | None, lon_field: str, lat_field: str) -> tuple[np.ndarray, np.ndarray]:
    """Point coordinates of a partition (NaN where missing or empty); InputError for non-points."""
    if geometry is None:
        return (pd.to_numeric(df[lon_field], errors="coerce").to_numpy(dtype="float64", na_value=np.nan),
                pd.to_numeric(df[lat_field], errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
    geoms = np.asarray(df[geometry].values, dtype=object)
    kind = shapely.get_type_id(geoms)
    bad = np.flatnonzero((kind != 0) & (kind != -1))
    if len(bad):
        raise InputError(f"{len(bad):,} geometries are not points (first: row {df.index[bad[0]]}, "
                         f"{shapely.get_type_id(geoms[bad[0]])} = {geoms[bad[0]].geom_type})")
    ok = (kind == 0) & ~shapely.is_empty(geoms)
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[ok], y[ok] = shapely.get_x(geoms[ok]), shapely.get_y(geoms[ok])
    return x, y


def label_partition(df: pd.DataFrame, index_token: str, crs: str, geometry: str | None = None,
                    lon_field: str = "lon", lat_field: str = "lat") -> pd.DataFrame:
    """`df` with `grid_code` and `zone_code` added (null when outside every grid): one task."""
    out = df.copy()
    if len(df) == 0:  # Dask's meta (and empty partitions): no index needed
        out["grid_code"] = pd.Series([], index=df.index, dtype="str")
        out["zone_code"] = pd.Series([], index=df.index, dtype="str")
        return out
    index = worker_index(index_token)
    x, y = _xy(df, geometry, lon_field, lat_field)
    idx, _ = _locate(index, x, y, crs_mod.parse_crs(crs), threads=1, progress=None)
    codes = np.append(index.codes, None)
    zones = index.ancestor_codes(idx, Level.zone)
    zones[zones == ""] = None
    out["grid_code"] = pd.Series(codes[idx], index=df.index, dtype="str")
    out["zone_code"] = pd.Series(zones, index=df.index, dtype="str")
    return out


def _geo_metadata(src: str) -> bool:
    """True when the Parquet dataset at `src` carries GeoParquet metadata."""
    import pyarrow.dataset as ds

    try:
        schema = ds.dataset(src, format="parquet").schema
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise InputError(f"{src}: not a readable Parquet file or directory ({exc})") from None
    return b"geo" in (schema.metadata or {})


def read_points(src: str, partitions: int | None = None):
    """A Dask (Geo)DataFrame over a Parquet file or directory of partitions."""
    if _geo_metadata(src):
        import dask_geopandas

        ddf = dask_geopandas.read_parquet(src)
    else:
        import dask.dataframe as dd

        ddf = dd.read_parquet(src)
    if partitions:
        ddf = ddf.repartition(npartitions=partitions)
    return ddf


def input_crs(ddf, crs: str | None, default_crs: str | None = None) -> str:
    """The points' CRS: the GeoParquet's own, or `crs`, or `default_crs` (the CLI's documented
    EPSG:4326) for plain lon/lat columns; a contradiction or no CRS at all is an error."""
    own = getattr(ddf, "crs", None)
    if own is not None:
        if crs and crs_mod.parse_crs(crs).pyproj != own and not crs_mod.parse_crs(crs).special:
            raise InputError(f"--crs {crs} contradicts the GeoParquet's own CRS {own.to_string()}")
        return crs if crs and crs_mod.parse_crs(crs).special else own.to_string()
    if not (crs or default_crs):
        raise InputError("the Parquet points declare no CRS: give --crs (e.g. EPSG:4326)")
    return crs or default_crs


def assign_frame(ddf, token: str, crs: str, lon_field: str = "lon", lat_field: str = "lat"):
    """Lazy: the Dask frame with `grid_code` and `zone_code` added, partition by partition."""
    geometry = getattr(ddf, "geometry", None)
    geometry = geometry.name if geometry is not None else None
    if geometry is None:
        for f in (lon_field, lat_field):
            if f not in ddf.columns:
                raise InputError(f"the points have no geometry and no column {f!r} "
                                 f"(columns: {', '.join(map(str, ddf.columns))}); use --lon-field/--lat-field")
    # (not `token=`: map_partitions takes that keyword itself, for the task names)
    kwargs = dict(index_token=token, crs=crs, geometry=geometry, lon_field=lon_field, lat_field=lat_field)
    meta = label_partition(ddf._meta, **kwargs)
    return ddf.map_partitions(label_partition, **kwargs, meta=meta)


def assign_parquet(services, src: str | os.PathLike, dst: str | os.PathLike, client=None, crs: str | None = None,
                   lon_field: str = "lon", lat_field: str = "lat", partitions: int | None = None,
                   default_crs: str | None = None) -> dict:
    """Read points from a (Geo)Parquet file or directory, write `dst` (a directory of partitions)
    with `grid_code` and `zone_code` added; return counts. `client` None: the local threaded scheduler.

    A local `dst` appears only when complete (written beside it, then renamed).
    """
    src, dst = str(src), str(dst)
    ddf = read_points(src, partitions)
    crs = input_crs(ddf, crs, default_crs)
    token = broadcast_index(client, index_parts(services))
    out = assign_frame(ddf, token, crs, lon_field, lat_field)
    local = "://" not in dst
    target = f"{dst}.tmp-{uuid.uuid4().hex[:8]}" if local else dst
    try:
        out.to_parquet(target, write_index=False)
        if local:
            if Path(dst).exists():
                shutil.rmtree(dst) if Path(dst).is_dir() else Path(dst).unlink()
            os.replace(target, dst)
    finally:
        if local and Path(target).exists():
            shutil.rmtree(target, ignore_errors=True)
    import dask.dataframe as dd

    codes = dd.read_parquet(dst, columns=["grid_code"])["grid_code"]
    rows, assigned = dd.compute(codes.size, codes.count())
    return {"rows": int(rows), "assigned": int(assigned), "outside": int(rows - assigned),
            "partitions": int(out.npartitions)}
