"""The persisted grid index's key: plans.units_rev, bumped by triggers on every change of a plan's units; a store id.

Revision ID: 0009
Revises: 0008

The index cache (gridmap/registry/indexcache.py) keys its files by (store id, plan, units_rev). Triggers
rather than code in each write path: every way units change (import, --replace, plan edits,
undo, a publish that copies or rewrites units, SQL by hand) bumps the revision of the plans
they belong to, in the same transaction, so a cache can never be taken for a changed plan.
The store id (random, made here) tells two stores apart whose plans have the same numbers.
"""

import secrets

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_SQLITE = {
    "insert": "AFTER INSERT ON units BEGIN UPDATE plans SET units_rev = units_rev + 1 WHERE version = NEW.plan; END",
    "update": "AFTER UPDATE ON units BEGIN UPDATE plans SET units_rev = units_rev + 1 "
              "WHERE version IN (OLD.plan, NEW.plan); END",
    "delete": "AFTER DELETE ON units BEGIN UPDATE plans SET units_rev = units_rev + 1 WHERE version = OLD.plan; END",
}

# PostgreSQL: one bump per statement and plan (transition tables), not one per row.
_PG_FUNCTION = """
CREATE FUNCTION gridmap_units_rev() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE plans SET units_rev = units_rev + 1 WHERE version IN (SELECT DISTINCT plan FROM new_rows);
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE plans SET units_rev = units_rev + 1 WHERE version IN (SELECT DISTINCT plan FROM old_rows);
  ELSE
    UPDATE plans SET units_rev = units_rev + 1
      WHERE version IN (SELECT plan FROM old_rows UNION SELECT plan FROM new_rows);
  END IF;
  RETURN NULL;
END $$
"""
_PG_REFERENCING = {"insert": "NEW TABLE AS new_rows", "update": "OLD TABLE AS old_rows NEW TABLE AS new_rows",
                   "delete": "OLD TABLE AS old_rows"}


def upgrade() -> None:
    op.add_column("plans", sa.Column("units_rev", sa.Integer, nullable=False, server_default="0"))
    store_id = op.create_table("store_id", sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                               sa.Column("token", sa.String(32), nullable=False))
    op.bulk_insert(store_id, [{"id": 1, "token": secrets.token_hex(16)}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_FUNCTION)
        for event, ref in _PG_REFERENCING.items():
            op.execute(f"CREATE TRIGGER units_rev_{event} AFTER {event.upper()} ON units REFERENCING {ref} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION gridmap_units_rev()")
    else:
        for event, body in _SQLITE.items():
            op.execute(f"CREATE TRIGGER units_rev_{event} {body}")


def downgrade() -> None:
    for event in _SQLITE:
        op.execute(f"DROP TRIGGER IF EXISTS units_rev_{event}" +
                   (" ON units" if op.get_bind().dialect.name == "postgresql" else ""))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS gridmap_units_rev()")
    op.drop_table("store_id")
    with op.batch_alter_table("plans") as batch:
        batch.drop_column("units_rev")
