"""Bulk point-to-grid assignment of CSV or GeoJSON files, on the whole-file fast path.

CSV goes through Arrow end to end (multi-threaded parse, vectorised float conversion,
native writer): in a 1,000,000-row job the CSV write alone is a third of a naive pandas
script's time. Input columns are kept as the exact text the user gave.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..errors import InputError
from ..geo.crs import InputCRS, parse_crs, xy_to_storage
from ..i18n import tr
from ..io.writers import atomic_path
from .index import GridIndex
from .model import Level

if TYPE_CHECKING:
    from ..settings import Settings


def index_for_assign(settings: "Settings") -> GridIndex:
    """The GridIndex of the plan in force, as Services.index builds it, read the short way.

    Warm: from the persisted index (indexcache.py) when its key (plan, units_rev) matches.

    A SQLite store is read with sqlite3 in one connection (store/gridread.py): a bulk job is
    a short process, and SQLAlchemy's import and row processing were a fifth of it. Other
    backends go through Services (PostGIS rows already come through the driver cursor).
    """
    from zoneinfo import ZoneInfo

    from ..store.gridread import plan_key, read_grid_source, sqlite_file
    from . import indexcache

    path = sqlite_file(settings.db)
    if path is None:
        from ..services import Services

        services = Services.open(settings)
        try:
            return services.index
        finally:
            services.store.close()
    day = dt.datetime.now(ZoneInfo(settings.timezone)).date()
    found = plan_key(path, day)
    key = indexcache.CacheKey(*found) if found else None

    def build() -> GridIndex:
        from . import pipkernel

        source = read_grid_source(path, day, plan=key.plan if key else None)
        # with the kernel, the job needs the flat arrays only (what the cache stores)
        return GridIndex.build(source.rows, source.parents, source.level, geoms=source.geoms,
                               flat_only=pipkernel.available())

    return indexcache.get_or_build(indexcache.cache_root(settings.index_cache, path), key, build)


def assign_with_settings(settings: "Settings", src: str | Path, dst: str | Path, crs: str = "EPSG:4326",
                         lon_field: str = "lon", lat_field: str = "lat",
                         progress: Callable[[int, int], None] | None = None) -> dict:
    """`gridmap assign` (local engine): Services.assign_file without opening the SQL store."""
    spec = parse_crs(crs)  # a bad --crs is refused before the store is read
    return assign_file(index_for_assign(settings), src, dst, spec, lon_field, lat_field,
                       threads=settings.threads or None, progress=progress)


def assign_file(index: GridIndex, src: str | Path, dst: str | Path, crs: InputCRS,
                lon_field: str = "lon", lat_field: str = "lat", threads: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> dict:
    """Write `dst`: the rows of `src` with `grid_code` and `zone_code` added ('' when outside)."""
    src, dst = Path(src), Path(dst)
    if not src.exists():
        raise InputError(tr("%(src)s: no such file", src=src))
    kind = src.suffix.lower()
    if kind == ".csv":
        return _assign_csv(index, src, dst, crs, lon_field, lat_field, threads, progress)
    if kind in (".geojson", ".json"):
        return _assign_geojson(index, src, dst, crs, threads, progress)
    raise InputError(tr("%(src)s: assign reads .csv (with %(lon_field)s/%(lat_field)s columns) or .geojson points", src=src, lon_field=lon_field, lat_field=lat_field))


def locate_columns(index: GridIndex, x: np.ndarray, y: np.ndarray, crs: InputCRS, threads, progress) -> tuple[np.ndarray, dict]:
    n = len(x)
    finite = np.isfinite(x) & np.isfinite(y)
    if crs.is_geographic and finite.any():
        fx, fy = x[finite], y[finite]
        swapped = (fx > 0.8) & (fx < 55.9) & (fy > 72) & (fy < 137.9)
        if swapped.mean() > 0.5:
            raise InputError(tr("%(v)s of %(v2)s points look like lat/lon swapped (longitude column holds latitudes): check --lon-field/--lat-field", v=format(swapped.sum(), ","), v2=format(finite.sum(), ",")))
    lon, lat = xy_to_storage(x, y, crs)
    valid = np.isfinite(lon) & np.isfinite(lat) & (np.abs(lon) <= 180) & (np.abs(lat) <= 90)
    lon = np.where(valid, lon, np.nan)
    done = [0]

    def tick(k: int) -> None:
        done[0] += k
        if progress is not None:
            progress(done[0], n)

    idx = index.locate_many(lon, lat, threads=threads, progress=tick)
    stats = {"rows": n, "assigned": int((idx >= 0).sum()), "outside": int(((idx < 0) & valid).sum()),
             "no_coordinates": int((~np.isfinite(x) | ~np.isfinite(y)).sum()),
             "out_of_range": int((np.isfinite(x) & np.isfinite(y) & ~valid).sum())}
    return idx, stats


def _assign_csv(index, src, dst, crs, lon_field, lat_field, threads, progress) -> dict:
    import csv as _csv

    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as pacsv

    with open(src, encoding="utf-8-sig", newline="") as fh:
        header = next(_csv.reader([fh.readline()]), [])
    for f in (lon_field, lat_field):
        if f not in header:
            raise InputError(tr("%(src)s has no column %(f)r (columns: %(header)s); use --lon-field/--lat-field", src=src, f=f, header=', '.join(header)))
    try:
        table = pacsv.read_csv(
            src, convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                                      strings_can_be_null=False))
    except pa.ArrowInvalid as exc:
        raise InputError(tr("%(src)s is not a readable CSV file: %(exc)s", src=src, exc=exc)) from None
    x = _floats(table[lon_field], lon_field, src)
    y = _floats(table[lat_field], lat_field, src)
    idx, stats = locate_columns(index, x, y, crs, threads, progress)
    # Arrow `take` on the code dictionaries: no million Python strings. A null index (a
    # point outside every grid) gives a null, which the CSV writer leaves empty. Arrays are
    # built from buffers: pa.array() on numpy or a list imports pandas (0.2 s of a job).
    where = pa.Array.from_buffers(pa.int64(), len(idx), [pa.py_buffer(np.packbits(idx >= 0, bitorder="little")),
                                                         pa.py_buffer(np.ascontiguousarray(idx, dtype=np.int64))])
    from ..io.csvsafe import escape_arrow_table

    # =1+1 in an input column must not become a formula in the output; the codes are escaped
    # once per grid (the dictionaries), not once per row
    table = escape_arrow_table(table)
    zone = Level.zone.value
    zones = [c.get(zone, "") for c in index.chains]
    codes = escape_arrow_table(pa.Table.from_arrays([_string_array(index.codes.tolist()), _string_array(zones)],
                                                    names=["grid_code", "zone_code"]))
    table = table.append_column("grid_code", pc.take(codes.column(0).combine_chunks(), where))
    table = table.append_column("zone_code", pc.take(codes.column(1).combine_chunks(), where))
    with atomic_path(dst) as tmp:
        pacsv.write_csv(table, tmp, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return stats


def _string_array(values: list[str]):
    """A pyarrow string array of Python str, from buffers (no pandas import)."""
    import pyarrow as pa

    data = [v.encode("utf-8") for v in values]
    offsets = np.zeros(len(data) + 1, dtype=np.int64)
    np.cumsum([len(d) for d in data], out=offsets[1:])
    return pa.LargeStringArray.from_buffers(len(data), pa.py_buffer(offsets), pa.py_buffer(b"".join(data))).cast(pa.string())


def _floats(column, name: str, src: Path) -> np.ndarray:
    """A text column as float64 (NaN where empty); InputError naming rows that are not numbers."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        vals = pc.cast(column, pa.float64())  # the fast path: every cell a plain number
    except pa.ArrowInvalid:
        text = pc.utf8_trim_whitespace(column)
        try:
            vals = pc.cast(pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text), pa.float64())
        except pa.ArrowInvalid:
            bad = []
            for i, v in enumerate(text.to_pylist()):
                if v:
                    try:
                        float(v)
                    except ValueError:
                        bad.append(tr("row %(v)s: %(name)s %(v2)r is not a number", v=i + 2, name=name, v2=v))
                        if len(bad) >= 20:
                            break
            raise InputError(tr("%(src)s: column %(name)r has values that are not numbers; nothing was written", src=src, name=name),
                             bad) from None
    # NaN where empty, from the validity bitmap: pc.fill_null builds a scalar, which imports pandas.
    vals = vals.combine_chunks() if hasattr(vals, "combine_chunks") else vals
    out = np.frombuffer(vals.buffers()[1], dtype="float64", count=len(vals), offset=vals.offset * 8).copy()
    if vals.null_count:
        bits = np.unpackbits(np.frombuffer(vals.buffers()[0], dtype=np.uint8), bitorder="little")
        out[~bits[vals.offset:vals.offset + len(vals)].astype(bool)] = np.nan
    return out


