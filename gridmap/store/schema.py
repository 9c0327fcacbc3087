"""Table definitions (SQLAlchemy Core). Migrations under migrations/ create them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    UniqueConstraint,
)

metadata = MetaData()

plans = Table(
    "plans", metadata,
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("status", String(16), nullable=False),  # published | draft
    Column("effective_from", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("note", String),
    # migration 0003: publishing, the base a draft was copied from, and the draft revision
    # (bumped by every edit and undo, for optimistic locking of whole-draft operations)
    Column("published_at", DateTime(timezone=True)),
    Column("base_version", Integer),
    Column("author", String(64)),
    Column("rev", Integer, nullable=False, server_default="0"),
    Column("publish_reason", String),  # 0004: why a publish was forced past staffing gaps
    Column("teams_applied_at", DateTime(timezone=True)),  # 0004: its teams written into roles
    # 0009: bumped by triggers on every change of the plan's units (the index cache's key)
    Column("units_rev", Integer, nullable=False, server_default="0"),
)

store_id = Table(  # migration 0009: a random id telling stores apart (the index cache's key)
    "store_id", metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("token", String(32), nullable=False),
)

# Geometry is stored as WKB (EPSG:4326 lon/lat) with its bounding box, so both backends read
# and write it the same way. On PostGIS a generated `geom` column mirrors it, with a GiST
# index, for spatial SQL (see migrations/versions/0001_initial.py).
units = Table(
    "units", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan", Integer, ForeignKey("plans.version"), nullable=False),
    Column("code", String(32), nullable=False),
    Column("name", String, nullable=False),
    Column("level", String(8), nullable=False),
    Column("parent_code", String(32)),
    Column("geom_wkb", LargeBinary, nullable=False),
    Column("minx", Float, nullable=False),
    Column("miny", Float, nullable=False),
    Column("maxx", Float, nullable=False),
    Column("maxy", Float, nullable=False),
    Column("area_m2", Float),
    Column("perimeter_m", Float),
    Column("households", Integer),
    Column("population", Integer),
    Column("properties", JSON),
    Column("valid_from", Date),
    Column("valid_to", Date),
    Column("rev", Integer, nullable=False, server_default="1"),  # 0003: bumped by each edit of a draft
    UniqueConstraint("plan", "code", name="uq_units_plan_code"),
    Index("ix_units_plan_level", "plan", "level"),
    Index("ix_units_parent", "plan", "parent_code"),
)

# The edit log of a draft (migration 0003): each edit keeps the rows it changed as they were
# before (`before`, geometry as hex WKB) and the codes it left, so the last edit can be undone.
plan_edits = Table(
    "plan_edits", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan", Integer, ForeignKey("plans.version"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("op", String(16), nullable=False),
    Column("author", String(64)),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("params", JSON),
    Column("before", JSON, nullable=False),
    Column("after_codes", JSON, nullable=False),
    UniqueConstraint("plan", "seq", name="uq_plan_edits_seq"),
)

# The teams a draft sets (migration 0004): one row per grid whose 1+1+N team the draft holds
# (inherited by a split or merge, or staffed by the planner), members [[person_id, role], ...].
# Grids without a row keep the store's `roles`. Publishing writes these into `roles`.
plan_teams = Table(
    "plan_teams", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("plan", Integer, ForeignKey("plans.version"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("members", JSON, nullable=False),
    UniqueConstraint("plan", "unit_code", name="uq_plan_teams_unit"),
)

people = Table(
    "people", metadata,
    Column("person_id", String(64), primary_key=True),
    Column("name", String, nullable=False),
    Column("phone", String(32)),
)

roles = Table(
    "roles", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("person_id", String(64), ForeignKey("people.person_id"), nullable=False),
    Column("unit_code", String(32), nullable=False),
    Column("role", String(32), nullable=False),
    UniqueConstraint("person_id", "unit_code", "role", name="uq_roles"),
    Index("ix_roles_unit", "unit_code"),
)

# -- incidents (migration 0002) ---------------------------------------------------------------
# Times are stored as naive UTC (SQLite has no time zones); the store attaches UTC on read.
incidents = Table(
    "incidents", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("external_id", String(64)),
    Column("category", String(64), nullable=False),
    Column("description", String, nullable=False, default=""),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("reported_at", DateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Column("severity", Integer, nullable=False),
    Column("reporter_name", String),
    Column("reporter_phone", String(32)),
    Column("reporter_token", String(64)),
    Column("status", String(16), nullable=False),
    Column("grid_code", String(32)),
    Column("zone_code", String(32)),
    Column("town_code", String(32)),
    Column("plan", Integer),
    Column("assignment", String(16), nullable=False),
    Column("distance_m", Float),
    Column("assignee", String(64)),
    Column("handling_level", String(16), nullable=False),
    Column("department", String),
    Column("escalated", Integer, nullable=False, default=0),
    Column("dispatched_at", DateTime),
    Column("due_at", DateTime),
    Column("handled_at", DateTime),
    Column("closed_at", DateTime),
    Column("rework_count", Integer, nullable=False, default=0),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("extended", Integer, nullable=False, default=0),
    Column("rating", Integer),
    Column("merged_into", String(32)),
    Column("version", Integer, nullable=False, default=1),
    Column("extra", JSON),
    # 0009: when the incident's metrics stop changing with as_of, kept only when that is long
    # after its report (store/rollup.py: the roll-ups' correction finds these by this index)
    Column("settles_late_at", DateTime),
    # 0013: hours from report to closing (closed_at set), for the metrics' p90 from the index alone
    Column("close_hours", Float),
    Index("ix_incidents_status", "status"),
    Index("ix_incidents_grid", "grid_code"),
    Index("ix_incidents_zone", "zone_code"),
    Index("ix_incidents_reported", "reported_at"),
    Index("ix_incidents_category_reported", "category", "reported_at"),
    Index("ix_incidents_external_id", "external_id"),  # 0005: the board's search by number
    # 0005: tab counts, covering; 0014: and under a text search (the columns it tests)
    Index("ix_incidents_queue", "status", "zone_code", "escalated", "due_at", "description", "external_id", "category",
          "grid_code", "town_code"),
    # 0014: the board's text search (LIKE) reads this narrow index, not the table
    Index("ix_incidents_text", "description", "external_id", "category", "grid_code", "zone_code", "town_code"),
    Index("ix_incidents_zone_reported", "zone_code", "reported_at"),  # 0005: a zone's page
    Index("ix_incidents_grid_reported", "grid_code", "reported_at"),  # 0013: a grid's own metrics
    Index("ix_incidents_grid_open", "grid_code", "status", "due_at"),  # 0013: a grid's open incidents
    # migration 0006: metrics answered from the index alone; supervision by deadline
    Index("ix_incidents_metrics", "reported_at", "status", "merged_into", "closed_at", "close_hours", "due_at",
          "dispatched_at",
          "rework_count", "reopen_count", "extended", "rating", "grid_code", "zone_code", "town_code", "assignee",
          "category"),
    Index("ix_incidents_status_due", "status", "due_at"),
    Index("ix_incidents_settles_late", "settles_late_at", "reported_at"),
)

incident_events = Table(
    "incident_events", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("at", DateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(32), nullable=False),
    Column("from_status", String(16)),
    Column("to_status", String(16), nullable=False),
    Column("note", String),
    Column("data", JSON),
    Index("ix_events_incident", "incident_id"),
)

roster = Table(
    "roster", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("unit_code", String(32), nullable=False),
    Column("person_id", String(64), ForeignKey("people.person_id"), nullable=False),
    Column("starts_at", DateTime, nullable=False),
    Column("ends_at", DateTime, nullable=False),
    Index("ix_roster_unit_time", "unit_code", "starts_at"),
)

users = Table(
    "users", metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String, nullable=False),
    Column("role", String(16), nullable=False),  # admin | planner | dispatcher | staff | leader
    Column("person_id", String(64)),
    Column("created_at", DateTime, nullable=False),
    # migration 0004: a session cookie carries the generation it was issued in (bumped on logout,
    # password change, disable), and a disabled user can neither log in nor use a token
    Column("session_gen", Integer, nullable=False, default=0),
    Column("disabled", Boolean, nullable=False, default=False),
    # migration 0009: two-factor login (TOTP); the secret is never shown again after enrolment
    Column("totp_secret", String(64)),
    Column("totp_pending", String(64)),
    Column("totp_last_step", BigInteger),
)

totp_recovery_codes = Table(
    "totp_recovery_codes", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False, index=True),
    Column("code_hash", String(64), nullable=False),
)

api_tokens = Table(
    "api_tokens", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("username", String(64), ForeignKey("users.username"), nullable=False),
    Column("label", String),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime),  # migration 0004, naive UTC like every time here; NULL = no expiry
)

login_failures = Table(  # migration 0004: failed logins per "user:NAME" and "addr:IP", for throttling
    "login_failures", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("at", DateTime, nullable=False),
    Index("ix_login_failures_key_at", "key", "at"),
)

app_secrets = Table(  # migration 0004: the session signing key generated once and shared by every worker
    "app_secrets", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", String, nullable=False),
)

# The offline gazetteer: named points a user imports (`gridmap places import`), searched by
# GET /api/v1/places together with the units' names and codes. lon/lat are EPSG:4326.
places = Table(
    "places", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("code", String(32)),
    Column("lon", Float, nullable=False),
    Column("lat", Float, nullable=False),
    Column("source", String(200), nullable=False),
    Index("ix_places_name", "name"),
)


# 0009: metric roll-ups (store/rollup.py): per UTC day (and month) x grid x zone x town x assignee x
# category, the sums of every measure as judged once everything has happened; '' stands for NULL
# in the key columns (a unique index treats NULLs as distinct).
ROLLUP_KEYS = ("grid_code", "zone_code", "town_code", "assignee", "category")
ROLLUP_SUMS = ("count", "filed", "due", "closed", "closed_on_time", "overdue_open", "rework", "extended",
               "rated", "rating_sum", "responded", "response_due", "resolved", "resolution_asked", "satisfied",
               "hours_n")


def _rollup(name: str, period: str, width: int) -> Table:
    return Table(
        name, metadata,
        Column(period, String(width), nullable=False),
        *[Column(k, String(64), nullable=False) for k in ROLLUP_KEYS],
        *[Column(s, Integer, nullable=False) for s in ROLLUP_SUMS],
        Column("hours_us", BigInteger, nullable=False),  # sum of microseconds report -> close
        Index(f"ux_{name}", period, *ROLLUP_KEYS, unique=True),
    )


rollup_day = _rollup("incident_rollup_day", "day", 10)
rollup_month = _rollup("incident_rollup_month", "month", 7)
