"""SQLite audit storage: entries keyed by their rowid, tree nodes clustered on their key.

On SQLite a `BIGINT PRIMARY KEY` is a separate unique index beside the table's rowid B-tree, so every append wrote
one B-tree more than needed and every scan in `seq` order (verification, export) went through that index. As
`INTEGER PRIMARY KEY` the sequence number *is* the rowid; `audit_nodes` becomes a WITHOUT ROWID table clustered on
(height, idx). PostgreSQL tables are unchanged (a heap and its primary key index either way).
"""

from alembic import op

revision = "0008_audit_rowid"
down_revision = "0007_monitoring"
branch_labels = None
depends_on = None

_ENTRY_COLUMNS = "seq, ts, actor, action, resource, outcome, body, leaf_hash"
_ENTRY_INDEXES = ("ts", "actor", "action", "resource")


def _rebuild(entries_key: str, nodes_suffix: str) -> None:
    op.execute(
        f"CREATE TABLE audit_entries_new (seq {entries_key} NOT NULL, ts DATETIME NOT NULL, "
        "actor VARCHAR(140) NOT NULL, action VARCHAR(80) NOT NULL, resource VARCHAR(200) NOT NULL, "
        "outcome VARCHAR(12) NOT NULL, body BLOB NOT NULL, leaf_hash BLOB NOT NULL, PRIMARY KEY (seq))"
    )
    op.execute(
        f"INSERT INTO audit_entries_new ({_ENTRY_COLUMNS}) SELECT {_ENTRY_COLUMNS} FROM audit_entries ORDER BY seq"
    )
    op.execute("DROP TABLE audit_entries")
    op.execute("ALTER TABLE audit_entries_new RENAME TO audit_entries")
    for column in _ENTRY_INDEXES:
        op.execute(f"CREATE INDEX ix_audit_entries_{column} ON audit_entries ({column})")
    op.execute(
        "CREATE TABLE audit_nodes_new (height SMALLINT NOT NULL, idx BIGINT NOT NULL, hash BLOB NOT NULL, "
        f"PRIMARY KEY (height, idx)){nodes_suffix}"
    )
    op.execute("INSERT INTO audit_nodes_new (height, idx, hash) SELECT height, idx, hash FROM audit_nodes")
    op.execute("DROP TABLE audit_nodes")
    op.execute("ALTER TABLE audit_nodes_new RENAME TO audit_nodes")


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("INTEGER", " WITHOUT ROWID")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild("BIGINT", "")
