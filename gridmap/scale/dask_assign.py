"""Bulk point-to-grid assignment on Dask, over (Geo)Parquet partitions.

The grid index travels to each worker once: the grids' WKB, codes and parents are pickled
into a `WorkerPlugin` that every worker receives when it joins (including workers that join
later); the `GridIndex` is built from them on first use and cached per worker process
(`processes=False` workers share one). Tasks carry only a token, never the index.

Each partition runs the single-machine code, `gridmap.registry.assign._locate` (CRS conversion,
range checks, lat/lon swap check, `GridIndex.locate_many` with the boundary rule: covers,
lowest code on a shared edge), so a point gets the same grid code on both paths.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyproj
import shapely

from ..errors import InputError, NotFound
from ..geo import crs as crs_mod
from ..i18n import tr
from ..registry.assign import locate_columns
from ..registry.index import GridIndex
from ..registry.model import Level
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
        raise NotFound(tr("the store holds no units yet: import some with `gridmap import` or run `gridmap demo`"))
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
    column = df[geometry]
    if isinstance(column.dtype, pd.ArrowDtype):  # WKB as read from GeoParquet
        return _wkb_points_xy(column)
    return _points_xy(np.asarray(column.values, dtype=object))


def _points_xy(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """x, y of shapely points (NaN for None and empty points); InputError for other geometries."""
    kind = shapely.get_type_id(geoms)
    bad = np.flatnonzero((kind != 0) & (kind != -1))
    if len(bad):
        raise InputError(tr("%(n)s geometries are not points (the first, row %(v)s of its partition, is a %(geom_type)s): assign takes points", n=format(len(bad), ","), v=bad[0], geom_type=geoms[bad[0]].geom_type))
    ok = (kind == 0) & ~shapely.is_empty(geoms)
    x = np.full(len(geoms), np.nan)
    y = np.full(len(geoms), np.nan)
    x[ok], y[ok] = shapely.get_x(geoms[ok]), shapely.get_y(geoms[ok])
    return x, y


def _wkb_points_xy(column: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """x, y straight from WKB in an Arrow binary column, without making shapely objects.

    A 2D little-endian WKB point is 21 bytes: byte order 1, type 1 (uint32), x, y (float64).
    When every value is one, the column's data buffer is read as an (n, 21) byte table; any
    other value (null, 3D, big-endian, not a point) sends the partition through shapely.
    Building 500,000 point objects only to read their coordinates cost half a partition's time.
    """
    import pyarrow as pa

    arr = column.array._pa_array.combine_chunks() if len(column) else pa.array([], pa.binary())
    n = len(arr)
    if n and arr.null_count == 0 and pa.types.is_binary(arr.type):
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32, count=n + 1, offset=4 * arr.offset)
        first = int(offsets[0])
        if int(offsets[-1]) - first == 21 * n and (np.diff(offsets) == 21).all():
            table = np.frombuffer(arr.buffers()[2], dtype=np.uint8, count=21 * n, offset=first).reshape(n, 21)
            if (table[:, 0] == 1).all() and (table[:, 1] == 1).all() and not table[:, 2:5].any():
                xy = np.ascontiguousarray(table[:, 5:]).view("<f8")
                return xy[:, 0].copy(), xy[:, 1].copy()
    return _points_xy(shapely.from_wkb(arr.to_numpy(zero_copy_only=False)))


def label_partition(df: pd.DataFrame, index_token: str, crs: str, geometry: str | None = None,
                    lon_field: str = "lon", lat_field: str = "lat", threads: int = 1) -> pd.DataFrame:
    """`df` with `grid_code` and `zone_code` added (null when outside every grid): one task.

    `threads` 1 on Dask (its workers are the parallelism); None: all cores, for one process alone.
    """
    out = df.copy()
    if len(df) == 0:  # Dask's meta (and empty partitions): no index needed
        out["grid_code"] = _strings(pa.array([], pa.string()), df.index)
        out["zone_code"] = _strings(pa.array([], pa.string()), df.index)
        return out
    index = worker_index(index_token)
    x, y = _xy(df, geometry, lon_field, lat_field)
    idx, _ = locate_columns(index, x, y, crs_mod.parse_crs(crs), threads=threads, progress=None)
    where = pa.array(idx, mask=idx < 0)  # Arrow takes: no Python string objects for 500,000 rows
    out["grid_code"] = _strings(pc.take(_column_of(index, "codes"), where), df.index)
    out["zone_code"] = _strings(pc.take(_column_of(index, "zones"), where), df.index)
    return out


def _column_of(index: GridIndex, what: str) -> "pa.Array":
    """Per grid of the index: its code, or its zone's code (null if none), as an Arrow array (cached)."""
    cache = index.__dict__.setdefault("_scale_columns", {})
    if what not in cache:
        values = (index.codes.tolist() if what == "codes"
                  else [c.get(Level.zone.value) or None for c in index.chains])
        cache[what] = pa.array(values, pa.string())
    return cache[what]


def _strings(arr, row_index) -> pd.Series:
    return pd.Series(pd.arrays.ArrowExtensionArray(arr), index=row_index)


@dataclass
class Points:
    """Points to assign: a Dask frame and where its coordinates are."""

    frame: object  # dask DataFrame (or dask_geopandas GeoDataFrame)
    geometry: str | None  # the geometry column (WKB bytes, or shapely on the dask_geopandas path); None: lon/lat
    crs: str | None  # the GeoParquet's own CRS; None: not declared
    geo: bytes | None  # GeoParquet metadata, written back unchanged with the output


