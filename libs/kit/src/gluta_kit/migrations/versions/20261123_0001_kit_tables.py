"""kit tables: outbox, inbox, dead letters, idempotency keys

Revision ID: 20261123_0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from gluta_kit.models import BigId, UTCDateTime

revision = "20261123_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kit_outbox",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("published_at", UTCDateTime, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UTCDateTime, nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
    )
    op.create_index("ix_kit_outbox_pending", "kit_outbox", ["published_at", "id"])
    op.create_table(
        "kit_inbox",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("consumer", sa.String(120), primary_key=True),
        sa.Column("processed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "kit_dead_letter",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("consumer", sa.String(120), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("headers", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("redriven_at", UTCDateTime, nullable=True),
    )
    op.create_table(
        "kit_idempotency",
        sa.Column("scope", sa.String(64), primary_key=True),
        sa.Column("caller", sa.String(64), primary_key=True),
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("response", sa.Text, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )


def downgrade() -> None:
    for table in ("kit_idempotency", "kit_dead_letter", "kit_inbox", "kit_outbox"):
        op.drop_table(table)
