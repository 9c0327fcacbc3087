"""One SQL implementation serving both backends: a SQLite file and PostgreSQL + PostGIS."""

from __future__ import annotations

import datetime as dt
import os
import threading
from contextlib import contextmanager
from dataclasses import asdict
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence, cast

import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from ..clock import Today, local_today
from ..errors import Conflict, NotFound, StoreUnavailable
from ..i18n import tr
from ..registry.model import Level, Person, Role, Unit
from . import schema
from .base import HEAD_REVISION, StoreInfo, UnitRows
from .engine import Guard, normalise_url, sqlite_path, sqlite_pragmas


def open_store(db: str | os.PathLike | None = None, create: bool = True, today: Today | None = None) -> "SQLStore":
    """Open (and, if `create`, create or migrate) the store at a path or URL; `today` is its calendar (clock.py)."""
    url = normalise_url(db)
    path = sqlite_path(url)
    if path is not None and not create and not path.exists():
        raise NotFound(tr("no gridmap store at %(path)s: run `gridmap init` or `gridmap demo` first, or pass --db", path=path))
    if path is not None:
        if not path.parent.exists():
            raise NotFound(tr("cannot create a store at %(path)s: folder %(parent)s does not exist", path=path, parent=path.parent))
    return SQLStore(url, migrate=create, today=today)


