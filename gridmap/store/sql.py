"""One SQL implementation serving both backends: a SQLite file and PostgreSQL + PostGIS."""

from __future__ import annotations

import datetime as dt
import os
import threading
from dataclasses import asdict
from pathlib import Path
from typing import Callable, Iterable, Sequence

import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DatabaseError, IntegrityError, OperationalError

from ..errors import Conflict, InputError, NotFound, StoreUnavailable
from ..i18n import tr
from ..model import Level, Person, Role, Unit
from . import schema
from .base import HEAD_REVISION, StoreInfo, UnitRows

DEFAULT_DB = "gridmap.db"


def normalise_url(db: str | os.PathLike | None) -> str:
    """Turn a path or URL into an SQLAlchemy URL (SQLite for paths, psycopg 3 for postgresql)."""
    text = str(db) if db is not None else DEFAULT_DB
    if text.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + text.split("://", 1)[1]
    if text.startswith(("postgresql+", "sqlite:")):
        return text
    if "://" in text:
        raise ValueError(f"unsupported database URL {text!r}: use a file path, sqlite:///PATH or postgresql://...")
    return "sqlite:///" + str(Path(text).expanduser().resolve())


def _sqlite_path(url: str) -> Path | None:
    if url.startswith("sqlite:///"):
        return Path(url[len("sqlite:///"):])
    return None


def open_store(db: str | os.PathLike | None = None, create: bool = True) -> "SQLStore":
    """Open (and, if `create`, create or migrate) the store at a path or URL."""
    url = normalise_url(db)
    path = _sqlite_path(url)
    if path is not None and not create and not path.exists():
        raise NotFound(tr("no gridmap store at %(path)s: run `gridmap init` or `gridmap demo` first, or pass --db", path=path))
    if path is not None:
        if not path.parent.exists():
            raise NotFound(tr("cannot create a store at %(path)s: folder %(parent)s does not exist", path=path, parent=path.parent))
    return SQLStore(url, migrate=create)


