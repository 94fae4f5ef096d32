"""Alembic environment: always run programmatically with a connection handed in by
`monitor.store.db.upgrade`, so there is no alembic.ini to keep in step with the config."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import monitor.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
