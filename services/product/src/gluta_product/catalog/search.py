"""Search text, n-grams and the keyword condition each database's index serves (see the service README).

Matching is substring containment on a normalised text, identical on every dialect:

* Product text is normalised once in Python (NFKC, lower case, whitespace collapsed, HTML reduced to its
  text) into `product.search_text`: name, description and content joined by a newline a keyword can
  never contain, so no match spans two fields. The keyword goes through the same function.
* SQLite: keywords of 3+ characters use an FTS5 `trigram` table over `search_text` (a phrase query is a
  substring query); 1-2 characters, which trigrams cannot serve, use an FTS5 `unicode61` table over
  `search_grams`, where every unigram and bigram of the text is a hex-encoded word. Both hold live
  products only, so a keyword's count is its posting list's length.
* PostgreSQL: 3+ characters use `LIKE '%kw%'` served by a `pg_trgm` GIN index on `search_text`;
  1-2 characters a GIN index on `to_tsvector('simple', search_grams)`.
* MariaDB has no ngram parser, and InnoDB FULLTEXT is far too slow for frequent words (~80 us per
  matching row), so it uses a gram table of its own: `product_gram(gram, product_id)`, every unigram
  and bigram of the text of every live product, primary key (gram, product_id). 1-2 characters: one
  index range; 3+: the products having the rarest of (up to 6 of) the keyword's bigrams (the service
  counts and caches them), rechecked with INSTR on those only.
For 1-2 characters "the text has this gram" is exactly "the text contains it"; never a LIKE scan.
"""

from __future__ import annotations

import re
import unicodedata
from html import unescape
from html.parser import HTMLParser
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, TextualSelect, and_, column, func, literal_column, select, text
from sqlalchemy.ext.compiler import compiles

from gluta_product.catalog.models import Product, ProductGram

SEPARATOR = "\n"
NARROW_INDEX = "ix_product_search_cover"  # keyed by id, with the filter and sort columns (migration 0002)
MAX_KEYWORD = 100
_SPACES = re.compile(r"\s+")
_MYSQL = {"mysql", "mariadb"}


@compiles(Table, "sqlite")
def _sqlite_table(table: Table, compiler: Any, **kw: Any) -> str:
    """Render a statement's SQLite `INDEXED BY` hint (`with_hint(..., "sqlite")`), which SQLAlchemy drops.

    SQLite's planner otherwise decides from ANALYZE statistics a service database may never have.
    """
    rendered = compiler.visit_table(table, **kw)
    hint = (kw.get("fromhints") or {}).get(table) if kw.get("asfrom") else None
    if hint and hint.startswith("INDEXED BY ") and not rendered.endswith(hint):
        rendered += " " + hint
    return str(rendered)


def normalize(value: str) -> str:
    """Fold text the way both the index and the keyword see it."""
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", value).lower()).strip()


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_text(html: str) -> str:
    """Return the visible text of (already sanitised) HTML; tags become spaces."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    return unescape("".join(parser.parts))


def build_search_text(name: str, description: str, content_html: str) -> str:
    """Return the normalised text a product is searched by."""
    return SEPARATOR.join(normalize(part) for part in (name, description, html_text(content_html)))


def grams_of(search_text: str) -> set[str]:
    """Return every 1- and 2-character substring without a space (a stripped keyword has none at its ends)."""
    grams: set[str] = set()
    for segment in search_text.split(SEPARATOR):
        grams.update(c for c in segment if c != " ")
        grams.update(segment[i:i + 2] for i in range(len(segment) - 1) if " " not in segment[i:i + 2])
    return grams


def token(gram: str) -> str:
    """Encode one gram as a plain ASCII word every word index keeps (>= 3 characters, no stopword)."""
    return "g" + gram.encode("utf-8").hex()


def build_search_grams(search_text: str, dialect: str) -> str:
    """Return the space-separated gram words of a search text (MariaDB keeps its grams in a table instead)."""
    if dialect in _MYSQL:
        return ""
    return " ".join(sorted(token(gram) for gram in grams_of(search_text)))


def normalize_keyword(keyword: str | None) -> str:
    """Return the keyword as the index sees it ('' when there is nothing to search)."""
    if not keyword:
        return ""
    return normalize(keyword.replace(SEPARATOR, " "))[:MAX_KEYWORD].strip()


def _spread(items: list[str], limit: int) -> list[str]:
    if len(items) <= limit:
        return items
    step = (len(items) - 1) / (limit - 1)
    return [items[round(i * step)] for i in range(limit)]


def _sqlite_fts(keyword: str) -> tuple[str, str, str]:
    """Return the FTS5 table, the bind name and the MATCH query serving a keyword on SQLite."""
    if len(keyword) <= 2:
        return "product_gram_fts", "gram_q", token(keyword)
    return "product_fts", "text_q", '"' + keyword.replace('"', '""') + '"'


def sqlite_matches(keyword: str) -> TextualSelect:
    """Return the ids SQLite's FTS5 tables give for a keyword (trigram phrase, or a gram word for 1-2 chars)."""
    table, name, query = _sqlite_fts(keyword)
    return text(f"SELECT rowid FROM {table} WHERE {table} MATCH :{name}").bindparams(
        **{name: query}).columns(column("rowid"))