class SQLStore:
    """Store on SQLAlchemy Core. Every public write runs in one transaction."""

    def __init__(self, url: str, migrate: bool = True, today: Today | None = None):
        self.url = url
        self.backend = "postgresql" if url.startswith("postgresql") else "sqlite"
        self._write_lock = threading.Lock()
        self._tx = threading.local()  # the open transaction of each thread (see transaction())
        # "Today" for the plan in force (plans take effect on a date): the jurisdiction's date.
        self.today: Today = today or local_today()
        if self.backend == "sqlite":
            self.engine: Engine = sa.create_engine(url)
            sa.event.listen(self.engine, "connect", sqlite_pragmas)
        else:
            self.engine = sa.create_engine(url, pool_pre_ping=True, connect_args={"connect_timeout": 5})
        try:
            revision = self._revision()
            if revision != HEAD_REVISION:
                if not migrate:
                    raise StoreUnavailable(tr("the store at %(db)s is at schema revision %(revision)s, this gridmap needs "
                                              "%(head)s: run `gridmap init` to migrate it", db=self.display_url,
                                              revision=revision, head=HEAD_REVISION))
                self.migrate()
        except OperationalError as exc:
            raise StoreUnavailable(tr("cannot reach the database %(db)s: %(reason)s", db=self.display_url, reason=exc.orig)) from None
        except DatabaseError as exc:  # a corrupt file, or not a database at all (SQLite)
            self.engine.dispose()
            raise StoreUnavailable(tr("%(db)s is not a usable gridmap database (%(reason)s): restore it from a backup or "
                                      "point --db at the right file", db=self.display_url, reason=exc.orig)) from None

    @property
    def display_url(self) -> str:
        """The URL with any password hidden."""
        return sa.engine.make_url(self.url).render_as_string(hide_password=True)

    # -- schema -----------------------------------------------------------------------------
    def _revision(self) -> str | None:
        with self.engine.connect() as conn:
            if not sa.inspect(conn).has_table("alembic_version"):
                return None
            return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()

    def migrate(self) -> None:
        """Bring the schema to the newest revision (Alembic, versioned migrations)."""
        from alembic import command
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
        with self.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    @cached_property
    def incidents(self):
        """Incident, audit log and roster storage on this store's engine."""
        from .incidents import IncidentRepo

        return IncidentRepo(self)

    @cached_property
    def users(self):
        """Users, sessions and API tokens (store/users.py)."""
        from .users import UserRepo

        return UserRepo(self)

    @cached_property
    def security(self):
        """Login throttling and the shared secret key (store/security.py)."""
        from .security import SecurityRepo

        return SecurityRepo(self)

    @cached_property
    def totp(self):
        """Two-factor login: TOTP secrets, used steps, recovery codes (store/totp.py)."""
        from .totp import TotpRepo

        return TotpRepo(self)

    @cached_property
    def plans(self):
        """Plan history, drafts, edits and publishing on this store's engine (store/plans.py)."""
        from .plans import PlanRepo

        return PlanRepo(self)

    @cached_property
    def places(self):
        """The offline gazetteer on this store's engine (store/places.py)."""
        from .places import PlaceRepo

        return PlaceRepo(self)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    # -- plans ------------------------------------------------------------------------------
    def current_plan(self) -> int | None:
        """The plan in force today (newest published with effective_from <= today), or None."""
        with self.connect() as conn:
            return self.plans.current(conn, self.today())

    def _ensure_plan(self, conn: Connection) -> int:
        plan = self.plans.current(conn, self.today())
        if plan is None:
            plan = 1
            now = dt.datetime.now(dt.timezone.utc)
            conn.execute(schema.plans.insert().values(
                version=1, status="published", effective_from=self.today(),
                created_at=now, published_at=now, note="first import",
            ))
        return plan

    # -- units ------------------------------------------------------------------------------
    def units(self, level: Level | None = None, codes: Sequence[str] | None = None,
              plan: int | None = None) -> list[Unit]:
        """Units of a plan (default: the plan in force), by level and/or codes, in code order."""
        plan = plan if plan is not None else self.current_plan()
        if plan is None:
            return []
        t = schema.units
        q = sa.select(t).where(t.c.plan == plan).order_by(t.c.code)
        if level is not None:
            q = q.where(t.c.level == Level(level).value)
        if codes is not None:
            q = q.where(t.c.code.in_(list(codes)))
        with self.connect() as conn:
            rows = conn.execute(q).mappings().all()
        geoms = shapely.from_wkb([r["geom_wkb"] for r in rows]) if rows else []
        return [unit_from_row(r, g) for r, g in zip(rows, geoms)]

    def unit(self, code: str, plan: int | None = None) -> Unit:
        """One unit by code; NotFound if absent."""
        found = self.units(codes=[code], plan=plan)
        if not found:
            raise NotFound(tr("no unit with code %(code)r in the store", code=code))
        return found[0]

    def units_page(self, level: Level, bbox=None, offset: int = 0, limit: int = 10, plan: int | None = None,
                   filters=None):
        """One page of a level's units in code order, with the match count (store/features.py)."""
        from .features import units_page

        return units_page(self, level, bbox, offset, limit, plan, filters)

    def unit_levels(self, plan: int | None = None) -> dict[str, Level]:
        """Every unit code of a plan with its level."""
        plan = plan if plan is not None else self.current_plan()
        if plan is None:
            return {}
        t = schema.units
        with self.connect() as conn:
            rows = conn.execute(sa.select(t.c.code, t.c.level).where(t.c.plan == plan)).all()
        return {code: Level(level) for code, level in rows}

    def unit_names(self, plan: int | None = None) -> list[tuple[str, str, Level]]:
        """(code, name, level) of every unit of a plan, in code order, without geometry."""
        plan = plan if plan is not None else self.current_plan()
        if plan is None:
            return []
        t = schema.units
        with self.connect() as conn:
            rows = conn.execute(sa.select(t.c.code, t.c.name, t.c.level).where(t.c.plan == plan)
                                .order_by(t.c.code)).all()
        return [(c, n, Level(lv)) for c, n, lv in rows]

    def unit_tree(self, plan: int | None = None) -> list[tuple[str, str | None, Level]]:
        """(code, parent_code, level) of every unit of a plan, without geometry."""
        plan = plan if plan is not None else self.current_plan()
        if plan is None:
            return []
        t = schema.units
        with self.connect() as conn:
            rows = conn.execute(sa.select(t.c.code, t.c.parent_code, t.c.level).where(t.c.plan == plan)).all()
        return [(c, p, Level(lv)) for c, p, lv in rows]

    def unit_rows(self, levels: Iterable[Level], plan: int | None = None) -> UnitRows:
        """Columns of the units at `levels`, in code order: the fast path for the index."""
        plan = plan if plan is not None else self.current_plan()
        t = schema.units
        q = (sa.select(t.c.code, t.c.name, t.c.level, t.c.parent_code, t.c.geom_wkb)
             .where(t.c.plan == plan, t.c.level.in_([Level(x).value for x in levels]))
             .order_by(t.c.code))
        if plan is None:
            return UnitRows([], [], [], [], [])
        with self.connect() as conn:
            # Straight through the DB-API cursor: for 50,000 grids (160 MB of WKB) SQLAlchemy's
            # row processing costs more than the query itself.
            compiled = q.compile(dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True})
            cur = cast(Any, conn.connection.driver_connection).cursor()
            params = compiled.params
            args = tuple(params[k] for k in compiled.positiontup or ()) if compiled.positional else params
            cur.execute(str(compiled), args)
            rows = cur.fetchall()
            cur.close()
        cols: list[Any] = list(zip(*rows)) if rows else [[], [], [], [], []]
        return UnitRows(*(list(c) for c in cols))

    def add_units(self, units: Sequence[Unit], replace: bool = False) -> int:
        """Insert units into the plan in force (created if none); all or nothing.

        With `replace`, units whose code exists are replaced; without it a duplicate code
        raises Conflict and nothing is written.
        """
        t = schema.units
        with self.transaction() as conn:
            plan = self._ensure_plan(conn)
            codes = [u.code for u in units]
            if replace and codes:
                for chunk in _chunks(codes, 500):
                    conn.execute(t.delete().where(t.c.plan == plan, t.c.code.in_(chunk)))
            rows = [unit_to_row(u, plan) for u in units]
            try:
                for chunk in _chunks(rows, 500):
                    conn.execute(t.insert(), chunk)
            except IntegrityError as exc:
                raise Conflict(tr("a unit code is already in the store (use --replace to overwrite): %(reason)s", reason=exc.orig)) from None
        return len(rows)

    # -- staff ------------------------------------------------------------------------------
    def people(self) -> list[Person]:
        """Every person, by id."""
        t = schema.people
        with self.connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.person_id)).all()
        return [Person(r.person_id, r.name, r.phone) for r in rows]

    def roles(self, unit_code: str | None = None) -> list[Role]:
        """Role assignments, optionally of one unit."""
        with self.connect() as conn:
            if unit_code is not None:
                return [Role(*r) for r in conn.execute(_UNIT_ROLES, {"unit": unit_code}).all()]
            return [Role(*r) for r in conn.execute(_ALL_ROLES).all()]

    def add_staff(self, people: Sequence[Person], roles: Sequence[Role], replace: bool = False) -> tuple[int, int]:
        """Upsert people and add role assignments in one transaction.

        With `replace`, every existing role of the units named in `roles` is removed first
        (the file is the new truth for those units). Returns (people written, roles written).
        """
        tp, troles = schema.people, schema.roles
        with self.transaction() as conn:
            existing = {r[0] for r in conn.execute(sa.select(tp.c.person_id)).all()}
            new = [p for p in people if p.person_id not in existing]
            for p in people:
                if p.person_id in existing:
                    conn.execute(tp.update().where(tp.c.person_id == p.person_id).values(name=p.name, phone=p.phone))
            if new:
                conn.execute(tp.insert(), [asdict(p) for p in new])
            if replace:
                units_named = sorted({r.unit_code for r in roles})
                for chunk in _chunks(units_named, 500):
                    conn.execute(troles.delete().where(troles.c.unit_code.in_(chunk)))
            try:
                if roles:
                    conn.execute(troles.insert(), [asdict(r) for r in roles])
            except IntegrityError as exc:
                raise Conflict(tr("a role assignment is already in the store (use --replace): %(reason)s", reason=exc.orig)) from None
        return len(people), len(roles)

    # -- info -------------------------------------------------------------------------------
    def info(self) -> StoreInfo:
        """Backend, schema revision, plan in force and counts per level."""
        plan = self.current_plan()
        t = schema.units
        with self.connect() as conn:
            counts = dict(conn.execute(
                sa.select(t.c.level, sa.func.count()).where(t.c.plan == plan).group_by(t.c.level)
            ).all()) if plan is not None else {}
            counts["people"] = conn.execute(sa.select(sa.func.count()).select_from(schema.people)).scalar() or 0
            counts["roles"] = conn.execute(sa.select(sa.func.count()).select_from(schema.roles)).scalar() or 0
        return StoreInfo(self.display_url, self.backend, self._revision(), plan, counts)

    def covering_sql(self, lon: float, lat: float, level: Level = Level.grid) -> list[str]:
        """Codes of the units covering a point, computed by the database (PostGIS only)."""
        if self.backend != "postgresql":
            raise NotImplementedError("spatial SQL needs PostGIS")
        q = sa.text(
            "SELECT code FROM units WHERE plan = :plan AND level = :level AND "
            "ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY code"
        )
        with self.connect() as conn:
            return [r[0] for r in conn.execute(q, dict(plan=self.current_plan(), level=level.value, lon=lon, lat=lat))]

    # -- connections and transactions ------------------------------------------------------
    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """A connection for reads (inside an open `transaction()` of this thread: that one)."""
        outer = getattr(self._tx, "conn", None)
        if outer is not None:
            yield outer
            return
        with Guard(self, self.engine.connect) as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction: every write made inside it, by any repository, commits or rolls back together.

        Nested calls in the same thread join the outer transaction, so a use case can wrap several
        repository writes (`with store.transaction(): ...`) and each write stays atomic on its own.
        """
        outer = getattr(self._tx, "conn", None)
        if outer is not None:
            yield outer
            return
        # SQLite has one write lock per file; threads of one process take turns here
        # instead of sleeping in SQLite's busy handler (sleeps of up to 100 ms).
        lock = self._write_lock if self.backend == "sqlite" else None
        with Guard(self, self.engine.begin, lock) as conn:
            self._tx.conn = conn
            try:
                yield conn
            finally:
                self._tx.conn = None


_ALL_ROLES = (sa.select(schema.roles.c.person_id, schema.roles.c.unit_code, schema.roles.c.role)
              .order_by(schema.roles.c.unit_code, schema.roles.c.role, schema.roles.c.person_id))
_UNIT_ROLES = _ALL_ROLES.where(schema.roles.c.unit_code == sa.bindparam("unit"))


def _chunks(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def unit_to_row(u: Unit, plan: int) -> dict:
    minx, miny, maxx, maxy = u.geometry.bounds
    return dict(
        plan=plan, code=u.code, name=u.name, level=Level(u.level).value, parent_code=u.parent_code,
        geom_wkb=shapely.to_wkb(u.geometry), minx=minx, miny=miny, maxx=maxx, maxy=maxy,
        area_m2=u.area_m2, perimeter_m=u.perimeter_m, households=u.households, population=u.population,
        properties=u.properties or {}, valid_from=u.valid_from, valid_to=u.valid_to,
    )


def unit_from_row(r, geom) -> Unit:
    return Unit(
        code=r["code"], name=r["name"], level=Level(r["level"]), geometry=geom,
        parent_code=r["parent_code"], households=r["households"], population=r["population"],
        properties=r["properties"] or {}, valid_from=r["valid_from"], valid_to=r["valid_to"],
        area_m2=r["area_m2"], perimeter_m=r["perimeter_m"], plan=r["plan"],
    )
