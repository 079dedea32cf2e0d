"""user tables: members, admins, refresh tokens, signing keys, login throttle, reset tokens

Revision ID: 20261124_0001
Revises:
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from gluta_kit.models import BigId
from gluta_user.models import PreciseDateTime, exact_string

revision = "20261124_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "members",
        sa.Column("member_id", BigId, primary_key=True, autoincrement=True),
        sa.Column("login_id", exact_string(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("member_name", sa.String(50), nullable=False),
        sa.Column("phone_number", sa.String(20), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("email_key", exact_string(254), nullable=True),
        sa.Column("post_number", sa.String(10), nullable=True),
        sa.Column("address", sa.String(200), nullable=True),
        sa.Column("address_detail", sa.String(200), nullable=True),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("updated_at", PreciseDateTime, nullable=False),
        sa.Column("withdrawn_at", PreciseDateTime, nullable=True),
        sa.Column("token_valid_after", PreciseDateTime, nullable=True),
        sa.UniqueConstraint("login_id", name="uq_members_login_id"),
        sa.UniqueConstraint("email_key", name="uq_members_email_key"),
    )
    op.create_table(
        "admins",
        sa.Column("admin_id", BigId, primary_key=True, autoincrement=True),
        sa.Column("login_id", exact_string(20), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("admin_name", sa.String(50), nullable=False),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.UniqueConstraint("login_id", name="uq_admins_login_id"),
    )
    op.create_table(
        "refresh_tokens",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("token_hash", exact_string(64), nullable=False),
        sa.Column("family_id", exact_string(32), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("subject_id", sa.BigInteger, nullable=False),
        sa.Column("issued_at", PreciseDateTime, nullable=False),
        sa.Column("expires_at", PreciseDateTime, nullable=False),
        sa.Column("used_at", PreciseDateTime, nullable=True),
        sa.Column("revoked_at", PreciseDateTime, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_refresh_tokens_token_hash"),
    )
    op.create_index("ix_refresh_tokens_family_id", "refresh_tokens", ["family_id"])
    op.create_index("ix_refresh_tokens_subject", "refresh_tokens", ["role", "subject_id"])
    op.create_table(
        "signing_keys",
        sa.Column("kid", exact_string(32), primary_key=True),
        sa.Column("public_jwk", sa.Text, nullable=False),
        sa.Column("private_key_pem", sa.Text, nullable=False),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("signs_from", PreciseDateTime, nullable=False),
        sa.Column("retired_at", PreciseDateTime, nullable=True),
    )
    op.create_table(
        "login_throttle",
        sa.Column("throttle_key", exact_string(150), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("window_started_at", PreciseDateTime, nullable=False),
        sa.Column("locked_until", PreciseDateTime, nullable=True),
    )
    op.create_table(
        "password_reset_tokens",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("token_hash", exact_string(64), nullable=False),
        sa.Column("member_id", sa.BigInteger, nullable=False),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("expires_at", PreciseDateTime, nullable=False),
        sa.Column("used_at", PreciseDateTime, nullable=True),
        sa.UniqueConstraint("token_hash", name="uq_password_reset_tokens_token_hash"),
    )
    op.create_index("ix_password_reset_tokens_member_id", "password_reset_tokens", ["member_id"])


def downgrade() -> None:
    for table in ("password_reset_tokens", "login_throttle", "signing_keys", "refresh_tokens", "admins", "members"):
        op.drop_table(table)
