"""forgiving search: spacing-free name, 초성 and text columns, typed index tokens, vocabulary, synonyms

Every product's search columns are computed again (spacing-free `search_text`, new `search_name` and
`search_initials`, tokens with a kind letter: `a`/`n`/`c` grams of text/name/initials, `w` whole words,
`x` the whole name), and the text indexes are rebuilt from them: SQLite's trigram table now has three
columns and its gram table keeps no positions (`detail=none`: only single tokens are asked); MariaDB's
`product_gram.gram` holds the typed tokens (VARCHAR(101)); PostgreSQL gets trigram indexes on the name
and initials. `search_term` / `search_term_key` hold the vocabulary of live product names (typo
correction, did-you-mean); `search_synonym` the admins' synonyms (demo mode seeds common ones).
See the service README, "Search".

Revision ID: 20261204_0003
Revises: 20261124_0002
Create Date: 2026-12-04
"""

from collections import Counter
from typing import Any

import sqlalchemy as sa
from alembic import op

from gluta_product.catalog.search import build_search_fields, term_keys, vocabulary
from gluta_product.models import exact_string

revision = "20261204_0003"
down_revision = "20261124_0002"
branch_labels = None
depends_on = None

BATCH = 500

SQLITE_TEXT_INDEX = [
    "CREATE VIEW product_live_text AS SELECT id, search_name, search_initials, search_text, search_grams "
    "FROM product WHERE deleted_at IS NULL",
    "CREATE VIRTUAL TABLE product_fts USING fts5(search_name, search_initials, search_text, "
    "content='product_live_text', content_rowid='id', tokenize='trigram case_sensitive 1', columnsize=0)",
    # Only single tokens are ever asked of the gram table: no positions (smaller, faster to count).
    "CREATE VIRTUAL TABLE product_gram_fts USING fts5(search_grams, content='product_live_text', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 0', detail='none', columnsize=0)",
    # A row is in the FTS tables exactly while it is live: 'delete' only what was indexed.
    """CREATE TRIGGER product_live_text_ai AFTER INSERT ON product WHEN new.deleted_at IS NULL BEGIN
      INSERT INTO product_fts(rowid, search_name, search_initials, search_text)
        VALUES (new.id, new.search_name, new.search_initials, new.search_text);
      INSERT INTO product_gram_fts(rowid, search_grams) VALUES (new.id, new.search_grams);
    END""",
    """CREATE TRIGGER product_live_text_ad AFTER DELETE ON product WHEN old.deleted_at IS NULL BEGIN
      INSERT INTO product_fts(product_fts, rowid, search_name, search_initials, search_text)
        VALUES ('delete', old.id, old.search_name, old.search_initials, old.search_text);
      INSERT INTO product_gram_fts(product_gram_fts, rowid, search_grams) VALUES ('delete', old.id, old.search_grams);
    END""",
    """CREATE TRIGGER product_live_text_au AFTER UPDATE OF search_name, search_initials, search_text, search_grams,
        deleted_at ON product BEGIN
      INSERT INTO product_fts(product_fts, rowid, search_name, search_initials, search_text)
        SELECT 'delete', old.id, old.search_name, old.search_initials, old.search_text WHERE old.deleted_at IS NULL;
      INSERT INTO product_gram_fts(product_gram_fts, rowid, search_grams)
        SELECT 'delete', old.id, old.search_grams WHERE old.deleted_at IS NULL;
      INSERT INTO product_fts(rowid, search_name, search_initials, search_text)
        SELECT new.id, new.search_name, new.search_initials, new.search_text WHERE new.deleted_at IS NULL;
      INSERT INTO product_gram_fts(rowid, search_grams) SELECT new.id, new.search_grams WHERE new.deleted_at IS NULL;
    END""",
]
SQLITE_OLD_TRIGGERS = ("product_live_text_ai", "product_live_text_ad", "product_live_text_au")


def _drop_sqlite_text_index() -> None:
    for trigger in SQLITE_OLD_TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    op.execute("DROP TABLE IF EXISTS product_fts")
    op.execute("DROP TABLE IF EXISTS product_gram_fts")
    op.execute("DROP VIEW IF EXISTS product_live_text")


