"""The storage protocol every backend implements: the store and its repositories.

One `Store` per database. It owns its calendar (`today`, passed to `open_store`: plans take effect
on the jurisdiction's dates) and one transaction API: `transaction()` opens a transaction that
every repository write made inside it (in the same thread) joins, so a use case that writes
several things commits or rolls back as one. `connect()` is for reads.
The repositories hang off the store: `incidents`, `users`, `plans`, `places`, `security`.
"""

from __future__ import annotations

import datetime as dt
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator, Mapping, Protocol, Sequence

from ..registry.model import Level, Person, Role, Unit

HEAD_REVISION = "0014"  # the Alembic revision this gridmap reads and writes


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


class IncidentRepository(Protocol):
    """Incidents, their audit log and the duty roster."""

    def add(self, incident: Any, event: Any, reporter_token: str | None = None) -> Any:
        """Store a new incident with its first event; returns it with its id."""
    def add_many(self, items: Sequence[tuple[Any, Any, str | None]]) -> list[Any]:
        """Store many new incidents in one transaction."""
    def writer(self) -> AbstractContextManager[Callable]:
        """One transaction for a streamed import: a callable writing batches inside it."""
    def get(self, incident_id: str | int) -> Any:
        """One incident; NotFound if absent."""
    def reporter_token(self, incident_id: str | int) -> str | None:
        """The hash of the reporter's token of an incident."""
    def update(self, incident: Any, expected_version: int, events: Iterable[Any]) -> Any:
        """Write an incident if it is still at `expected_version` (else Conflict), with its events."""
    def update_many(self, changes: Sequence[tuple[Any, int, Iterable[Any]]]) -> None:
        """Several optimistic updates in one transaction: all or none."""
    def pages(self, size: int = 100_000) -> Iterator[list[Any]]:
        """Every incident in id order, `size` at a time."""
    def query(self, status: Sequence[str] | None = None, grid_codes: Sequence[str] | None = None,
              **filters: Any) -> list[Any]:
        """Incidents by status, grid and time, newest first, bounded by `limit`."""
    def count(self) -> int:
        """How many incidents the store holds."""
    def events(self, incident_id: str | int) -> list[Any]:
        """The audit log of one incident, oldest first."""
    def open_load(self, people: Sequence[str]) -> dict[str, int]:
        """Open incidents per assignee."""
    def on_duty(self, unit_code: str, at: dt.datetime) -> list[str]:
        """person_ids on duty for a unit at a moment."""


class UserRepository(Protocol):
    """Accounts, sessions and API tokens (hashes only)."""

    def add_user(self, username: str, password_hash: str, role: str, person_id: str | None) -> None:
        """Create a user; Conflict if the name is taken."""
    def user(self, username: str) -> dict | None:
        """A user row, or None."""
    def list(self) -> list[dict]:
        """Every user without the password hash."""
    def update_user(self, username: str, *, password_hash: str | None = None, disabled: bool | None = None,
                    bump_session: bool = True) -> None:
        """Change a password or the disabled flag; ends the user's sessions."""
    def add_token(self, token_hash: str, username: str, label: str = "") -> None:
        """Store an API token's hash for a user."""
    def token_user(self, token_hash: str) -> dict | None:
        """The user owning a token hash, or None."""
    def revoke_tokens(self, username: str, label: str | None = None) -> int:
        """Delete a user's API tokens; how many went."""


class PlanRepository(Protocol):
    """Versioned grid plans: history, drafts, edits, teams, publishing."""

    def list(self) -> list[Any]:
        """Every plan, oldest first."""
    def get(self, version: int) -> Any:
        """One plan; NotFound if absent."""
    def plan_at(self, day: dt.date) -> int | None:
        """The plan in force on a day."""
    def signature(self, day: dt.date) -> tuple[int | None, int | None]:
        """(plan in force, newest published): changes when a plan is published."""
    def index_key(self, plan: int) -> tuple[str, int]:
        """(store id, the plan's units revision): the key of its persisted index."""
    def create_draft(self, base: int, note: str | None, author: str | None) -> int:
        """Copy a plan into a new draft; its version."""
    def delete_draft(self, version: int) -> None:
        """Remove a draft; Conflict for a published plan."""
    def apply_edit(self, plan: int, op: str, params: Mapping, upserts: Sequence[Unit], deletes: Sequence[str],
                   **kw: Any) -> int:
        """Write one edit of a draft in one transaction; the draft's new revision."""
    def undo(self, plan: int, author: str | None = None, draft_rev: int | None = None) -> Any:
        """Undo the last edit of a draft."""
    def publish(self, plan: int, effective_from: dt.date, author: str | None, **kw: Any) -> Any:
        """Publish a draft and write the re-routed incidents in one transaction."""


