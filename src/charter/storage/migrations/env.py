"""Alembic environment: the engine is handed in by charter.storage.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Engine

engine = context.config.attributes["engine"]
assert isinstance(engine, Engine)

with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
