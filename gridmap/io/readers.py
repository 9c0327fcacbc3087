"""Read user files: GeoJSON, GeoPackage, zipped or plain Shapefile, CSV (WKT or lon/lat).

A reader returns the raw table in the file's own CRS; validation and reprojection happen
in validate.py. A file that is not what its name claims is refused with a clear error.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from ..errors import InputError, TooLarge
from ..geo.crs import InputCRS, parse_crs
from ..i18n import tr

FORMATS = {".geojson": "GeoJSON", ".json": "GeoJSON", ".gpkg": "GeoPackage", ".zip": "zipped Shapefile",
           ".shp": "Shapefile", ".csv": "CSV"}


@dataclass
class RawTable:
    """Attributes plus geometries (shapely array, possibly None/empty) in `crs`."""

    path: Path
    fmt: str
    attrs: pd.DataFrame
    geoms: np.ndarray
    crs: InputCRS
    row_labels: list[str]  # how to name each row in an error ("feature 3", "row 5")


def detect_format(path: Path) -> str:
    """The format the file name claims, checked against the first bytes of the file."""
    if not path.exists():
        raise InputError(tr("%(path)s: no such file", path=path))
    if path.is_dir():
        raise InputError(tr("%(path)s is a folder, not a file", path=path))
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(tr("%(path)s: unknown file type %(suffix)r; use one of %(FORMATS)s", path=path, suffix=path.suffix, FORMATS=', '.join(sorted(FORMATS))))
    with open(path, "rb") as fh:
        head = fh.read(64)
    if not head:
        raise InputError(tr("%(path)s is empty", path=path))
    claims = {
        "GeoPackage": head.startswith(b"SQLite format 3\x00"),
        "zipped Shapefile": head.startswith(b"PK\x03\x04"),
        "GeoJSON": head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")),
        "Shapefile": head[:4] == b"\x00\x00\x27\x0a",
        "CSV": b"\x00" not in head,
    }
    if not claims[fmt]:
        actual = next((f"a {name}" for name, ok in claims.items() if ok and name != "CSV"),
                      "plain text, such as CSV" if claims["CSV"] else "binary data")
        raise InputError(tr("%(path)s is named as a %(fmt)s but its content is not one (it looks like %(actual)s)", path=path, fmt=fmt, actual=actual))
    return fmt


def read_table(path: str | Path, crs: str | None = None, layer: str | None = None,
               wkt_field: str | None = None, lon_field: str | None = None, lat_field: str | None = None,
               max_features: int | None = None) -> RawTable:
    """Read a vector file; `crs` overrides or supplies the file's CRS (see resolve_crs).

    With `max_features`, a file holding more features is refused (TooLarge) before its
    geometries are decoded: a 287 KB zipped Shapefile can hold a million records.
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "CSV":
        attrs, geoms = _read_csv(path, wkt_field, lon_field, lat_field)
        _check_count(path, len(attrs), max_features)
        declared = None
        labels = [f"row {i + 2}" for i in range(len(attrs))]  # +1 header, +1 one-based
    else:
        attrs, geoms, declared = _read_ogr(path, fmt, layer, max_features)
        labels = [f"feature {i + 1}" for i in range(len(attrs))]
    return RawTable(path, fmt, attrs, geoms, resolve_crs(path, fmt, declared, crs), labels)


def resolve_crs(path: Path, fmt: str, declared: str | None, given: str | None) -> InputCRS:
    """The CRS to read the file in. Never guessed: a file without one needs --crs.

    GeoJSON always declares WGS84 (RFC 7946), but web-app exports are often GCJ-02 or BD-09
    in GeoJSON clothing, so --crs may override it. For other formats a --crs that
    contradicts the file's own CRS is an error.
    """
    if given is None:
        if declared is None:
            raise InputError(tr("%(path)s declares no CRS: name it with --crs (e.g. --crs EPSG:4490, EPSG:4326, GCJ-02)", path=path))
        return parse_crs(declared)
    chosen = parse_crs(given)
    if declared is not None and fmt != "GeoJSON":
        file_crs = parse_crs(declared)
        if chosen.special or file_crs.pyproj != chosen.pyproj:
            raise InputError(tr("%(path)s declares CRS %(declared)s but --crs says %(given)s: drop --crs or fix the file", path=path, declared=declared, given=given))
    return chosen


def _check_count(path: Path, count: int, max_features: int | None) -> None:
    if max_features is not None and count > max_features:
        raise TooLarge(tr("%(name)s holds %(count)s features, more than the limit of %(limit)s (setting "
                          "network_max_features)", name=path.name, count=count, limit=max_features))


