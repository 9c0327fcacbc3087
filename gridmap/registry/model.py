"""Domain objects: units of the grid hierarchy, people and their roles. No I/O here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from shapely.geometry.base import BaseGeometry


class Level(str, Enum):
    """Levels of the hierarchy, from the top. A store may start at any level."""

    county = "county"  # 区县
    town = "town"  # 镇街
    zone = "zone"  # 管区/社区
    grid = "grid"  # 网格
    micro = "micro"  # 微网格

    @property
    def rank(self) -> int:
        return list(Level).index(self)

    @property
    def label_zh(self) -> str:
        return {"county": "区县", "town": "镇街", "zone": "管区", "grid": "网格", "micro": "微网格"}[
            self.value
        ]

    @classmethod
    def parse(cls, value: str) -> "Level":
        try:
            return cls(value.strip().lower())
        except ValueError:
            names = ", ".join(level.value for level in cls)
            raise ValueError(f"unknown level {value!r}; use one of: {names}") from None


# Roles by the level they belong to. Grids follow the "1+1+N" model.
GRID_ROLES = {"leader": "网格长", "instructor": "网格指导员", "worker": "网格员"}
ZONE_ROLES = {"zone_secretary": "管区书记", "zone_director": "管区主任", "info_officer": "信息员"}
ROLE_LEVELS: dict[str, tuple[Level, ...]] = {
    **{r: (Level.grid, Level.micro) for r in GRID_ROLES},
    **{r: (Level.zone,) for r in ZONE_ROLES},
}
ROLE_LABELS = {**GRID_ROLES, **ZONE_ROLES}
ROLE_EN = {"leader": "leader", "instructor": "instructor", "worker": "worker", "zone_secretary": "zone secretary",
           "zone_director": "zone director", "info_officer": "info officer"}  # shown after the Chinese label


@dataclass
class Unit:
    """One polygon of the hierarchy. Geometry is EPSG:4326 lon/lat; area in m², perimeter in m."""

    code: str
    name: str
    level: Level
    geometry: BaseGeometry
    parent_code: str | None = None
    households: int | None = None
    population: int | None = None
    properties: dict[str, Any] = field(default_factory=dict)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    area_m2: float | None = None
    perimeter_m: float | None = None
    plan: int | None = None


@dataclass(frozen=True)
class Person:
    """A member of staff. `person_id` is the user's own identifier (e.g. staff number)."""

    person_id: str
    name: str
    phone: str | None = None


@dataclass(frozen=True)
class Role:
    """A person's role in one unit (one person may hold roles in several units)."""

    person_id: str
    unit_code: str
    role: str


@dataclass(frozen=True)
class Location:
    """The answer to "which grid is this point in" (EPSG:4326 lon/lat in, metres out)."""

    lon: float
    lat: float
    grid: str | None
    chain: dict[str, str] = field(default_factory=dict)  # level -> code, e.g. {"zone": "..."}
    candidates: tuple[str, ...] = ()  # every grid that covers the point (boundary: 2 or more)
    nearest: str | None = None  # when outside every grid
    distance_m: float | None = None
