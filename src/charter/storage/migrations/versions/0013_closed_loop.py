"""Monitoring windows per (model digest, environment), and each window's history of contributions.

A window used to be per digest, so a staging window acted on production licenses; it is now keyed by
(digest, env, start, end). Existing windows predate the split and are taken as production's. The history keeps one
row per contribution (merge or replacement of a part), so a correction is visible instead of a silent rewrite.

On SQLite the unique constraint can only change by rebuilding the table, and dropping the old table would cascade
into its parts, metrics and checks: those are copied aside and put back.
"""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0013_closed_loop"
down_revision = "0012_model_signatures"
branch_labels = None
depends_on = None

_CHILDREN = ("monitor_window_parts", "monitor_metrics", "monitor_checks")


def _rebuild(add_env: bool) -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        for table in _CHILDREN:
            op.execute(f"CREATE TEMP TABLE keep_{table} AS SELECT * FROM {table}")
    with op.batch_alter_table("monitor_windows", recreate="always" if sqlite else "auto") as batch:
        batch.drop_index("ix_monitor_windows_digest_end")
        if add_env:
            batch.add_column(sa.Column("env", sa.String(60), nullable=False, server_default="production"))
            batch.drop_constraint("uq_monitor_windows_digest", type_="unique")
            batch.create_unique_constraint("uq_monitor_windows_digest_env", ["digest", "env", "start", "end"])
            batch.create_index("ix_monitor_windows_digest_end", ["digest", "env", "end"])
        else:
            batch.drop_constraint("uq_monitor_windows_digest_env", type_="unique")
            batch.drop_column("env")
            batch.create_unique_constraint("uq_monitor_windows_digest", ["digest", "start", "end"])
            batch.create_index("ix_monitor_windows_digest_end", ["digest", "end"])
    if sqlite:
        for table in _CHILDREN:
            op.execute(f"DELETE FROM {table}")
            op.execute(f"INSERT INTO {table} SELECT * FROM keep_{table}")
            op.execute(f"DROP TABLE keep_{table}")


def upgrade() -> None:
    _rebuild(add_env=True)
    op.create_table(
        "monitor_window_history",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column(
            "window_id",
            sa.String(40),
            sa.ForeignKey(
                "monitor_windows.id", ondelete="CASCADE", name="fk_monitor_window_history_window_id_monitor_windows"
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(120), nullable=False),
        sa.Column("action", sa.String(10), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("part_rows_before", sa.BigInteger, nullable=True),
        sa.Column("part_rows_after", sa.BigInteger, nullable=False),
        sa.Column("window_rows_after", sa.BigInteger, nullable=False),
        sa.Column("sketch_sha256", sa.String(64), nullable=False),
        sa.Column("replaced_sha256", sa.String(64), nullable=True),
        sa.Column("info", JSONType, nullable=False),
        sa.Column("created_by", sa.String(140), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_monitor_window_history_window", "monitor_window_history", ["window_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_monitor_window_history_window", "monitor_window_history")
    op.drop_table("monitor_window_history")
    _rebuild(add_env=False)
