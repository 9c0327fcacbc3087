"""Declared settings: defaults → gridmap.toml → GRIDMAP_* environment → explicit overrides.

Every setting has a type, a default and help text; unknown keys are refused, and a test
checks that each one is documented in the README.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from .clock import DEFAULT_TIMEZONE
from .errors import InputError
from .i18n import tr


def _setting(default: Any, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """All of gridmap's settings."""

    db: str = _setting("gridmap.db", "Store: a SQLite file path (the default, created on first use) or a postgresql:// URL.")
    nearest_max_m: float = _setting(1000.0, "Locate: report the nearest grid for a point outside every grid when it is within this many metres.")
    outside_tolerance_m2: float = _setting(10.0, "Import: how many m² of a child unit may lie outside its parent (digitised boundaries never meet exactly).")
    coverage_tolerance_m2: float = _setting(10.0, "Coverage check: gaps, overlaps and outside pieces smaller than this many m² are digitising noise and not reported.")
    sliver_m2: float = _setting(100.0, "Coverage check: a child unit smaller than this many m² is reported as a sliver.")
    nearest_assign_m: float = _setting(200.0, "Incidents: a report outside every grid goes to the nearest grid within this many metres, else to its town's queue.")
    jurisdiction_tolerance_m: float = _setting(500.0, "Incidents: a report this many metres outside the jurisdiction's outline (the union of the top-level units, e.g. the county) is still taken; farther out it is refused with 422.")
    reopen_window_days: float = _setting(30.0, "Incidents: a reporter may reopen a closed report with their token for this many days after it was closed.")
    timezone: str = _setting(DEFAULT_TIMEZONE, "Incidents: the jurisdiction's time zone (time limits, naive report times).")
    categories: str = _setting("", "Incidents: path of the category taxonomy TOML (empty = the built-in one).")
    reply_templates: str = _setting("", "Incidents: path of the reply templates TOML, per status and category: the auto-acknowledgement and what the public reads (empty = the built-in gridmap/incidents/replies.toml).")
    work_hours: str = _setting("08:30-12:00,13:30-17:30", "Incidents: working periods of a day, for time limits in working hours.")
    holidays: str = _setting("", "Incidents: days off (comma-separated ISO dates) and, after a '|', make-up working days.")
    due_soon_hours: float = _setting(2.0, "Supervision: an open incident is 'nearly due' this many hours before its limit.")
    response_limit_hours: float = _setting(2.0, "Metrics: the hotline's response limit (响应时限): a filed incident dispatched within this many hours of its report counts as responded (响应率).")
    report_rate_limit: str = _setting("30 per minute", "Web: anonymous reports allowed per client address.")
    proxy_hops: int = _setting(0, "Web: reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host are trusted (0 = none, 1 = one nginx): the report limit then counts the real client address.")
    public_url: str = _setting("", "The web app's public address: QR codes on printed maps, and every link the web app builds (status_url, OGC API links), instead of the request's Host header (empty = http://127.0.0.1:5000 for `print`, the request's own address on the web).")
    tile_url: str = _setting("", "Printing: basemap tile source, a URL or path template with {z}/{x}/{y} (empty = no basemap: clean black-and-white pages).")
    basemap_url: str = _setting("", "Web maps: basemap tile URL template with {z}/{x}/{y} (a local tile server, Tianditu with its tk=KEY, OSM); several separated by ' | ' are stacked (e.g. Tianditu vec_w | cva_w). Empty = no basemap: a plain background, nothing fetched.")
    basemap_attr: str = _setting("", "Web maps: the basemap's attribution, shown in the map corner (most tile providers require one).")
    basemap_crs: str = _setting("WGS84", "Web maps: coordinates of the basemap tiles, WGS84 (Tianditu, OSM, most local servers) or GCJ-02 (AMap, Tencent); with GCJ-02 every overlay is shifted WGS84 -> GCJ-02 so grids sit on the right streets.")
    map_max_markers: int = _setting(5000, "Web maps: the overview draws up to this many incidents one by one; above it, their counts per map cell (about 1 km), with heat and choropleth from counts made by the database, so the page stays small at any history size.")
    map_embed_max_grids: int = _setting(5000, "Web maps: the overview page embeds up to this many grids; above it the browser loads grids by the map's bounding box from /map/grids.geojson.")
    max_drawn_vertices: int = _setting(5000, "Plans: a shape drawn for an edit (outline, area, cut line) may have at most this many vertices; more is refused (422) before any geometry work.")
    max_repair_crossings: int = _setting(100, "Plans: an edit with repair fixes a self-crossing drawn outline only when its edges cross at most this many times (repair cost grows with the crossings squared); more is refused (422): redraw it.")
    threads: int = _setting(0, "Bulk assign: worker threads (0 = one per CPU core).")
    index_cache: str = _setting("", "Index: folder of the persisted grid index (the plan in force's arrays, keyed by the plan's revision, memory-mapped by the CLI and every app worker); empty = beside a SQLite store (<file>.index/) or ~/.cache/gridmap/index for PostgreSQL; off = none.")
    host: str = _setting("127.0.0.1", "serve: address to listen on.")
    port: int = _setting(5000, "serve: port to listen on.")
    secret_key: str = _setting("", "Web: key that signs sessions (empty = one generated once and kept in the store, shared by every worker).")
    trusted_hosts: str = _setting("", "Web: comma-separated Host names the app answers to (others get 400); empty = any. With public_url set, links never echo the Host header.")
    network_max_features: int = _setting(20000, "Limits: 多网合一 (networks) refuses a layer with more grids than this (413).")
    network_max_vertices: int = _setting(500000, "Limits: 多网合一 (networks) refuses layers with more vertices than this in all (413).")
    propose_max_points: str = _setting("bisect=200000,skater=500,maxp=300", "Limits: propose refuses more household points than this, per method (413): SKATER and max-p grow much faster than linearly.")
    compute_timeout_s: float = _setting(60.0, "Limits: heavy geometry (propose, networks) runs in a child process stopped after this many seconds (503).")
    compute_memory_mb: int = _setting(2048, "Limits: memory that child process may take beyond what it inherits, in MB (0 = no limit); running out answers 503.")
    login_max_failures: int = _setting(5, "Web: failed logins of one account within login_lockout_minutes before logins to it are refused (429).")
    login_max_failures_per_address: int = _setting(20, "Web: failed logins from one client address within login_lockout_minutes before its logins are refused (429).")
    login_lockout_minutes: float = _setting(15.0, "Web: the window over which failed logins are counted.")
    totp_required_roles: str = _setting("", "Web: comma-separated roles that must sign in with two-factor login (TOTP), e.g. admin,dispatcher,planner,staff; a user of such a role without it is sent to enrol at login. Empty = optional for everyone (`gridmap users totp`, /account/totp).")
    token_days: float = _setting(365.0, "Users: a new API token expires after this many days (0 = never); `users token --days` overrides it.")
    locale: str = _setting("zh_CN", "Language of messages and pages: zh_CN (Chinese first, English kept) or en. The web follows ?lang=, then the browser's Accept-Language, then this; the CLI follows LC_ALL/LC_MESSAGES/LANG, then this.")
    photo_dir: str = _setting("", "Photos: folder of residents' photos (re-encoded JPEGs without EXIF, and thumbnails, named by random ids); empty = beside a SQLite store (<file>.photos/), while a PostgreSQL store takes photos only with this set; off = no photos.")
    photo_max_bytes: int = _setting(10 * 1024 * 1024, "Photos: the largest photo accepted, in bytes (413 above it); only the report routes take a body this large, every other route keeps 1 MB.")
    photo_max_pixels: int = _setting(50_000_000, "Photos: the most pixels a photo may have (width x height, read from its header before decoding: a decompression bomb is refused with 422).")
    max_extension_hours: float = _setting(240.0, "Workflow: one 'extend' may add at most this many hours (240 working hours ≈ 30 working days), 422 above it.")

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, config: str | Path | None = None,
             environ: Mapping[str, str] | None = None) -> "Settings":
        """Build settings from the layered sources; raise InputError on unknown keys or bad values."""
        environ = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        path = Path(config or environ.get("GRIDMAP_CONFIG", "gridmap.toml"))
        if path.exists():
            try:
                values.update(tomllib.loads(path.read_text(encoding="utf-8")))
            except tomllib.TOMLDecodeError as exc:
                raise InputError(tr("%(path)s is not valid TOML: %(exc)s", path=path, exc=exc)) from None
        elif config is not None:
            raise InputError(tr("settings file %(path)s does not exist", path=path))
        names = {f.name for f in fields(cls)}
        for key, value in environ.items():
            if key.startswith("GRIDMAP_") and key != "GRIDMAP_CONFIG":
                name = key[len("GRIDMAP_"):].lower()
                if name not in names:
                    known = ", ".join("GRIDMAP_" + n.upper() for n in sorted(names))
                    raise InputError(tr("unknown setting %(key)s in the environment; known: %(known)s", key=key, known=known))
                values[name] = value
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(tr("unknown setting(s) %(unknown)s; known: %(names)s", unknown=", ".join(unknown), names=", ".join(sorted(names))))
        result = replace(cls(), **{k: _coerce(k, v, cls.__dataclass_fields__[k].type) for k, v in values.items()})
        if result.basemap_crs.upper().replace("_", "-") not in ("WGS84", "GCJ-02", "GCJ02"):
            raise InputError(tr("setting basemap_crs must be WGS84 or GCJ-02, got %(basemap_crs)r", basemap_crs=result.basemap_crs))
        for name in ("photo_max_bytes", "photo_max_pixels"):
            if getattr(result, name) <= 0:
                raise InputError(tr("setting %(name)s must be a positive number, got %(value)s", name=name,
                                    value=getattr(result, name)))
        from .incidents.actors import ROLES

        unknown_roles = sorted({r.strip() for r in result.totp_required_roles.split(",") if r.strip()} - set(ROLES))
        if unknown_roles:
            raise InputError(tr("setting totp_required_roles: unknown role(s) %(unknown_roles)s; known: %(ROLES)s", unknown_roles=", ".join(unknown_roles), ROLES=", ".join(ROLES)))
        from .i18n import normalize

        if normalize(result.locale) is None:
            raise InputError(tr("setting locale must be zh_CN or en, got %(locale)r", locale=result.locale))
        return replace(result, locale=normalize(result.locale))


def _coerce(name: str, value: Any, kind: str) -> Any:
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise InputError(tr("setting %(name)s must be a %(kind)s, got %(value)r", name=name, kind=kind, value=value)) from None
