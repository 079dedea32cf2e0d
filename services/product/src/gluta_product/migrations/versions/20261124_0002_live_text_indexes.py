"""search: live-only text indexes; an index for priceAsc; a narrow index keyed by id; the live count

SQLite: the FTS5 tables read their content from the view `product_live_text` and the triggers index a
product only while it is live, so a keyword's count is read from the posting list alone. MariaDB: the
gram rows of soft-deleted products are removed (and no longer written). Every dialect: an index that
serves `priceAsc` (unit_price ASC, id DESC) without sorting. SQLite and MariaDB: `ix_product_search_cover`,
keyed by id with the filter and sort columns, so checking a list of matching ids against the filters
(and sorting them) reads a narrow index instead of the wide product rows. Every dialect: `product_counter`
holds the number of live products (kept exact by create and delete), the total of an unfiltered listing.
See the service README, "Search".

Revision ID: 20261124_0002
Revises: 20261123_0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

from gluta_product.models import exact_string

revision = "20261124_0002"
down_revision = "20261123_0001"
branch_labels = None
depends_on = None

OLD_SQLITE_TRIGGERS = ("product_text_ai", "product_text_ad", "product_text_au")

SQLITE_LIVE_TEXT_INDEX = [
    "CREATE VIEW product_live_text AS SELECT id, search_text, search_grams FROM product WHERE deleted_at IS NULL",
    "CREATE VIRTUAL TABLE product_fts USING fts5(search_text, content='product_live_text', content_rowid='id', "
    "tokenize='trigram case_sensitive 1')",
    "CREATE VIRTUAL TABLE product_gram_fts USING fts5(search_grams, content='product_live_text', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    # A row is in the FTS tables exactly while it is live: 'delete' only what was indexed.
    """CREATE TRIGGER product_live_text_ai AFTER INSERT ON product WHEN new.deleted_at IS NULL BEGIN
      INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text);
      INSERT INTO product_gram_fts(rowid, search_grams) VALUES (new.id, new.search_grams);
    END""",
    """CREATE TRIGGER product_live_text_ad AFTER DELETE ON product WHEN old.deleted_at IS NULL BEGIN
      INSERT INTO product_fts(product_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
      INSERT INTO product_gram_fts(product_gram_fts, rowid, search_grams) VALUES ('delete', old.id, old.search_grams);
    END""",
    """CREATE TRIGGER product_live_text_au AFTER UPDATE OF search_text, search_grams, deleted_at ON product BEGIN
      INSERT INTO product_fts(product_fts, rowid, search_text)
        SELECT 'delete', old.id, old.search_text WHERE old.deleted_at IS NULL;
      INSERT INTO product_gram_fts(product_gram_fts, rowid, search_grams)
        SELECT 'delete', old.id, old.search_grams WHERE old.deleted_at IS NULL;
      INSERT INTO product_fts(rowid, search_text) SELECT new.id, new.search_text WHERE new.deleted_at IS NULL;
      INSERT INTO product_gram_fts(rowid, search_grams) SELECT new.id, new.search_grams WHERE new.deleted_at IS NULL;
    END""",
    # Backfill from the view: live products only.
    "INSERT INTO product_fts(product_fts) VALUES ('rebuild')",
    "INSERT INTO product_gram_fts(product_gram_fts) VALUES ('rebuild')",
]

SQLITE_OLD_TEXT_INDEX = [
    "CREATE VIRTUAL TABLE product_fts USING fts5(search_text, content='product', content_rowid='id', "
    "tokenize='trigram case_sensitive 1')",
    "CREATE VIRTUAL TABLE product_gram_fts USING fts5(search_grams, content='product', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 0')",
    """CREATE TRIGGER product_text_ai AFTER INSERT ON product BEGIN
      INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text);
      INSERT INTO product_gram_fts(rowid, search_grams) VALUES (new.id, new.search_grams);
    END""",
    """CREATE TRIGGER product_text_ad AFTER DELETE ON product BEGIN
      INSERT INTO product_fts(product_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
      INSERT INTO product_gram_fts(product_gram_fts, rowid, search_grams) VALUES ('delete', old.id, old.search_grams);
    END""",
    """CREATE TRIGGER product_text_au AFTER UPDATE OF search_text, search_grams ON product BEGIN
      INSERT INTO product_fts(product_fts, rowid, search_text) VALUES ('delete', old.id, old.search_text);
      INSERT INTO product_gram_fts(product_gram_fts, rowid, search_grams) VALUES ('delete', old.id, old.search_grams);
      INSERT INTO product_fts(rowid, search_text) VALUES (new.id, new.search_text);
      INSERT INTO product_gram_fts(rowid, search_grams) VALUES (new.id, new.search_grams);
    END""",
    "INSERT INTO product_fts(product_fts) VALUES ('rebuild')",
    "INSERT INTO product_gram_fts(product_gram_fts) VALUES ('rebuild')",
]


def _drop_sqlite_text_index(triggers: tuple[str, ...]) -> None:
    for trigger in triggers:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS product_fts")
    op.execute("DROP TABLE IF EXISTS product_gram_fts")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        "product_counter",
        sa.Column("name", exact_string(40), primary_key=True),
        sa.Column("value", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO product_counter (name, value) "
               "SELECT 'live', COUNT(*) FROM product WHERE deleted_at IS NULL")
    if dialect == "sqlite":
        _drop_sqlite_text_index(OLD_SQLITE_TRIGGERS)
        for statement in SQLITE_LIVE_TEXT_INDEX:
            op.execute(statement)
        op.execute("CREATE INDEX ix_product_price_asc ON product (unit_price, id DESC) WHERE deleted_at IS NULL")
        # Not partial: `deleted_at IS NULL` as its second column is what makes SQLite's planner prefer it to the
        # rowid for `id IN (...)` lookups.
        op.execute("CREATE INDEX ix_product_search_cover ON product (id, deleted_at, product_type_id, unit_price, "
                   "created_at, units_sold, like_count, sort_name)")
    elif dialect == "postgresql":
        op.execute("CREATE INDEX ix_product_price_asc ON product (unit_price, id DESC) WHERE deleted_at IS NULL")
    elif dialect in {"mysql", "mariadb"}:
        op.execute("DELETE product_gram FROM product_gram JOIN product ON product.id = product_gram.product_id "
                   "WHERE product.deleted_at IS NOT NULL")
        op.execute("CREATE INDEX ix_product_price_asc ON product (deleted_at, unit_price, id DESC)")
        # Used by name (FORCE INDEX): the optimizer otherwise reads the wide clustered rows by primary key.
        op.execute("CREATE INDEX ix_product_search_cover ON product (id, deleted_at, product_type_id, unit_price, "
                   "created_at, units_sold, like_count)")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_table("product_counter")
    if dialect == "sqlite":
        _drop_sqlite_text_index(("product_live_text_ai", "product_live_text_ad", "product_live_text_au"))
        op.execute("DROP VIEW IF EXISTS product_live_text")
        for statement in SQLITE_OLD_TEXT_INDEX:
            op.execute(statement)
        op.execute("DROP INDEX ix_product_search_cover")
    elif dialect in {"mysql", "mariadb"}:
        # Deleted products do not get their grams back: no search ever returns a deleted product.
        op.execute("DROP INDEX ix_product_search_cover ON product")
        op.execute("DROP INDEX ix_product_price_asc ON product")
        return
    op.execute("DROP INDEX ix_product_price_asc")