def sqlite_probe(keyword: str) -> ColumnElement[bool]:
    """Return "this product's text contains the 1-2 character keyword" as one FTS5 lookup by rowid.

    ~20 us a row for a gram word, so only for walks of a few dozen rows (a very frequent keyword): then it
    beats materialising every match first. A trigram phrase probe costs ~2 ms a row: never used.
    """
    table, name, query = _sqlite_fts(keyword)
    return text(f"EXISTS (SELECT 1 FROM {table} WHERE {table} MATCH :{name} AND {table}.rowid = product.id)"
                ).bindparams(**{name: query})


def match_count(dialect: str, keyword: str) -> TextualSelect | Select[Any] | None:
    """Return a statement counting the live products matching a keyword from the text index alone, if it can.

    The text indexes hold live products only (SQLite's FTS5 tables through their triggers, MariaDB's
    gram rows are removed with the product), so with no other filter the count is the posting list's
    length: no product row is read. 3+ characters on MariaDB need the substring recheck: None.
    """
    if dialect == "sqlite":
        table, name, query = _sqlite_fts(keyword)
        return text(f"SELECT count(*) FROM {table} WHERE {table} MATCH :{name}").bindparams(
            **{name: query}).columns(column("n"))
    if dialect in _MYSQL and len(keyword) <= 2:
        return select(func.count()).select_from(ProductGram).where(ProductGram.gram == keyword)
    return None


def keyword_condition(dialect: str, keyword: str, *, many: bool = False, gram: str | None = None
                      ) -> ColumnElement[bool]:
    """Return the WHERE condition that finds products whose text contains `keyword` (normalised).

    With `many` (matches are dense enough that the page is reached after a few sort-index rows) the id is
    wrapped (`id + 0`), so SQLite and MariaDB do not look every match up by key and sort them all, but
    walk the sort order's index and keep the rows whose id is in the (materialised) list of matches.
    A per-row probe of the FTS5 table by rowid was measured and is far slower: ~20 us for a gram word,
    ~2 ms for a trigram phrase. `gram`: MariaDB, 3+ characters, see `mysql_condition`.
    """
    target = (Product.id + 0) if many else Product.id
    if dialect == "sqlite":
        return target.in_(sqlite_matches(keyword))
    if dialect in _MYSQL:
        return mysql_condition(keyword, target, gram)
    if len(keyword) <= 2:
        word = token(keyword)
        if dialect == "postgresql":
            return text("to_tsvector('simple'::regconfig, product.search_grams) @@ "
                        "to_tsquery('simple'::regconfig, :gram_q)").bindparams(gram_q=word)
    elif dialect == "postgresql":
        escaped = keyword.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return Product.search_text.like(f"%{escaped}%", escape="\\")
    raise ValueError(f"no text index for dialect {dialect!r}")


def keyword_grams(keyword: str) -> list[str]:
    """Return the grams MariaDB looks a 3+ character keyword's candidates up by (up to 6 of its bigrams)."""
    bigrams = sorted({keyword[i:i + 2] for i in range(len(keyword) - 1)} & grams_of(keyword))
    return _spread(bigrams, 6) if bigrams else sorted(grams_of(keyword))


def mysql_condition(keyword: str, target: ColumnElement[int], gram: str | None = None) -> ColumnElement[bool]:
    """Return the MariaDB condition: products having each of the keyword's grams, rechecked when longer.

    One `IN` per gram lets the optimizer start from the rarest gram (its index range estimate is exact)
    and probe the others by primary key; INSTR only rechecks rows every gram already matched. Given `gram`
    (one of `keyword_grams`, the rarest the caller knows of), only that gram's products are rechecked: the
    optimizer places the other grams' probes after the row's INSTR, where they cannot filter anything.
    Any of the keyword's grams gives the same rows (a text containing the keyword has every one of them).
    """
    if len(keyword) <= 2:
        return target.in_(select(ProductGram.product_id).where(ProductGram.gram == keyword))
    grams = [gram] if gram else keyword_grams(keyword)
    return and_(*(target.in_(select(ProductGram.product_id).where(ProductGram.gram == g)) for g in grams),
                func.instr(Product.search_text, keyword) > literal_column("0"))
