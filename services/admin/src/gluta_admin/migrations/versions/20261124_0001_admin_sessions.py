"""admin web sessions

Revision ID: 20261124_0001
Revises:
Create Date: 2026-11-24
"""

from alembic import op

from gluta_kit.web.session import create_session_table

revision = "20261124_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_session_table(op)


def downgrade() -> None:
    op.drop_table("web_session")