def _read_ogr(path: Path, fmt: str, layer: str | None,
              max_features: int | None = None) -> tuple[pd.DataFrame, np.ndarray, str | None]:
    import pyogrio
    from pyogrio.errors import DataLayerError, DataSourceError

    from .gdalerrors import explain, quiet_gdal

    source = str(path)
    if fmt == "zipped Shapefile":
        source = _shapefile_in_zip(path)
    if fmt == "GeoJSON":
        _check_geojson(path)
    try:
        with quiet_gdal():
            if fmt == "GeoPackage" and layer is None:
                layers = pyogrio.list_layers(source)
                if len(layers) > 1:
                    names = ", ".join(str(x[0]) for x in layers)
                    raise InputError(tr("%(name)s has several layers (%(names)s): choose one with --layer", name=path.name, names=names))
                if len(layers) == 0:
                    raise InputError(tr("%(name)s: the GeoPackage holds no layer", name=path.name))
            info = pyogrio.read_info(source, layer=layer)
            _check_count(path, int(info.get("features") or 0), max_features)
            meta, _fids, geometry, field_data = pyogrio.raw.read(source, layer=layer, encoding=None)
    except (DataSourceError, DataLayerError) as exc:
        raise explain(exc, path, fmt) from None
    geoms = shapely.from_wkb(geometry, on_invalid="ignore") if geometry is not None \
        else np.full(len(field_data[0]) if field_data else 0, None)
    attrs = pd.DataFrame({name: col for name, col in zip(meta["fields"], field_data)})
    if len(attrs) == 0 and len(geoms):
        attrs = pd.DataFrame(index=range(len(geoms)))
    return attrs, np.asarray(geoms, dtype=object), info.get("crs")


def _shapefile_in_zip(path: Path) -> str:
    """The GDAL path of the Shapefile inside a zip, once the zip is whole and holds .shp, .shx and .dbf."""
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, EOFError, OSError):
        raise InputError(tr("%(name)s is not a valid zip archive (damaged or incomplete)", name=path.name)) from None
    shps = [n for n in names if n.lower().endswith(".shp")]
    if not shps:
        raise InputError(tr("%(name)s holds no .shp file (found: %(v)s)", name=path.name, v=", ".join((Path(n).name for n in names[:5])) or "nothing"))
    stem = shps[0][:-4]
    lower = {n.lower() for n in names}
    missing = [stem + ext for ext in (".shx", ".dbf") if (stem + ext).lower() not in lower]
    if missing:
        shown = ", ".join(Path(m).name for m in missing)
        raise InputError(tr("%(name)s: the zip lacks %(shown)s: a Shapefile needs its .shp, .shx and .dbf together", name=path.name, shown=shown))
    return f"/vsizip/{path}/{shps[0]}"


def _check_geojson(path: Path) -> None:
    try:
        with open(path, encoding="utf-8-sig") as fh:
            doc = json.load(fh)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(tr("%(name)s is not valid GeoJSON: %(exc)s", name=path.name, exc=exc)) from None
    except RecursionError:  # [[[[... a hundred thousand deep: not a map, and not worth a 500
        raise InputError(tr("%(name)s is not valid GeoJSON: nested too deeply", name=path.name)) from None
    kind = doc.get("type") if isinstance(doc, dict) else None
    if kind not in ("FeatureCollection", "Feature"):
        raise InputError(tr("%(name)s is JSON but not a GeoJSON FeatureCollection or Feature (type: %(kind)r)", name=path.name, kind=kind))


def _read_csv(path: Path, wkt_field: str | None, lon_field: str | None,
              lat_field: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    try:
        attrs = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise InputError(tr("%(path)s is not a readable UTF-8 CSV file: %(exc)s", path=path, exc=exc)) from None
    cols = {c.lower(): c for c in attrs.columns}
    if wkt_field is None and lon_field is None:
        wkt_field = cols.get("wkt") or cols.get("geometry") or cols.get("geom")
        if wkt_field is None and "lon" in cols and "lat" in cols:
            lon_field, lat_field = cols["lon"], cols["lat"]
    if wkt_field is not None:
        _require_columns(path, attrs, [wkt_field])
        texts = attrs.pop(wkt_field).to_numpy(dtype=object)
        geoms = np.empty(len(texts), dtype=object)
        bad = []
        for i, text in enumerate(texts):
            try:
                with np.errstate(invalid="ignore"):  # NaN coordinates are reported by validation
                    geoms[i] = shapely.from_wkt(text) if text.strip() else None
            except shapely.errors.GEOSException as exc:
                bad.append(tr("row %(v)s: column %(wkt_field)r is not WKT: %(exc)s", v=i + 2, wkt_field=wkt_field, exc=exc))
        if bad:
            raise InputError(tr("%(path)s: %(bad)s rows have unreadable geometry", path=path, bad=len(bad)), bad)
        return attrs, geoms
    if lon_field is None or lat_field is None:
        raise InputError(
            tr("%(path)s: no geometry column found; name a WKT column with --wkt-field, or lon/lat columns with --lon-field/--lat-field (columns: %(columns)s)", path=path, columns=", ".join(attrs.columns))
        )
    _require_columns(path, attrs, [lon_field, lat_field])
    x = pd.to_numeric(attrs[lon_field], errors="coerce").to_numpy()
    y = pd.to_numeric(attrs[lat_field], errors="coerce").to_numpy()
    return attrs, shapely.points(x, y)


def _require_columns(path: Path, table: pd.DataFrame, names: list[str | None]) -> None:
    missing = [n for n in names if n not in table.columns]
    if missing:
        raise InputError(tr("%(path)s has no column %(missing)s (columns: %(columns)s)", path=path, missing=', '.join(map(repr, missing)), columns=', '.join(map(str, table.columns))))
