"""outbox rows carry their event's partition key (the aggregate id: the Kafka message key)

Revision ID: 20261204_0002
Revises: 20261123_0001
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "20261204_0002"
down_revision = "20261123_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("kit_outbox", sa.Column("partition_key", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("kit_outbox") as batch:
        batch.drop_column("partition_key")