def _dataset(src: str):
    """The Parquet file or directory at `src` as a pyarrow dataset; InputError if unreadable."""
    import pyarrow.dataset as ds

    try:
        return ds.dataset(src, format="parquet")
    except (FileNotFoundError, OSError, ValueError) as exc:
        raise InputError(tr("%(src)s: not a readable Parquet file or directory (%(exc)s)", src=src, exc=exc)) from None


def _read_file(path: str, filesystem) -> pd.DataFrame:
    """One Parquet file as a DataFrame of Arrow-backed columns (WKB stays bytes in Arrow)."""
    import pyarrow.parquet as pq

    return pq.read_table(path, filesystem=filesystem).to_pandas(types_mapper=pd.ArrowDtype)


def read_points(src: str, partitions: int | None = None) -> Points:
    """Points from a Parquet file or directory of partitions (one partition per file):
    GeoParquet, or lon/lat columns.

    WKB GeoParquet (what geopandas writes) is read with pyarrow and its points decoded in
    place (Dask's own Parquet reader took 2-5 times as long per file here); other GeoParquet
    encodings go through dask_geopandas.
    """
    import dask.dataframe as dd

    dataset = _dataset(src)
    geo = (dataset.schema.metadata or {}).get(b"geo")
    points = Points(None, None, None, None)
    if geo is not None:
        meta = json.loads(geo)
        column = meta["primary_column"]
        info = meta["columns"][column]
        crs = ("OGC:CRS84" if "crs" not in info  # GeoParquet: no "crs" key means lon/lat WGS84
               else None if info["crs"] is None else pyproj.CRS.from_json_dict(info["crs"]).to_string())
        points = Points(None, column, crs, geo)
        if str(info.get("encoding", "WKB")).upper() != "WKB":
            import dask_geopandas

            points.frame, points.geo = dask_geopandas.read_parquet(src), None
    if points.frame is None:
        empty = dataset.schema.empty_table().to_pandas(types_mapper=pd.ArrowDtype)
        if not dataset.files:
            raise InputError(tr("%(src)s: no Parquet files", src=src))
        points.frame = dd.from_map(_read_file, dataset.files, filesystem=dataset.filesystem, meta=empty,
                                   label="read-points", enforce_metadata=False)
    if partitions:
        points.frame = points.frame.repartition(npartitions=partitions)
    return points


def input_crs(points: Points, crs: str | None, default_crs: str | None = None) -> str:
    """The points' CRS: the GeoParquet's own, or `crs`, or `default_crs` (the CLI's documented
    EPSG:4326) for plain lon/lat columns; a contradiction or no CRS at all is an error.
    GCJ-02 / BD-09 may override a GeoParquet's CRS (web-map exports often carry the wrong one)."""
    if points.crs is not None:
        if crs and not crs_mod.parse_crs(crs).special and \
                crs_mod.parse_crs(crs).pyproj != crs_mod.parse_crs(points.crs).pyproj:
            raise InputError(tr("--crs %(crs)s contradicts the GeoParquet's own CRS %(crs2)s", crs=crs, crs2=points.crs))
        return crs if crs and crs_mod.parse_crs(crs).special else points.crs
    if not (crs or default_crs):
        raise InputError(tr("the Parquet points declare no CRS: give --crs (e.g. EPSG:4326)"))
    return crs or default_crs


def assign_frame(points: Points, token: str, crs: str, lon_field: str = "lon", lat_field: str = "lat"):
    """Lazy: the Dask frame with `grid_code` and `zone_code` added, partition by partition."""
    ddf = points.frame
    if points.geometry is None:
        for f in (lon_field, lat_field):
            if f not in ddf.columns:
                raise InputError(tr("the points have no geometry and no column %(f)r (columns: %(v)s); use --lon-field/--lat-field", f=f, v=", ".join(map(str, ddf.columns))))
    # (not `token=`: map_partitions takes that keyword itself, for the task names)
    kwargs = dict(index_token=token, crs=crs, geometry=points.geometry, lon_field=lon_field, lat_field=lat_field)
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
    points = read_points(src, partitions)
    crs = input_crs(points, crs, default_crs)
    token = broadcast_index(client, index_parts(services))
    out = assign_frame(points, token, crs, lon_field, lat_field)
    local = "://" not in dst
    target = f"{dst}.tmp-{uuid.uuid4().hex[:8]}" if local else dst
    try:
        out.to_parquet(target, write_index=False, **({"custom_metadata": {b"geo": points.geo}} if points.geo else {}))
        if local:
            if Path(dst).exists():
                shutil.rmtree(dst) if Path(dst).is_dir() else Path(dst).unlink()
            os.replace(target, dst)
    finally:
        if local and Path(target).exists():
            shutil.rmtree(target, ignore_errors=True)
        if client is not None:  # a long-lived cluster keeps no grids once the job is done
            client.unregister_worker_plugin(token)
    import dask.dataframe as dd

    codes = dd.read_parquet(dst, columns=["grid_code"])["grid_code"]
    rows, assigned = dd.compute(codes.size, codes.count())
    return {"rows": int(rows), "assigned": int(assigned), "outside": int(rows - assigned),
            "partitions": int(out.npartitions)}
