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
from ..i18n import N_, tr

log = logging.getLogger("gridmap.gdal")

FORMAT_NAMES = (N_("GeoJSON"), N_("GeoPackage"), N_("zipped Shapefile"), N_("Shapefile"))  # the fmt values

# (GDAL text pattern, message id: gridmap/translations has the Chinese); %(name)s is the file's name,
# %(fmt)s its format (in the reader's language), %(member)s what the pattern captured (a file name
# inside the Shapefile, a layer)
_RULES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"Unable to open \S*?([^/\s]+\.shx)\b", re.I),
     N_("%(name)s: the Shapefile's index %(member)s is missing: a Shapefile needs its .shp, .shx and .dbf together")),
    (re.compile(r"\.shp file is unreadable, or corrupt|Corrupted \.shp|Invalid shape", re.I),
     N_("%(name)s: the Shapefile's .shp is damaged or incomplete")),
    (re.compile(r"database disk image is malformed|file is not a database|file is encrypted", re.I),
     N_("%(name)s: the GeoPackage is damaged or incomplete (the SQLite database inside cannot be read)")),
    (re.compile(r"required GeoPackage tables|gpkg_contents|gpkg_spatial_ref_sys", re.I),
     N_("%(name)s: a SQLite database but not a GeoPackage (it lacks the gpkg_contents and gpkg_spatial_ref_sys tables)")),
    (re.compile(r"Layer '?([^']+?)'? (?:could not be opened|not found)", re.I),
     N_("%(name)s: there is no layer %(member)s")),
    (re.compile(r"Missing 'features' member|Invalid FeatureCollection", re.I),
     N_("%(name)s: the GeoJSON's \"features\" is not a list of features")),
    (re.compile(r"Failed to read GeoJSON|GeoJSON", re.I),
     N_("%(name)s: the GeoJSON cannot be read (its structure does not follow RFC 7946)")),
    (re.compile(r"not recognized as being in a supported file format|not recognized as a supported", re.I),
     N_("%(name)s is not a readable %(fmt)s: it is damaged, or not of that format")),
]


def explain(exc: BaseException, path: str | Path, fmt: str) -> InputError:
    """A clear InputError for a GDAL/pyogrio failure reading `path` as `fmt` (no paths, no GDAL text)."""
    name = Path(str(path)).name
    text = str(exc)
    log.info("GDAL could not read %s as %s: %s", name, fmt, text)  # for the operator, not the user
    shown = tr(fmt) if fmt in FORMAT_NAMES else fmt
    for pattern, message in _RULES:
        m = pattern.search(text)
        if m:
            member = Path(m.group(1)).name if m.groups() and m.group(1) else ""
            return InputError(tr(message, name=name, fmt=shown, member=member))
    return InputError(tr("cannot read %(name)s as %(fmt)s: the file is damaged or incomplete", name=name, fmt=shown))


@contextlib.contextmanager
def quiet_gdal():
    """Run a read with GDAL's warnings sent to the log instead of the user's terminal."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        yield
    for w in caught:
        log.info("GDAL: %s", w.message)