class SQLStore:
    """Store on SQLAlchemy Core. Every public write runs in one transaction."""

    def __init__(self, url: str, migrate: bool = True):
        self.url = url
        self.backend = "postgresql" if url.startswith("postgresql") else "sqlite"
        self._write_lock = threading.Lock()
        # "Today" for the plan in force (plans take effect on a date); Services sets it to
        # today in the jurisdiction's time zone.
        self.today: Callable[[], dt.date] = dt.date.today
        if self.backend == "sqlite":
            self.engine: Engine = sa.create_engine(url)
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
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

    @property
    def incidents(self):
        """Incident, roster and user storage on this store's engine."""
        from .incidents import IncidentRepo

        if not hasattr(self, "_incidents"):
            self._incidents = IncidentRepo(self)
        return self._incidents

    @property
    def security(self):
        """Sessions, tokens, login throttling and the shared secret key (store/security.py)."""
        from .security import SecurityRepo

        if not hasattr(self, "_security"):
            self._security = SecurityRepo(self)
        return self._security

    @property
    def plans(self):
        """Plan history, drafts, edits and publishing on this store's engine (store/plans.py)."""
        from .plans import PlanRepo

        if not hasattr(self, "_plans"):
            self._plans = PlanRepo(self)
        return self._plans

    @property
    def places(self):
        """The offline gazetteer on this store's engine (store/places.py)."""
        from .places import PlaceRepo

        if not hasattr(self, "_places"):
            self._places = PlaceRepo(self)
        return self._places

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    # -- plans ------------------------------------------------------------------------------
    def current_plan(self) -> int | None:
        """The plan in force today (newest published with effective_from <= today), or None."""
        with self._connect() as conn:
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
        with self._connect() as conn:
            rows = conn.execute(q).mappings().all()
        geoms = shapely.from_wkb([r["geom_wkb"] for r in rows]) if rows else []
        return [_unit(r, g) for r, g in zip(rows, geoms)]

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
        with self._connect() as conn:
            rows = conn.execute(sa.select(t.c.code, t.c.level).where(t.c.plan == plan)).all()
        return {code: Level(level) for code, level in rows}

    def unit_names(self, plan: int | None = None) -> list[tuple[str, str, Level]]:
        """(code, name, level) of every unit of a plan, in code order, without geometry."""
        plan = plan if plan is not None else self.current_plan()
        if plan is None:
            return []
        t = schema.units
        with self._connect() as conn:
            rows = conn.execute(sa.select(t.c.code, t.c.name, t.c.level).where(t.c.plan == plan)
                                .order_by(t.c.code)).all()
        return [(c, n, Level(lv)) for c, n, lv in rows]

    def unit_tree(self, plan: int | None = None) -> list[tuple[str, str | None, Level]]:
        """(code, parent_code, level) of every unit of a plan, without geometry."""
        plan = plan if plan is not None else self.current_plan()
        if plan is None:
            return []
        t = schema.units
        with self._connect() as conn:
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
        with self._connect() as conn:
            # Straight through the DB-API cursor: for 50,000 grids (160 MB of WKB) SQLAlchemy's
            # row processing costs more than the query itself.
            compiled = q.compile(dialect=self.engine.dialect, compile_kwargs={"render_postcompile": True})
            cur = conn.connection.driver_connection.cursor()
            params = compiled.params
            args = tuple(params[k] for k in compiled.positiontup) if compiled.positional else params
            cur.execute(str(compiled), args)
            rows = cur.fetchall()
            cur.close()
        cols = list(zip(*rows)) if rows else [[], [], [], [], []]
        return UnitRows(*(list(c) for c in cols))

    def add_units(self, units: Sequence[Unit], replace: bool = False) -> int:
        """Insert units into the plan in force (created if none); all or nothing.

        With `replace`, units whose code exists are replaced; without it a duplicate code
        raises Conflict and nothing is written.
        """
        t = schema.units
        with self._begin() as conn:
            plan = self._ensure_plan(conn)
            codes = [u.code for u in units]
            if replace and codes:
                for chunk in _chunks(codes, 500):
                    conn.execute(t.delete().where(t.c.plan == plan, t.c.code.in_(chunk)))
            rows = [_row(u, plan) for u in units]
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
        with self._connect() as conn:
            rows = conn.execute(sa.select(t).order_by(t.c.person_id)).all()
        return [Person(r.person_id, r.name, r.phone) for r in rows]

    def roles(self, unit_code: str | None = None) -> list[Role]:
        """Role assignments, optionally of one unit."""
        with self._connect() as conn:
            if unit_code is not None:
                return [Role(*r) for r in conn.execute(_UNIT_ROLES, {"unit": unit_code}).all()]
            return [Role(*r) for r in conn.execute(_ALL_ROLES).all()]

    def add_staff(self, people: Sequence[Person], roles: Sequence[Role], replace: bool = False) -> tuple[int, int]:
        """Upsert people and add role assignments in one transaction.

        With `replace`, every existing role of the units named in `roles` is removed first
        (the file is the new truth for those units). Returns (people written, roles written).
        """
        tp, troles = schema.people, schema.roles
        with self._begin() as conn:
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
        with self._connect() as conn:
            counts = dict(conn.execute(
                sa.select(t.c.level, sa.func.count()).where(t.c.plan == plan).group_by(t.c.level)
            ).all()) if plan is not None else {}
            counts["people"] = conn.execute(sa.select(sa.func.count()).select_from(schema.people)).scalar()
            counts["roles"] = conn.execute(sa.select(sa.func.count()).select_from(schema.roles)).scalar()
        return StoreInfo(self.display_url, self.backend, self._revision(), plan, counts)

    def covering_sql(self, lon: float, lat: float, level: Level = Level.grid) -> list[str]:
        """Codes of the units covering a point, computed by the database (PostGIS only)."""
        if self.backend != "postgresql":
            raise NotImplementedError("spatial SQL needs PostGIS")
        q = sa.text(
            "SELECT code FROM units WHERE plan = :plan AND level = :level AND "
            "ST_Covers(geom, ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) ORDER BY code"
        )
        with self._connect() as conn:
            return [r[0] for r in conn.execute(q, dict(plan=self.current_plan(), level=level.value, lon=lon, lat=lat))]

    # -- connections ------------------------------------------------------------------------
    def _connect(self):
        return _Guard(self, self.engine.connect)

    def _begin(self):
        if self.backend == "sqlite":
            # SQLite has one write lock per file; threads of one process take turns here
            # instead of sleeping in SQLite's busy handler (sleeps of up to 100 ms).
            return _Guard(self, self.engine.begin, self._write_lock)
        return _Guard(self, self.engine.begin)


