"""search on MariaDB: trigram tokens in `product_gram` for words of 3+ characters

A 3+ character word was looked up by its rarest bigram's products, each rechecked with INSTR on the wide
product row: 20–50 ms at 100,000 products for a common word. MariaDB now also keeps every 3-character
substring of the text (`t`), name (`m`) and initials (`i`) of each live product as a token, so such a word
is one or a few index ranges (catalog/search.py, `pieces`). This backfills them for the live products
(INSERT IGNORE: a database migrated through 20261204_0003 by this code has them already). Nothing to do on
SQLite and PostgreSQL (their trigram indexes serve 3+ characters).

Revision ID: 20261204_0005
Revises: 20261204_0004
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

from gluta_product.catalog.search import build_search_fields

revision = "20261204_0005"
down_revision = "20261204_0004"
branch_labels = None
depends_on = None

BATCH = 500
TRIGRAM_KINDS = ("t", "m", "i")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name not in {"mysql", "mariadb"}:
        return
    product = sa.table("product", sa.column("id"), sa.column("name"), sa.column("description"),
                       sa.column("content"), sa.column("deleted_at"))
    last = 0
    while True:
        rows = bind.execute(sa.select(product.c.id, product.c.name, product.c.description, product.c.content)
                            .where(product.c.id > last, product.c.deleted_at.is_(None))
                            .order_by(product.c.id).limit(BATCH)).all()
        if not rows:
            return
        values = [(token, row.id) for row in rows
                  for token in sorted(build_search_fields(row.name, row.description, row.content).trigram_tokens())]
        for at in range(0, len(values), 20_000):
            chunk = values[at:at + 20_000]
            bind.exec_driver_sql("INSERT IGNORE INTO product_gram (gram, product_id) VALUES "
                                 + ",".join(["(%s,%s)"] * len(chunk)), tuple(v for pair in chunk for v in pair))
        last = rows[-1].id


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name in {"mysql", "mariadb"}:
        for kind in TRIGRAM_KINDS:  # a trigram token is its kind letter and exactly three characters
            bind.execute(sa.text("DELETE FROM product_gram WHERE gram LIKE :kind AND CHAR_LENGTH(gram) = 4"),
                         {"kind": kind + "%"})
