"""token revocations: sessions and subjects whose access tokens every instance refuses before they expire

Revision ID: 20261204_0002
Revises: 20261124_0001
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from gluta_kit.models import BigId
from gluta_user.models import PreciseDateTime, exact_string

revision = "20261204_0002"
down_revision = "20261124_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "token_revocations",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.BigInteger, nullable=False),
        sa.Column("family_id", exact_string(32), nullable=True),
        sa.Column("not_before", sa.BigInteger, nullable=True),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("expires_at", PreciseDateTime, nullable=False),
    )
    op.create_index("ix_token_revocations_created_at", "token_revocations", ["created_at"])
    op.create_index("ix_token_revocations_expires_at", "token_revocations", ["expires_at"])


def downgrade() -> None:
    op.drop_table("token_revocations")
