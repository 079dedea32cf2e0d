"""order tables: snapshots, cart, wallet and ledger, orders, coupons

Revision ID: 20261123_order_0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from gluta_kit.models import BigId, UTCDateTime

revision = "20261123_order_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_snapshot",
        sa.Column("product_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("unit_price", sa.BigInteger, nullable=False),
        sa.Column("thumbnail_url", sa.String(500), nullable=True),
        sa.Column("on_sale", sa.Boolean, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "member_snapshot",
        sa.Column("member_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("login_id", sa.String(64), nullable=False),
        sa.Column("member_name", sa.String(100), nullable=False),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
        sa.Column("changed_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "cart_item",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.BigInteger, nullable=False),
        sa.Column("product_id", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("member_id", "product_id", name="uq_cart_item_member_product"),
    )
    op.create_table(
        "wallet",
        sa.Column("member_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("balance", sa.BigInteger, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.CheckConstraint("balance >= 0", name="ck_wallet_balance_not_negative"),
    )
    op.create_table(
        "wallet_ledger",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.BigInteger, nullable=False),
        sa.Column("type", sa.String(10), nullable=False),
        sa.Column("amount", sa.BigInteger, nullable=False),
        sa.Column("balance_after", sa.BigInteger, nullable=False),
        sa.Column("order_id", sa.BigInteger, nullable=True),
        sa.Column("payment_id", sa.String(128), nullable=True),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("payment_id", name="uq_wallet_ledger_payment_id"),
    )
    op.create_index("ix_wallet_ledger_member", "wallet_ledger", ["member_id", "id"])
    op.create_table(
        "orders",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.BigInteger, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("cancel_reason", sa.String(40), nullable=True),
        sa.Column("was_confirmed", sa.Boolean, nullable=False),
        sa.Column("total_amount", sa.BigInteger, nullable=False),
        sa.Column("discount_amount", sa.BigInteger, nullable=False),
        sa.Column("pay_amount", sa.BigInteger, nullable=False),
        sa.Column("units", sa.Integer, nullable=False),
        sa.Column("from_cart", sa.Boolean, nullable=False),
        sa.Column("receiver", sa.Text, nullable=False),
        sa.Column("order_date", sa.Date, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_index("ix_orders_member", "orders", ["member_id", "id"])
    op.create_index("ix_orders_status_created", "orders", ["status", "created_at"])
    op.create_index("ix_orders_status_date", "orders", ["status", "order_date"])
    op.create_table(
        "order_line",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("order_id", sa.BigInteger, nullable=False),
        sa.Column("product_id", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("unit_price", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("member_coupon_id", sa.BigInteger, nullable=True),
        sa.Column("discount", sa.BigInteger, nullable=False),
        sa.Column("line_total", sa.BigInteger, nullable=False),
    )
    op.create_index("ix_order_line_order", "order_line", ["order_id"])
    op.create_index("ix_order_line_product", "order_line", ["product_id"])
    op.create_table(
        "coupon",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("slug", sa.String(64), nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.String(1000), nullable=False),
        sa.Column("discount_type", sa.String(10), nullable=False),
        sa.Column("discount_value", sa.BigInteger, nullable=False),
        sa.Column("max_discount", sa.BigInteger, nullable=True),
        sa.Column("min_order_amount", sa.BigInteger, nullable=False),
        sa.Column("product_id", sa.BigInteger, nullable=True),
        sa.Column("quantity", sa.Integer, nullable=True),
        sa.Column("issued", sa.Integer, nullable=False),
        sa.Column("starts_at", UTCDateTime, nullable=True),
        sa.Column("ends_at", UTCDateTime, nullable=True),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.UniqueConstraint("slug", name="uq_coupon_slug"),
        sa.CheckConstraint("quantity IS NULL OR issued <= quantity", name="ck_coupon_issued_within_quantity"),
    )
    op.create_table(
        "member_coupon",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("coupon_id", sa.BigInteger, nullable=False),
        sa.Column("member_id", sa.BigInteger, nullable=False),
        sa.Column("used", sa.Boolean, nullable=False),
        sa.Column("used_order_id", sa.BigInteger, nullable=True),
        sa.Column("issued_at", UTCDateTime, nullable=False),
        sa.Column("used_at", UTCDateTime, nullable=True),
        sa.UniqueConstraint("coupon_id", "member_id", name="uq_member_coupon_coupon_member"),
    )
    op.create_index("ix_member_coupon_member", "member_coupon", ["member_id", "id"])
    op.create_index("ix_member_coupon_order", "member_coupon", ["used_order_id"])


def downgrade() -> None:
    for table in ("member_coupon", "coupon", "order_line", "orders", "wallet_ledger", "wallet", "cart_item",
                  "member_snapshot", "product_snapshot"):
        op.drop_table(table)