def _recompute(dialect: str) -> Counter[str]:
    """Compute every product's search columns again (MariaDB: its tokens too); return the live names' terms."""
    bind = op.get_bind()
    product = sa.table("product", sa.column("id"), sa.column("name"), sa.column("description"),
                       sa.column("content"), sa.column("deleted_at"), sa.column("search_text"),
                       sa.column("search_name"), sa.column("search_initials"), sa.column("search_grams"))
    gram = sa.table("product_gram", sa.column("gram"), sa.column("product_id"))
    terms: Counter[str] = Counter()
    last = 0
    while True:
        rows = bind.execute(sa.select(product.c.id, product.c.name, product.c.description, product.c.content,
                                      product.c.deleted_at).where(product.c.id > last).order_by(product.c.id)
                            .limit(BATCH)).all()
        if not rows:
            return terms
        tokens: list[dict[str, Any]] = []
        for row in rows:
            fields = build_search_fields(row.name, row.description, row.content)
            bind.execute(sa.update(product).where(product.c.id == row.id).values(
                search_text=fields.search_text, search_name=fields.search_name,
                search_initials=fields.search_initials, search_grams=fields.gram_words(dialect)))
            if row.deleted_at is None:
                terms.update(vocabulary(row.name))
                if dialect in {"mysql", "mariadb"}:
                    tokens.extend({"gram": t, "product_id": row.id} for t in fields.tokens())
        if tokens:
            bind.execute(sa.insert(gram), tokens)
        last = rows[-1].id


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.add_column("product", sa.Column("search_name", exact_string(100), nullable=False, server_default=""))
    op.add_column("product", sa.Column("search_initials", exact_string(100), nullable=False, server_default=""))
    op.create_table("search_term", sa.Column("term", exact_string(20), primary_key=True),
                    sa.Column("product_count", sa.Integer, nullable=False))
    op.create_table("search_term_key", sa.Column("key", exact_string(80), primary_key=True),
                    sa.Column("term", exact_string(20), primary_key=True))
    op.create_table("search_synonym", sa.Column("term", exact_string(50), primary_key=True),
                    sa.Column("synonym", exact_string(50), primary_key=True))
    if dialect == "sqlite":
        _drop_sqlite_text_index()
    elif dialect in {"mysql", "mariadb"}:
        op.execute("DELETE FROM product_gram")
        op.execute("ALTER TABLE product_gram MODIFY gram VARCHAR(101) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin "
                   "NOT NULL")
    terms = _recompute(dialect)
    if terms:
        op.bulk_insert(sa.table("search_term", sa.column("term"), sa.column("product_count")),
                       [{"term": t, "product_count": n} for t, n in sorted(terms.items())])
        op.bulk_insert(sa.table("search_term_key", sa.column("key"), sa.column("term")),
                       [{"key": k, "term": t} for t in sorted(terms) for k in sorted(term_keys(t))])
    if dialect == "sqlite":
        for statement in SQLITE_TEXT_INDEX:
            op.execute(statement)
        op.execute("INSERT INTO product_fts(product_fts) VALUES ('rebuild')")
        op.execute("INSERT INTO product_gram_fts(product_gram_fts) VALUES ('rebuild')")
    elif dialect == "postgresql":
        op.execute("CREATE INDEX ix_product_search_name_trgm ON product USING gin (search_name gin_trgm_ops)")
        op.execute("CREATE INDEX ix_product_search_initials_trgm ON product USING gin (search_initials gin_trgm_ops)")


def _old_columns(name: str, description: str, content: str, dialect: str) -> tuple[str, str, list[str]]:
    """Return revision 0002's search_text, search_grams and grams (spaced text; `g` + hex words)."""
    from gluta_product.catalog.search import html_text, normalize

    search_text = "\n".join(normalize(part) for part in (name, description, html_text(content)))
    grams: set[str] = set()
    for segment in search_text.split("\n"):
        grams.update(c for c in segment if c != " ")
        grams.update(segment[i:i + 2] for i in range(len(segment) - 1) if " " not in segment[i:i + 2])
    words = "" if dialect in {"mysql", "mariadb"} else " ".join(sorted("g" + g.encode().hex() for g in grams))
    return search_text, words, sorted(grams)


def downgrade() -> None:
    """Drop what this revision added and compute revision 0002's columns and indexes again."""
    dialect = op.get_bind().dialect.name
    bind = op.get_bind()
    op.drop_table("search_synonym")
    op.drop_table("search_term_key")
    op.drop_table("search_term")
    if dialect == "sqlite":
        _drop_sqlite_text_index()
    elif dialect == "postgresql":
        op.execute("DROP INDEX ix_product_search_initials_trgm")
        op.execute("DROP INDEX ix_product_search_name_trgm")
    elif dialect in {"mysql", "mariadb"}:
        op.execute("DELETE FROM product_gram")
    op.drop_column("product", "search_initials")
    op.drop_column("product", "search_name")
    product = sa.table("product", sa.column("id"), sa.column("name"), sa.column("description"),
                       sa.column("content"), sa.column("deleted_at"), sa.column("search_text"),
                       sa.column("search_grams"))
    for row in bind.execute(sa.select(product.c.id, product.c.name, product.c.description, product.c.content,
                                      product.c.deleted_at)).all():
        search_text, words, grams = _old_columns(row.name, row.description, row.content, dialect)
        bind.execute(sa.update(product).where(product.c.id == row.id).values(search_text=search_text,
                                                                            search_grams=words))
        if dialect in {"mysql", "mariadb"} and row.deleted_at is None:
            bind.execute(sa.insert(sa.table("product_gram", sa.column("gram"), sa.column("product_id"))),
                         [{"gram": g, "product_id": row.id} for g in grams])
    if dialect in {"mysql", "mariadb"}:
        op.execute("ALTER TABLE product_gram MODIFY gram VARCHAR(2) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin "
                   "NOT NULL")
    if dialect == "sqlite":
        op.execute("CREATE VIEW product_live_text AS SELECT id, search_text, search_grams FROM product "
                   "WHERE deleted_at IS NULL")
        op.execute("CREATE VIRTUAL TABLE product_fts USING fts5(search_text, content='product_live_text', "
                   "content_rowid='id', tokenize='trigram case_sensitive 1')")
        op.execute("CREATE VIRTUAL TABLE product_gram_fts USING fts5(search_grams, content='product_live_text', "
                   "content_rowid='id', tokenize='unicode61 remove_diacritics 0')")
        for statement in SQLITE_LIVE_TRIGGERS_0002:
            op.execute(statement)
        op.execute("INSERT INTO product_fts(product_fts) VALUES ('rebuild')")
        op.execute("INSERT INTO product_gram_fts(product_gram_fts) VALUES ('rebuild')")


SQLITE_LIVE_TRIGGERS_0002 = [
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
]
