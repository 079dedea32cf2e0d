"""stock: `product.received`, every unit ever put on the shelf by an administrator

`gluta check` proves the stock invariant per product: quantity + units reserved by pending orders ==
received − units sold. `received` is kept in the same transaction as every administrator's create and
edit of the quantity (an edit moves it by the difference). Existing rows start where the invariant holds
today: quantity + units sold + units held by pending reservations.

Revision ID: 20261204_0004
Revises: 20261204_0003
Create Date: 2026-12-04
"""

import json
from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = "20261204_0004"
down_revision = "20261204_0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN (no table rebuild: SQLite's text indexes and triggers stay as they are)
    op.add_column("product", sa.Column("received", sa.BigInteger, nullable=False, server_default="0"))
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE product SET received = quantity + units_sold"))
    pending: dict[int, int] = defaultdict(int)
    # Core, not text: `lines` is a reserved word on MariaDB/MySQL and must be quoted
    reservation = sa.table("stock_reservation", sa.column("lines"), sa.column("status"), sa.column("sales_state"))
    for (lines,) in bind.execute(sa.select(reservation.c.lines).where(reservation.c.status == "RESERVED",
                                                                      reservation.c.sales_state == "NONE")):
        for line in json.loads(lines):
            pending[int(line["productId"])] += int(line["quantity"])
    for product_id, units in sorted(pending.items()):
        bind.execute(sa.text("UPDATE product SET received = received + :units WHERE id = :id"),
                     {"units": units, "id": product_id})


def downgrade() -> None:
    op.drop_column("product", "received")
