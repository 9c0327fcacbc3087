"""The storage protocol every backend implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Protocol, Sequence

from ..model import Level, Person, Role, Unit

HEAD_REVISION = "0010"  # the Alembic revision this gridmap reads and writes


@dataclass(frozen=True)
class StoreInfo:
    """What a store is and holds, for `gridmap info` and the API."""

    url: str
    backend: str  # "sqlite" or "postgresql"
    schema_revision: str | None
    plan: int | None
    counts: dict[str, int]


@dataclass(frozen=True)
class UnitRows:
    """Columnar view of units, for building an index without per-row objects."""

    code: list[str]
    name: list[str]
    level: list[str]
    parent_code: list[str | None]
    wkb: list[bytes]


class Store(Protocol):
    """Grid hierarchy, staff and plans. Every write method is one transaction."""

    url: str
    backend: str

    def info(self) -> StoreInfo: ...
    def current_plan(self) -> int | None: ...
    def units(self, level: Level | None = None, codes: Sequence[str] | None = None,
              plan: int | None = None) -> list[Unit]: ...
    def unit(self, code: str, plan: int | None = None) -> Unit: ...
    def unit_levels(self, plan: int | None = None) -> dict[str, Level]: ...
    def unit_names(self, plan: int | None = None) -> list[tuple[str, str, Level]]: ...
    def unit_tree(self, plan: int | None = None) -> list[tuple[str, str | None, Level]]: ...
    def unit_rows(self, levels: Iterable[Level], plan: int | None = None) -> UnitRows: ...
    def add_units(self, units: Sequence[Unit], replace: bool = False) -> int: ...
    def people(self) -> list[Person]: ...
    def roles(self, unit_code: str | None = None) -> list[Role]: ...
    def add_staff(self, people: Sequence[Person], roles: Sequence[Role], replace: bool = False) -> tuple[int, int]: ...
    def close(self) -> None: ...
