"""SQLAlchemy engine, declarative base, portable types, unit of work, Alembic migrations."""
