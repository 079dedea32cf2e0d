"""product tables: catalog, images, likes, inquiries, banners, member names, stock reservations, text indexes

Revision ID: 20261123_0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from gluta_kit.models import BigId
from gluta_product.models import PreciseDateTime, exact_string, long_text

revision = "20261123_0001"
down_revision = None
branch_labels = None
depends_on = None

PRODUCT_SORT_INDEXES = {
    "ix_product_created": ["created_at", "id"],
    "ix_product_price": ["unit_price", "id"],
    "ix_product_sort_name": ["sort_name", "id"],
    "ix_product_popular": ["units_sold", "like_count", "id"],
    "ix_product_type": ["product_type_id", "created_at"],
}

SQLITE_TEXT_INDEX = [
    # External-content FTS5 tables kept in step with `product` by triggers.
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
]

POSTGRES_TEXT_INDEX = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX ix_product_search_trgm ON product USING gin (search_text gin_trgm_ops)",
    "CREATE INDEX ix_product_search_grams ON product USING gin (to_tsvector('simple'::regconfig, search_grams))",
]

MYSQL_TEXT_INDEX: list[str] = []  # MariaDB fills `product_gram` instead (InnoDB FULLTEXT is too slow for it)


def upgrade() -> None:
    op.create_table(
        "image",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("storage_key", sa.String(200), nullable=False),
        sa.Column("content_type", sa.String(40), nullable=False),
        sa.Column("byte_size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("height", sa.Integer, nullable=False),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("deleted_at", PreciseDateTime, nullable=True),
    )
    op.create_index("ix_image_storage_key", "image", ["storage_key"])
    op.create_index("ix_image_deleted_at", "image", ["deleted_at"])

    op.create_table(
        "product_type",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("type", exact_string(50), nullable=False, unique=True),
        sa.Column("created_at", PreciseDateTime, nullable=False),
    )

    # Small columns first, long text last: on SQLite a filter on `deleted_at` then never reads overflow pages.
    op.create_table(
        "product",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("product_type_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("product_type.id"), nullable=True),
        sa.Column("unit_price", sa.BigInteger, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("like_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("units_sold", sa.Integer, nullable=False, server_default="0"),
        sa.Column("thumbnail_image_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("image.id"), nullable=True),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("updated_at", PreciseDateTime, nullable=False),
        sa.Column("deleted_at", PreciseDateTime, nullable=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("sort_name", exact_string(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("content", long_text(), nullable=False),
        sa.Column("search_text", long_text(exact=True), nullable=False),
        sa.Column("search_grams", long_text(), nullable=False),
    )
    # Every listing filters `deleted_at IS NULL` and sorts: one index per sort. SQLite and PostgreSQL get
    # partial indexes of the live rows (a `deleted_at` prefix misleads SQLite's planner into scanning every
    # live row for keyword searches); MariaDB, which has no partial indexes, gets `deleted_at` first.
    live = sa.text("deleted_at IS NULL")
    partial = {"sqlite_where": live, "postgresql_where": live}
    mysql = op.get_bind().dialect.name in {"mysql", "mariadb"}
    for name, columns in PRODUCT_SORT_INDEXES.items():
        if mysql:
            op.create_index(name, "product", ["deleted_at", *columns])
        else:
            op.create_index(name, "product", columns, **partial)
    if not mysql:
        deleted = sa.text("deleted_at IS NOT NULL")
        op.create_index("ix_product_deleted", "product", ["deleted_at"], sqlite_where=deleted,
                        postgresql_where=deleted)

    op.create_table(
        "product_image",
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("product.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("image_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("image.id"), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
    )
    op.create_index("ix_product_image_image", "product_image", ["image_id"])

    op.create_table(
        "product_style",
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("product.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("style", exact_string(30), primary_key=True),
    )
    op.create_index("ix_product_style_style", "product_style", ["style", "product_id"])

    op.create_table(
        "product_like",
        sa.Column("member_id", sa.BigInteger, primary_key=True),
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("product.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("created_at", PreciseDateTime, nullable=False),
    )
    op.create_index("ix_product_like_member_created", "product_like", ["member_id", "created_at"])
    op.create_index("ix_product_like_product", "product_like", ["product_id"])

    op.create_table(
        "inquiry",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("product_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("product.id", ondelete="CASCADE"), nullable=False),
        sa.Column("member_id", sa.BigInteger, nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("answer_content", sa.Text, nullable=True),
        sa.Column("answered_at", PreciseDateTime, nullable=True),
    )
    op.create_index("ix_inquiry_product_created", "inquiry", ["product_id", "created_at"])
    op.create_index("ix_inquiry_answered", "inquiry", ["answered_at", "created_at"])

    op.create_table(
        "member_name",
        sa.Column("member_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("member_name", sa.String(100), nullable=False),
        sa.Column("event_at", PreciseDateTime, nullable=False),
    )

    op.create_table(
        "banner",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("image_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  sa.ForeignKey("image.id"), nullable=False),
        sa.Column("link_url", sa.String(500), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("updated_at", PreciseDateTime, nullable=False),
        sa.Column("deleted_at", PreciseDateTime, nullable=True),
    )
    op.create_index("ix_banner_position", "banner", ["deleted_at", "position"])

    op.create_table(  # the gram table MariaDB searches with; empty on SQLite and PostgreSQL
        "product_gram",
        sa.Column("gram", exact_string(2), primary_key=True),
        # No foreign key: on MariaDB it would add a second index as large as the table.
        sa.Column("product_id", sa.BigInteger, primary_key=True, autoincrement=False),
    )

    op.create_table(
        "stock_reservation",
        sa.Column("order_id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("lines", sa.Text, nullable=False),
        sa.Column("sales_state", sa.String(20), nullable=False),
        sa.Column("created_at", PreciseDateTime, nullable=False),
        sa.Column("updated_at", PreciseDateTime, nullable=False),
    )

    dialect = op.get_bind().dialect.name
    statements = {"sqlite": SQLITE_TEXT_INDEX, "postgresql": POSTGRES_TEXT_INDEX,
                  "mysql": MYSQL_TEXT_INDEX, "mariadb": MYSQL_TEXT_INDEX}.get(dialect, [])
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("product_text_ai", "product_text_ad", "product_text_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS product_fts")
        op.execute("DROP TABLE IF EXISTS product_gram_fts")
    for table in ("stock_reservation", "product_gram", "banner", "member_name", "inquiry", "product_like",
                  "product_style", "product_image", "product", "product_type", "image"):
        op.drop_table(table)