class _Guard:
    """Context manager turning a lost database into StoreUnavailable (HTTP 503); holds `lock` if given."""

    def __init__(self, store: SQLStore, opener, lock=None):
        self.store, self.opener, self.cm, self.lock = store, opener, None, lock

    def __enter__(self) -> Connection:
        if self.lock is not None:
            self.lock.acquire()
        try:
            self.cm = self.opener()
            return self.cm.__enter__()
        except OperationalError as exc:
            self._release()
            raise StoreUnavailable(tr("cannot reach the database %(db)s: %(reason)s", db=self.store.display_url, reason=exc.orig)) from None
        except BaseException:
            self._release()
            raise

    def __exit__(self, *exc_info):
        try:
            handled = self.cm.__exit__(*exc_info)
        except OperationalError as exc:
            raise StoreUnavailable(tr("the database %(db)s failed: %(reason)s", db=self.store.display_url, reason=exc.orig)) from None
        finally:
            self._release()
        exc = exc_info[1]
        if isinstance(exc, OperationalError) and "readonly" in str(exc.orig):
            # a read-only database file (permissions, a full or read-only disk): an outage like any other
            raise StoreUnavailable(tr("the database %(db)s is read-only: %(reason)s", db=self.store.display_url, reason=exc.orig)) from None
        if "NUL (0x00)" in str(getattr(exc, "orig", exc) or ""):  # PostgreSQL text cannot hold NUL
            raise InputError(tr("text in the request contains a NUL character (%(nul)s)", nul="%00")) from None
        if isinstance(exc, OperationalError) and exc.connection_invalidated:
            # The server dropped the connection mid-request (restart, failover): 503, like one that
            # cannot connect; the pool has discarded it, so the next request gets a fresh one.
            raise StoreUnavailable(tr("the database %(db)s dropped the connection: %(reason)s", db=self.store.display_url, reason=exc.orig)) from None
        if isinstance(exc, OverflowError) or getattr(getattr(exc, "orig", None), "sqlstate", None) == "22003":
            # A number past the column's integer type (SQLite: 64-bit; PostgreSQL 22003 numeric_value_out_of_range)
            # from a request (an id, an offset) is bad input, not a 500.
            raise InputError(tr("a number in the request is too large for the database")) from None
        return handled

    def _release(self) -> None:
        if self.lock is not None:
            self.lock.release()
            self.lock = None


_ALL_ROLES = (sa.select(schema.roles.c.person_id, schema.roles.c.unit_code, schema.roles.c.role)
              .order_by(schema.roles.c.unit_code, schema.roles.c.role, schema.roles.c.person_id))
_UNIT_ROLES = _ALL_ROLES.where(schema.roles.c.unit_code == sa.bindparam("unit"))


def _sqlite_pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA journal_mode=WAL")
    # WAL + NORMAL: commits stay atomic and durable across a crash of the process; only a
    # power cut can lose the last commits (FULL fsyncs every commit: 5% of a report's cost).
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def _chunks(items: Sequence, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _row(u: Unit, plan: int) -> dict:
    minx, miny, maxx, maxy = u.geometry.bounds
    return dict(
        plan=plan, code=u.code, name=u.name, level=Level(u.level).value, parent_code=u.parent_code,
        geom_wkb=shapely.to_wkb(u.geometry), minx=minx, miny=miny, maxx=maxx, maxy=maxy,
        area_m2=u.area_m2, perimeter_m=u.perimeter_m, households=u.households, population=u.population,
        properties=u.properties or {}, valid_from=u.valid_from, valid_to=u.valid_to,
    )


def _unit(r, geom) -> Unit:
    return Unit(
        code=r["code"], name=r["name"], level=Level(r["level"]), geometry=geom,
        parent_code=r["parent_code"], households=r["households"], population=r["population"],
        properties=r["properties"] or {}, valid_from=r["valid_from"], valid_to=r["valid_to"],
        area_m2=r["area_m2"], perimeter_m=r["perimeter_m"], plan=r["plan"],
    )