class PlaceRepository(Protocol):
    """The offline gazetteer."""

    def add_many(self, places: Sequence[Any], replace_source: bool = False) -> int:
        """Add places (replacing those of the same source if asked); how many."""
    def search(self, q: str, limit: int) -> list[Any]:
        """Places whose name or code matches, best first."""


class SecurityRepository(Protocol):
    """Login throttling and the shared secret key."""

    def failures_since(self, keys: list[str], since: dt.datetime) -> dict[str, int]:
        """Failed logins per key since a moment."""
    def add_failure(self, keys: list[str], at: dt.datetime, prune_before: dt.datetime) -> None:
        """Record one failed login under each key."""
    def clear_failures(self, keys: list[str]) -> None:
        """Forget the failures of keys (after a good login)."""
    def secret(self, name: str = "secret_key") -> str:
        """A secret shared by every worker, generated once."""


class Store(Protocol):
    """Grid hierarchy, staff, plans, incidents and users in one database. Every write is one transaction."""

    url: str
    backend: str  # "sqlite" or "postgresql"
    today: Callable[[], dt.date]  # the jurisdiction's calendar (gridmap.clock)

    @property
    def incidents(self) -> IncidentRepository:
        """Incidents, audit log, roster."""
    @property
    def users(self) -> UserRepository:
        """Accounts, sessions, API tokens."""
    @property
    def plans(self) -> PlanRepository:
        """Versioned grid plans."""
    @property
    def places(self) -> PlaceRepository:
        """The gazetteer."""
    @property
    def security(self) -> SecurityRepository:
        """Login throttling and the secret key."""

    def connect(self) -> AbstractContextManager[Any]:
        """A connection for reads (the open transaction of this thread, if any)."""
    def transaction(self) -> AbstractContextManager[Any]:
        """One transaction that nested repository writes join; commits or rolls back as one."""
    def info(self) -> StoreInfo:
        """Backend, schema revision, plan in force and counts per level."""
    def current_plan(self) -> int | None:
        """The plan in force today."""
    def units(self, level: Level | None = None, codes: Sequence[str] | None = None,
              plan: int | None = None) -> list[Unit]:
        """Units of a plan, by level and/or codes."""
    def unit(self, code: str, plan: int | None = None) -> Unit:
        """One unit; NotFound if absent."""
    def units_page(self, level: Level, bbox=None, offset: int = 0, limit: int = 10, plan: int | None = None,
                   **kw: Any) -> Any:
        """One page of units of a level (optionally in a bbox), with the total."""
    def unit_levels(self, plan: int | None = None) -> dict[str, Level]:
        """{code: level} of every unit."""
    def unit_names(self, plan: int | None = None) -> list[tuple[str, str, Level]]:
        """(code, name, level) of every unit."""
    def unit_tree(self, plan: int | None = None) -> list[tuple[str, str | None, Level]]:
        """(code, parent_code, level) of every unit."""
    def unit_rows(self, levels: Iterable[Level], plan: int | None = None) -> UnitRows:
        """Columns of the units of some levels (for building an index)."""
    def add_units(self, units: Sequence[Unit], replace: bool = False) -> int:
        """Write units into the plan in force (replacing their level if asked)."""
    def people(self) -> list[Person]:
        """Every person."""
    def roles(self, unit_code: str | None = None) -> list[Role]:
        """Role assignments (of one unit, or all)."""
    def add_staff(self, people: Sequence[Person], roles: Sequence[Role], replace: bool = False) -> tuple[int, int]:
        """Write people and roles in one transaction; (people, roles) written."""
    def close(self) -> None:
        """Release connections."""
