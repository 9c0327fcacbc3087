"""What a printed page shows, as plain data: gathered from the store, drawn by `pdf.patrol_pdf`.

Geometries are EPSG:4326 lon/lat (as stored). Nothing here touches the store or the PDF stack.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from shapely.geometry.base import BaseGeometry

PAPERS = ("A4", "A3")
ORIENTATIONS = ("portrait", "landscape", "auto")


@dataclass(frozen=True)
class StaffLine:
    """One row of the 1+1+N table."""

    role: str  # leader | instructor | worker | zone_secretary | ...
    role_label: str  # 网格长 ...
    name: str
    phone: str


@dataclass(frozen=True)
class ShiftLine:
    """One duty-roster shift in the coming week (times in the jurisdiction's zone)."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    unit_code: str
    name: str
    phone: str


@dataclass(frozen=True)
class IncidentMark:
    """An open incident on the page: its number (id), what it is and where."""

    number: str
    category: str  # display name (Chinese from the taxonomy, else the code)
    status: str  # display label
    reported: dt.date
    lon: float
    lat: float


@dataclass(frozen=True)
class Site:
    """A key site (labelled) or a household point (kind == "household", unlabelled)."""

    name: str
    kind: str
    lon: float
    lat: float


@dataclass(frozen=True)
class Checkpoint:
    """A stop of the patrol route: an open incident (its number in `incident`), a key site, or a
    point taken from the grid's shape ("shape")."""

    lon: float
    lat: float
    label: str
    incident: str | None = None
    kind: str = "shape"  # incident | site | shape


@dataclass(frozen=True)
class Neighbour:
    code: str
    name: str
    geometry: BaseGeometry


@dataclass
class Basemap:
    """A raster under the map: PNG bytes and the lon/lat of its top-left, top-right, bottom-left corners."""

    png: bytes
    corners: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    attribution: str = ""


@dataclass
class GridSheet:
    """Everything on one grid's page."""

    code: str
    name: str
    geometry: BaseGeometry
    zone_code: str | None = None
    zone_name: str | None = None
    town_code: str | None = None
    town_name: str | None = None
    households: int | None = None
    population: int | None = None
    neighbours: list[Neighbour] = field(default_factory=list)
    zone_geometry: BaseGeometry | None = None
    zone_grids: list[Neighbour] = field(default_factory=list)  # the locator's grids (this one included)
    staff: list[StaffLine] = field(default_factory=list)
    roster: list[ShiftLine] = field(default_factory=list)
    incidents: list[IncidentMark] = field(default_factory=list)
    sites: list[Site] = field(default_factory=list)
    checkpoints: list[Checkpoint] = field(default_factory=list)  # in visiting order
    route_length_m: float = 0.0
    route_metric: str = "straight-line"  # or "road"
    route_path: list[tuple[float, float]] = field(default_factory=list)  # lon/lat polyline (closed)
    report_url: str = ""
    basemap: Basemap | None = None


@dataclass
class PrintBook:
    """One PDF: a single grid page, or a map book (overview page, then one page per grid in code order)."""

    title: str
    sheets: list[GridSheet]
    overview: bool = False
    plan_version: int | None = None
    printed_on: dt.date = field(default_factory=dt.date.today)
    roster_from: dt.date | None = None
    roster_to: dt.date | None = None
    paper: str | None = None  # None: A4 unless the grid is very elongated
    orientation: str = "auto"
    scale: int | None = None  # fixed 1:scale for every page; None: fill each page
    context: list[Neighbour] = field(default_factory=list)  # overview locator: every grid of the store
    notes: list[str] = field(default_factory=list)  # warnings for the caller (e.g. basemap unavailable)
    qr_local_host: str | None = None  # the QR codes point at this machine only (no public_url): say so on the page
