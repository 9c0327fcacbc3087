"""GDAL's own failures, told in the user's terms (issue #15: "errors show server temp paths and GDAL internals").

pyogrio passes on GDAL's text ("sqlite3_prepare_v2(SELECT COUNT(*) FROM sqlite_master ...)
failed: database disk image is malformed", "Unable to open /vsizip/TMP/... Set
SHAPE_RESTORE_SHX config option to YES ..."): paths on the server and the library's
internals, and no hint of what to fix. `explain` turns such an error into an InputError
that names the file (by its name only) and the problem, Chinese first; the GDAL text goes
to the log for the operator. `quiet_gdal` keeps GDAL's warnings (printed with the library's
own file path) off the user's screen: what they mean (a feature with no usable geometry)
is reported by validation, feature by feature.
"""

from __future__ import annotations

import contextlib
import logging
import re
import warnings
from pathlib import Path

from ..errors import InputError

log = logging.getLogger("gridmap.gdal")

FORMAT_ZH = {"GeoJSON": "GeoJSON", "GeoPackage": "GeoPackage", "zipped Shapefile": "Shapefile 压缩包",
             "Shapefile": "Shapefile"}

# (GDAL text pattern, Chinese, English); {name} is the file's name, {fmt} its format, {zh} in Chinese,
# {member} what the pattern captured (a file name inside the Shapefile, a layer)
_RULES: list[tuple[re.Pattern, str, str]] = [
    (re.compile(r"Unable to open \S*?([^/\s]+\.shx)\b", re.I),
     "{name}：缺少索引文件 {member}，Shapefile 的 .shp、.shx、.dbf 须放在一起",
     "{name}: the Shapefile's index {member} is missing: a Shapefile needs its .shp, .shx and .dbf together"),
    (re.compile(r"\.shp file is unreadable, or corrupt|Corrupted \.shp|Invalid shape", re.I),
     "{name}：Shapefile 的 .shp 文件已损坏或不完整",
     "{name}: the Shapefile's .shp is damaged or incomplete"),
    (re.compile(r"database disk image is malformed|file is not a database|file is encrypted", re.I),
     "{name}：GeoPackage 文件已损坏或不完整（其中的 SQLite 数据库无法读取）",
     "{name}: the GeoPackage is damaged or incomplete (the SQLite database inside cannot be read)"),
    (re.compile(r"required GeoPackage tables|gpkg_contents|gpkg_spatial_ref_sys", re.I),
     "{name}：这是 SQLite 数据库但不是 GeoPackage（缺少 gpkg_contents 等必需表）",
     "{name}: a SQLite database but not a GeoPackage (it lacks the gpkg_contents and gpkg_spatial_ref_sys tables)"),
    (re.compile(r"Layer '?([^']+?)'? (?:could not be opened|not found)", re.I),
     "{name}：没有图层 {member}",
     "{name}: there is no layer {member}"),
    (re.compile(r"Missing 'features' member|Invalid FeatureCollection", re.I),
     "{name}：GeoJSON 的 features 不是要素列表",
     "{name}: the GeoJSON's \"features\" is not a list of features"),
    (re.compile(r"Failed to read GeoJSON|GeoJSON", re.I),
     "{name}：GeoJSON 内容无法读取（结构不符合 RFC 7946）",
     "{name}: the GeoJSON cannot be read (its structure does not follow RFC 7946)"),
    (re.compile(r"not recognized as being in a supported file format|not recognized as a supported", re.I),
     "{name}：不是可读的 {zh}（已损坏，或内容并非该格式）",
     "{name} is not a readable {fmt}: it is damaged, or not of that format"),
]


def explain(exc: BaseException, path: str | Path, fmt: str) -> InputError:
    """A clear InputError for a GDAL/pyogrio failure reading `path` as `fmt` (no paths, no GDAL text)."""
    name = Path(str(path)).name
    text = str(exc)
    log.info("GDAL could not read %s as %s: %s", name, fmt, text)  # for the operator, not the user
    zh = FORMAT_ZH.get(fmt, fmt)
    for pattern, chinese, english in _RULES:
        m = pattern.search(text)
        if m:
            member = Path(m.group(1)).name if m.groups() and m.group(1) else ""
            values = {"name": name, "fmt": fmt, "zh": zh, "member": member}
            return InputError(f"{chinese.format(**values)} / {english.format(**values)}")
    return InputError(f"{name}：无法读取为 {zh}（文件已损坏或不完整） / cannot read {name} as {fmt}: "
                      f"the file is damaged or incomplete")


@contextlib.contextmanager
def quiet_gdal():
    """Run a read with GDAL's warnings sent to the log instead of the user's terminal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        yield
    for w in caught:
        log.info("GDAL: %s", w.message)