def _assign_geojson(index, src, dst, crs, threads, progress) -> dict:
    try:
        doc = json.loads(Path(src).read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(tr("%(src)s is not valid GeoJSON: %(exc)s", src=src, exc=exc)) from None
    if not isinstance(doc, dict) or doc.get("type") != "FeatureCollection":
        raise InputError(tr("%(src)s is not a GeoJSON FeatureCollection", src=src))
    feats = doc.get("features") or []
    x = np.full(len(feats), np.nan)
    y = np.full(len(feats), np.nan)
    problems = []
    for i, f in enumerate(feats):
        g = (f or {}).get("geometry") or {}
        if g.get("type") != "Point":
            problems.append(tr("feature %(i)s: geometry is %(type)r, not a Point", i=i + 1, type=g.get('type')))
            continue
        try:
            x[i], y[i] = float(g["coordinates"][0]), float(g["coordinates"][1])
        except (KeyError, IndexError, TypeError, ValueError):
            problems.append(tr("feature %(i)s: coordinates are not two numbers", i=i + 1))
    if problems:
        raise InputError(tr("%(src)s: %(n)s features are not usable points; nothing was written", src=src, n=len(problems)), problems)
    idx, stats = locate_columns(index, x, y, crs, threads, progress)
    codes = np.append(index.codes, "")
    zones = index.ancestor_codes(idx, Level.zone)
    for f, gi, z in zip(feats, idx, zones):
        props = f.setdefault("properties", None) or {}
        props["grid_code"], props["zone_code"] = str(codes[gi]), str(z)
        f["properties"] = props
    with atomic_path(dst) as tmp:
        Path(tmp).write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return stats
