"""Alembic environment: run on the connection gridmap hands over (see store/sql.py)."""

from alembic import context

from gridmap.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
