"""Apply Alembic migrations programmatically (no alembic.ini needed)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"


def _config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest revision; a no-op when it is already there."""
    command.upgrade(_config(engine), "head")


def pending(engine: Engine) -> list[str]:
    """Revisions not yet applied, oldest first (the order they are applied in); empty when up to date."""
    script = ScriptDirectory.from_config(_config(engine))
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    # walk_revisions goes from the head down to the base
    heads = [rev.revision for rev in reversed(list(script.walk_revisions())) if rev.revision not in current]
    if not current:
        return heads
    applied: set[str] = set()
    for head in current:
        applied.update(r.revision for r in script.iterate_revisions(head, "base"))
    return [r for r in heads if r not in applied]
