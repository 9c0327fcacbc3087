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

from .errors import InputError


def _setting(default: Any, help: str):
    return field(default=default, metadata={"help": help})


@dataclass(frozen=True)
class Settings:
    """All of gridmap's settings."""

    db: str = _setting("gridmap.db", "Store: a SQLite file path (the default, created on first use) or a postgresql:// URL.")
    nearest_max_m: float = _setting(1000.0, "Locate: report the nearest grid for a point outside every grid when it is within this many metres.")
    outside_tolerance_m2: float = _setting(10.0, "Import: how many m² of a child unit may lie outside its parent (digitised boundaries never meet exactly).")
    nearest_assign_m: float = _setting(200.0, "Incidents: a report outside every grid goes to the nearest grid within this many metres, else to its town's queue.")
    timezone: str = _setting("Asia/Shanghai", "Incidents: the jurisdiction's time zone (time limits, naive report times).")
    categories: str = _setting("", "Incidents: path of the category taxonomy TOML (empty = the built-in one).")
    work_hours: str = _setting("08:30-12:00,13:30-17:30", "Incidents: working periods of a day, for time limits in working hours.")
    holidays: str = _setting("", "Incidents: days off (comma-separated ISO dates) and, after a '|', make-up working days.")
    due_soon_hours: float = _setting(2.0, "Supervision: an open incident is 'nearly due' this many hours before its limit.")
    report_rate_limit: str = _setting("30 per minute", "Web: anonymous reports allowed per client address.")
    public_url: str = _setting("", "Printing: the web app's public address, for the QR code to the report page (empty = http://127.0.0.1:5000 for `print`, the request's own address on the web).")
    tile_url: str = _setting("", "Printing: basemap tile source, a URL or path template with {z}/{x}/{y} (empty = no basemap: clean black-and-white pages).")
    threads: int = _setting(0, "Bulk assign: worker threads (0 = one per CPU core).")
    host: str = _setting("127.0.0.1", "serve: address to listen on.")
    port: int = _setting(5000, "serve: port to listen on.")
    secret_key: str = _setting("", "Web: key that signs sessions; set it in production (empty = random per process).")

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
                raise InputError(f"{path} is not valid TOML: {exc}") from None
        elif config is not None:
            raise InputError(f"settings file {path} does not exist")
        names = {f.name for f in fields(cls)}
        for key, value in environ.items():
            if key.startswith("GRIDMAP_") and key != "GRIDMAP_CONFIG":
                name = key[len("GRIDMAP_"):].lower()
                if name not in names:
                    raise InputError(f"unknown setting {key} in the environment; known: "
                                     + ", ".join("GRIDMAP_" + n.upper() for n in sorted(names)))
                values[name] = value
        values.update({k: v for k, v in (overrides or {}).items() if v is not None})
        unknown = sorted(set(values) - names)
        if unknown:
            raise InputError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}")
        return replace(cls(), **{k: _coerce(k, v, cls.__dataclass_fields__[k].type) for k, v in values.items()})


def _coerce(name: str, value: Any, kind: str) -> Any:
    try:
        if kind == "int":
            return int(value)
        if kind == "float":
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise InputError(f"setting {name} must be a {kind}, got {value!r}") from None
