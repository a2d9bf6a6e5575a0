"""OpenID Connect identities of dashboard users (issuer + sub) and the grants their groups gave."""

import sqlalchemy as sa
from alembic import op

from charter.storage.base import JSONType, UTCDateTime

revision = "0020_oidc_identities"
down_revision = "0019_obligation_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "oidc_identities",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("issuer", sa.String(300), nullable=False),
        sa.Column("subject", sa.String(255), nullable=False),
        sa.Column(
            "principal_id",
            sa.String(40),
            sa.ForeignKey("principals.id", name="fk_oidc_identities_principal_id_principals"),
            nullable=False,
        ),
        sa.Column("managed", JSONType, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("last_login_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("issuer", "subject", name="uq_oidc_identities_subject"),
    )
    op.create_index("ix_oidc_identities_principal_id", "oidc_identities", ["principal_id"])


def downgrade() -> None:
    op.drop_table("oidc_identities")
