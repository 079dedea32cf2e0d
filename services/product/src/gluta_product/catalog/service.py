"""Catalog decisions: products, search, types and styles. Knows nothing of HTTP."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    case,
    column,
    delete,
    exists,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_contracts import ProductChanged
from gluta_kit.db import insert_ignore
from gluta_kit.models import utcnow
from gluta_kit.uow import UnitOfWork
from gluta_product.banner.models import Banner
from gluta_product.catalog.exceptions import (
    ProductNotFound,
    StyleNotFound,
    TypeExists,
    TypeInUse,
    TypeNotFound,
)
from gluta_product.catalog.models import (
    Product,
    ProductCounter,
    ProductGram,
    ProductImage,
    ProductStyle,
    ProductType,
    SearchTerm,
    SearchTermKey,
)
from gluta_product.catalog.schemas import (
    ImageRef,
    ProductDetail,
    ProductSummary,
    ProductTypeRead,
    ProductWrite,
    SearchPage,
    SortOrder,
    StyleCount,
    StyleProducts,
    StyleRegistered,
    Suggestion,
)
from gluta_product.catalog.search import (
    MAX_KEYWORD,
    MAX_TERM,
    NARROW_INDEX,
    Conditions,
    Contains,
    Minus,
    SearchFields,
    Word,
    build_search_fields,
    choseong_word,
    compact,
    compile_sqlite,
    fts_match,
    has_control_characters,
    initials,
    jamo,
    matches,
    name_set,
    normalize,
    normalize_keyword,
    parse_words,
    present,
    relevance_levels,
    sqlite_probe,
    synonym_keys,
    term_keys,
    token_groups,
    token_union,
    tolerates_typo,
    vocabulary,
)
from gluta_product.image.exceptions import ImageNotFound
from gluta_product.image.models import Image
from gluta_product.inquiry.models import Inquiry
from gluta_product.like.models import ProductLike
from gluta_product.schemas import image_url
from gluta_product.synonym.service import synonyms_for

SUMMARY_COLUMNS = (Product.id, Product.name, Product.description, Product.product_type_id,
                   Product.thumbnail_image_id, Product.unit_price, Product.quantity, Product.like_count,
                   Product.units_sold, Product.created_at)


def summary_select() -> Select[Any]:
    """Select what a summary shows, its type name and inquiry count included (one round trip)."""
    inquiries = (select(func.count()).where(Inquiry.product_id == Product.id).correlate(Product)
                 .scalar_subquery().label("inquiry_count"))
    return (select(*SUMMARY_COLUMNS, ProductType.type.label("type_name"), inquiries)
            .outerjoin(ProductType, ProductType.id == Product.product_type_id))


ORDERS: dict[SortOrder, tuple[Any, ...]] = {
    SortOrder.newest: (Product.created_at.desc(), Product.id.desc()),
    SortOrder.price_asc: (Product.unit_price.asc(), Product.id.desc()),
    SortOrder.price_desc: (Product.unit_price.desc(), Product.id.desc()),
    SortOrder.name: (Product.sort_name.asc(), Product.id.asc()),
    SortOrder.popular: (Product.units_sold.desc(), Product.like_count.desc(), Product.id.desc()),
}
POPULAR = ORDERS[SortOrder.popular]


@dataclass(frozen=True)
class SearchQuery:
    """What a shopper searches for."""

    keyword: str | None = None
    type_id: int | None = None
    style: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    sort: SortOrder | None = None  # relevance when there is a keyword, else newest
    page: int = 1
    size: int = 20
    split: bool = False  # the keyword's compound words were split already (see search_products)


def sanitize_html(content: str) -> str:
    """Keep safe markup only: no script, no event handler, no javascript: URL survives."""
    import nh3  # only once a product is written (idle memory)

    return nh3.clean(content)


def product_changed(product: Product) -> ProductChanged:
    """Build the event other services keep their product snapshot from."""
    return ProductChanged(product_id=product.id, name=product.name, unit_price=product.unit_price,
                          thumbnail_url=image_url(product.thumbnail_image_id), on_sale=product.deleted_at is None,
                          quantity=product.quantity)


# --- reading ---------------------------------------------------------------------------------------
async def summaries(session: AsyncSession, rows: Sequence[Any], viewer_id: int | None) -> list[ProductSummary]:
    """Turn `summary_select()` rows into summaries, loading styles and the viewer's likes in batches."""
    if not rows:
        return []
    ids = [row.id for row in rows]
    styles: dict[int, list[str]] = defaultdict(list)
    for product_id, style in (await session.execute(
            select(ProductStyle.product_id, ProductStyle.style).where(ProductStyle.product_id.in_(ids))
            .order_by(ProductStyle.product_id, ProductStyle.style))):
        styles[product_id].append(style)
    liked: set[int] = set()
    if viewer_id is not None:
        liked = set((await session.scalars(select(ProductLike.product_id).where(
            ProductLike.member_id == viewer_id, ProductLike.product_id.in_(ids)))).all())
    return [
        ProductSummary(
            product_id=row.id, name=row.name, description=row.description,
            product_type=(ProductTypeRead(product_type_id=row.product_type_id, type=row.type_name)
                          if row.type_name is not None else None),
            product_styles=styles.get(row.id, []), thumbnail_url=image_url(row.thumbnail_image_id),
            unit_price=row.unit_price, quantity=row.quantity, sold_out=row.quantity <= 0,
            like_count=row.like_count, liked=row.id in liked, inquiry_count=int(row.inquiry_count or 0),
            created_at=row.created_at,
        )
        for row in rows
    ]


# Walking a sort index and checking each row against the list of matches beats looking every match up
# and sorting them when the page is reached within about as many index rows as there are matches
# (estimated from the share of live products that match: matches spread evenly over the sort order).
MANY_MATCHES = 1000  # below this many matches, looking them all up is cheap anyway
WALK_RATIO = 1.0
PROBE_ROWS = 50  # SQLite, a gram-table set, no style: a walk this short probes the FTS table row by row
MYSQL = {"mysql", "mariadb"}
WALKERS = {"sqlite", *MYSQL}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
TYPOS_PER_WORD = 5


@dataclass(frozen=True)
class TextSet:
    """The products a set expression of the text index finds, on one dialect (see catalog/search.py)."""

    dialect: str
    expression: Any

    def ids(self) -> Any:
        """Return a select of the matching ids (SQLite: the compound select over the FTS5 tables)."""
        sql, params = compile_sqlite(self.expression)
        return text(sql).bindparams(**params).columns(column("rowid"))

    def condition(self, *, many: bool = False) -> ColumnElement[bool]:
        """Return the WHERE condition; with `many` the id is wrapped (`id + 0`) so a sort index is walked."""
        target = (Product.id + 0) if many else Product.id
        if self.dialect == "sqlite":
            return target.in_(self.ids())
        return Conditions(self.dialect, target).of(self.expression)

    def index_count(self, *, cheap: bool = False) -> Any | None:
        """Return a statement counting the set from the text index (no product row read but for a row check: a
        19+ character word, a mixed 초성 word), if it can; with `cheap` only when that is one lookup (one token,
        a union of tokens, or one join of token ranges).

        The text indexes hold live products only (SQLite's FTS5 tables through their triggers, MariaDB's
        token rows are removed with the product), so with no other filter the count is the posting lists'.
        """
        if self.dialect == "sqlite":
            sql, params = compile_sqlite(self.expression)
            return text(f"SELECT count(*) FROM ({sql})").bindparams(**params).columns(column("n"))
        if self.dialect not in MYSQL:
            return None
        grams = self.mysql_grams()
        if grams is not None and len(grams) == 1:
            return select(func.count()).select_from(ProductGram).where(ProductGram.gram == grams[0])
        if cheap and grams is None and token_groups(self.expression) is None:
            return None
        return select(func.count()).select_from(Conditions(self.dialect).mysql_ids(self.expression).subquery("ids"))

    def mysql_grams(self) -> list[str] | None:
        """Return the MariaDB tokens whose products are exactly this set (one token, or a union of them)."""
        if self.dialect not in MYSQL:
            return None
        return token_union(self.expression)


def _matching(columns: Sequence[Any], dialect: str, matched: TextSet | None, style: str, filters: list[Any],
              *, many: bool = False, extra: Sequence[Any] = ()) -> Select[Any]:
    """Select `columns` of the live products in a set that pass the filters and style.

    On MariaDB the set's ids are a derived table joined to the product rows (its row checks inside it): with
    `id IN (set)` its optimizer often walks a whole index of `product` and looks each row up in the set
    instead (3-5x slower for unions and tiers). Not when walking a sort index (`many`): there each walked
    row is looked up in the (materialised) set.
    """
    if dialect in MYSQL and matched is not None and not many:
        ids = Conditions(dialect).mysql_ids(matched.expression).subquery("m")
        return (select(*columns).select_from(ids).join(Product, Product.id == ids.c.id)
                .where(*filters, *extra, *_text_conditions(dialect, None, style)))
    return select(*columns).where(*filters, *extra, *_text_conditions(dialect, matched, style, many=many))


def _text_conditions(dialect: str, matched: TextSet | None, style: str, *, many: bool = False) -> list[Any]:
    """Return the text and style conditions (on SQLite one list of ids: the FTS matches probe the style index)."""
    target = (Product.id + 0) if many else Product.id  # see TextSet.condition for `many`
    styled = select(ProductStyle.product_id).where(ProductStyle.style == style)
    if style and matched is not None and dialect == "sqlite":
        return [target.in_(styled.where(ProductStyle.product_id.in_(matched.ids())))]
    conditions = [target.in_(styled)] if style else []
    if matched is not None:
        conditions.append(matched.condition(many=many))
    return conditions


def _narrow(statement: Select[Any], dialect: str, matched: TextSet | None, style: str,
            sort: SortOrder | None = None) -> Select[Any]:
    """Check a list of matching ids against the filters (and sort them) in the narrow `ix_product_search_cover`.

    Named in the statement, so the plan does not hang on statistics: SQLite picks the rowid without ANALYZE
    data, MariaDB's optimizer reads the wide clustered rows. Only when the statement has a list of ids (a
    keyword or a style, not walking). On MariaDB not for the name sort (`sort_name` is not in its index).
    """
    if matched is None and not style:
        return statement
    if dialect == "sqlite":
        return statement.with_hint(Product, f"INDEXED BY {NARROW_INDEX}", "sqlite")
    if dialect not in MYSQL or sort is SortOrder.name:
        return statement
    hint = f"FORCE INDEX ({NARROW_INDEX})"
    return statement.with_hint(Product, hint, "mysql").with_hint(Product, hint, "mariadb")


async def _walk(session: AsyncSession, dialect: str, total: int, rows_needed: int) -> float | None:
    """Return the sort-index rows a walk is expected to read to reach the page, or None: do not walk.

    Walk when that is at most WALK_RATIO * total rows (matches assumed spread evenly over the sort order).
    """
    if dialect not in WALKERS or total <= MANY_MATCHES:
        return None
    rows = rows_needed * await _live(session) / total
    return rows if rows <= WALK_RATIO * total else None


async def search_products(session: AsyncSession, dialect: str, query: SearchQuery,
                          viewer_id: int | None) -> SearchPage:
    """Find live products by keyword and filters, one page, best match first unless another sort is asked.

    Every word of the keyword must match (any order, spacing-free), as itself, a synonym, its 초성 or with
    one typo (see `plan_words`); `relevance` pages through the nested levels of `relevance_levels` in turn,
    most popular first within each. The total comes from the text index alone when only a keyword is given;
    the page query selects ids only, then the page's summaries are read by id.
    """
    filters: list[Any] = [Product.deleted_at.is_(None)]
    keyword = normalize_keyword(query.keyword)
    style = query.style.strip().lstrip("#").strip() if query.style else ""
    if (not keyword and query.keyword and query.keyword.strip()) or has_control_characters(style):
        # Something was typed that no product can hold (control characters only, or in a style).
        return SearchPage(items=[], page=query.page, size=query.size, total=0, did_you_mean=None)
    if query.type_id is not None:
        filters.append(Product.product_type_id == query.type_id)
    if query.min_price is not None:
        filters.append(Product.unit_price >= query.min_price)
    if query.max_price is not None:
        filters.append(Product.unit_price <= query.max_price)
    offset = (query.page - 1) * query.size
    sort = query.sort or (SortOrder.relevance if keyword else SortOrder.newest)
    words = await plan_words(session, keyword) if keyword else []
    if keyword and sort is SortOrder.relevance:
        levels = [TextSet(dialect, level)
                  for level in relevance_levels(words, keyword.replace(" ", ""))]
        ids, total = await _relevance_page(session, dialect, levels, style, filters, offset, query.size)
    else:
        if sort is SortOrder.relevance:
            sort = SortOrder.newest  # nothing to be relevant to
        matched = TextSet(dialect, matches(words)) if keyword else None
        ids, total = await _sorted_page(session, dialect, matched, style, filters, sort, offset, query.size)
    if keyword and total == 0 and not query.split:
        # A spacing-free word that finds nothing may be a compound: split it in two where its first or last
        # part is a word of product names ("와이드팬츠" → "와이드 팬츠", in "와이드 데님 팬츠"), once.
        split = await _decompound(session, dialect, words)
        if split != keyword:
            return await search_products(session, dialect, replace(query, keyword=split, split=True), viewer_id)
    items: list[ProductSummary] = []
    if ids:
        by_id = {row.id: row for row in (await session.execute(summary_select().where(Product.id.in_(ids))))}
        items = await summaries(session, [by_id[i] for i in ids if i in by_id], viewer_id)
    suggestion = await did_you_mean(session, dialect, words) if keyword and total == 0 else None
    return SearchPage(items=items, page=query.page, size=query.size, total=total, did_you_mean=suggestion)


async def _sorted_page(session: AsyncSession, dialect: str, matched: TextSet | None, style: str,
                       filters: list[Any], sort: SortOrder, offset: int, size: int) -> tuple[list[int], int]:
    """Return one page of ids of a set in a sort order, and the set's total."""
    if matched is not None and (style or len(filters) > 1):
        if dialect in WALKERS:
            return await _counted_page(session, dialect, matched, style, filters, sort, offset, size)
    total = await _count(session, dialect, matched, style, filters)
    ids = await _ids(session, dialect, matched, style, filters, sort, offset, size, total) if offset < total else []
    return ids, total


async def _ids(session: AsyncSession, dialect: str, matched: TextSet | None, style: str, filters: list[Any],
               sort: SortOrder, offset: int, size: int, total: int) -> list[int]:
    """Return a page of ids of a set of `total` products: listed and sorted, or walked along the sort index."""
    walk = await _walk(session, dialect, total, offset + size) if matched is not None or style else None
    probe = sqlite_probe(matched.expression) if matched is not None and dialect == "sqlite" else None
    if walk is not None and walk <= PROBE_ROWS and probe is not None and not style:
        paging = select(Product.id).where(*filters, probe)
    else:
        paging = _matching([Product.id], dialect, matched, style, filters, many=walk is not None)
    if walk is None:
        paging = _narrow(paging, dialect, matched, style, sort)
    return list((await session.scalars(paging.order_by(*ORDERS[sort]).limit(size).offset(offset))).all())


async def _relevance_page(session: AsyncSession, dialect: str, levels: list[TextSet], style: str,
                          filters: list[Any], offset: int, size: int) -> tuple[list[int], int]:
    """Return a page of the relevance order and the total: the levels' tiers in turn, most popular first.

    Level k holds level k-1 (see `relevance_levels`), so tier k is level k less level k-1. Only the total
    (the last level) is always counted; a tier is counted when that is cheap (one FTS5 MATCH, one MariaDB
    token) or when the page may start past it; a tier the page reaches is read until the page is full, and
    one that ran out tells its size by that. On MariaDB with filters, see `_ranked_page`.
    """
    if dialect in MYSQL and (style or len(filters) > 1):
        return await _ranked_page(session, dialect, levels, style, filters, offset, size)
    total = await _count(session, dialect, levels[-1], style, filters)
    cheap = [await _cheap_count(session, level, style, filters) for level in levels[:-1]] + [total]
    ids: list[int] = []
    before = 0  # results in the tiers before this one
    for k, level in enumerate(levels):
        if len(ids) >= size or before >= total:
            break
        tier = level if k == 0 else TextSet(dialect, Minus(level.expression, levels[k - 1].expression))
        local = offset + len(ids) - before  # where the page goes on, within this tier
        known = cheap[k] is not None and (k == 0 or cheap[k - 1] is not None)
        tier_size: int | None = cheap[k] - (cheap[k - 1] if k else 0) if known else None  # type: ignore[operator]
        if tier_size is None and local > 0:
            tier_size = await _count(session, dialect, tier, style, filters)
        if tier_size is not None and local >= tier_size:
            before += tier_size
            continue
        wanted = size - len(ids)
        found = await _ids(session, dialect, tier, style, filters, SortOrder.popular, local, wanted,
                           tier_size if tier_size is not None else 0)
        ids += found
        if len(found) < wanted:  # the tier ran out
            before += local + len(found)
    return ids, total


async def _ranked_page(session: AsyncSession, dialect: str, levels: list[TextSet], style: str,
                       filters: list[Any], offset: int, size: int) -> tuple[list[int], int]:
    """Return a relevance page and its total in one statement (MariaDB, with a style, type or price filter).

    Counting the total and listing a tier each join every match to its product row for the filters (~2 us a
    match); here that is done once: the matches that pass the filters get their tier from token probes (the
    better levels, see `present`) and are sorted by it and popularity, the page carrying the count.
    """
    # a column, not an ORDER BY expression: MariaDB would probe again at every comparison of the sort
    tier = case(*((present(Product.id, level.expression), k) for k, level in enumerate(levels[:-1])),
                else_=len(levels) - 1).label("tier")
    statement = _matching([Product.id, tier, func.count().over().label("total")], dialect, levels[-1], style,
                          filters)
    statement = _narrow(statement, dialect, levels[-1], style)
    rows = (await session.execute(statement.order_by(tier, *POPULAR).limit(size).offset(offset))).all()
    if rows:
        return [row.id for row in rows], int(rows[0].total)
    return [], (await _count(session, dialect, levels[-1], style, filters) if offset else 0)


async def _cheap_count(session: AsyncSession, matched: TextSet, style: str, filters: list[Any]) -> int | None:
    """Return the set's size when the text index alone tells it in one lookup (no filters), else None."""
    if style or len(filters) > 1:
        return None
    if matched.dialect == "sqlite" and fts_match(matched.expression) is None:
        return None
    if matched.dialect not in {"sqlite", *MYSQL}:
        return None
    statement = matched.index_count(cheap=True)
    return int(await session.scalar(statement) or 0) if statement is not None else None


async def _counted_page(session: AsyncSession, dialect: str, matched: TextSet, style: str, filters: list[Any],
                        sort: SortOrder, offset: int, size: int) -> tuple[list[int], int]:
    """Return a search's page of ids and its total from one statement (SQLite, MariaDB).

    When the total cannot come from the text index alone (a style, type or price filter), counting reads
    every candidate's entry in the narrow index for the filters, and so would listing it or walking a sort
    index after it; on SQLite the compound select of matches would be built twice. Here the page carries the count
    (`COUNT(*) OVER ()`, computed before the LIMIT): one pass instead of two; the sort of the matches costs
    little beside it. A page past the end has no row to carry the count; then it is counted on its own.
    """
    statement = _matching([Product.id, func.count().over().label("total")], dialect, matched, style, filters)
    statement = _narrow(statement, dialect, matched, style, sort)
    rows = (await session.execute(statement.order_by(*ORDERS[sort]).limit(size).offset(offset))).all()
    if rows:
        return [row.id for row in rows], int(rows[0].total)
    return [], (await _count(session, dialect, matched, style, filters) if offset else 0)


LIVE = "live"  # product_counter: live products


async def count_live(session: AsyncSession, change: int) -> None:
    """Add `change` to the live product count, in the caller's transaction (create +1, delete -1)."""
    await session.execute(update(ProductCounter).where(ProductCounter.name == LIVE)
                          .values(value=ProductCounter.value + change))


async def _live(session: AsyncSession) -> int:
    return int(await session.scalar(select(ProductCounter.value).where(ProductCounter.name == LIVE)) or 0)


async def _count(session: AsyncSession, dialect: str, matched: TextSet | None, style: str,
                 filters: list[Any]) -> int:
    """Return the exact number of live products matching (from the counter or the text index when it can)."""
    if matched is None and not style and len(filters) == 1:
        return await _live(session)
    counting_statement = matched.index_count() if matched is not None and not style and len(filters) == 1 else None
    if counting_statement is not None:
        return int(await session.scalar(counting_statement) or 0)
    # An always-true range on an indexed column lets SQLite count through a (partial) index.
    always = [Product.created_at > EPOCH] if dialect == "sqlite" and matched is None and not style else []
    counting = _matching([func.count().label("n")], dialect, matched, style, filters, extra=always)
    if dialect not in MYSQL or matched is None:
        counting = counting.select_from(Product)
    return int(await session.scalar(_narrow(counting, dialect, matched, style)) or 0)


# --- query words: synonyms, typos, did-you-mean, autocomplete --------------------------------------
async def plan_words(session: AsyncSession, keyword: str) -> list[Word]:
    """Return the words of a keyword with their synonyms and, for 3+ syllable words, their one-typo terms."""
    synonyms = await synonyms_for(session, synonym_keys(keyword))
    words = parse_words(keyword, synonyms)
    fuzzy = [w for w in words if w.exact and tolerates_typo(w.text)]
    if not fuzzy:
        return words
    near = await _near_terms(session, [w.text for w in fuzzy])
    return [replace(w, typos=tuple(t for t in near.get(w.text, []) if t not in w.exact)[:TYPOS_PER_WORD])
            if w in fuzzy else w for w in words]


async def _decompound(session: AsyncSession, dialect: str, words: list[Word]) -> str:
    """Return the keyword with each compound word that finds nothing split in two (see `plan_words`)."""
    out: list[str] = []
    for word in words:
        if len(word.text) < 3 or not word.exact or len(word.exact) > 1 or choseong_word(word.text):
            out.append(word.text)
            continue
        found = await _count(session, dialect, TextSet(dialect, Contains("text", word.text)), "",
                             [Product.deleted_at.is_(None)])
        parts = [(word.text[:i], word.text[i:]) for i in range(1, len(word.text))] if not found else []
        known = set((await session.scalars(select(SearchTerm.term).where(
            SearchTerm.term.in_({p for pair in parts for p in pair}), SearchTerm.product_count > 0))).all()) \
            if parts else set()

        def score(pair: tuple[str, str], known: set[str] = known) -> tuple[int, int]:
            return (pair[0] in known) + (pair[1] in known), max((len(x) for x in pair if x in known), default=0)

        best = max(parts, key=score, default=None) if known else None
        out.extend(best if best and (best[0] in known or best[1] in known) else [word.text])
    return " ".join(out)


async def _near_terms(session: AsyncSession, words: list[str]) -> dict[str, list[str]]:
    """Return, per word, the live vocabulary terms one jamo edit away (itself excluded), most used first."""
    from rapidfuzz.distance import Levenshtein  # only once a long word is searched (idle memory)

    keys = {word: term_keys(word) for word in words if len(word) <= MAX_TERM}
    wanted = sorted(set().union(*keys.values())) if keys else []
    if not wanted:
        return {}
    rows = (await session.execute(
        select(SearchTermKey.key, SearchTerm.term, SearchTerm.product_count)
        .join(SearchTerm, SearchTerm.term == SearchTermKey.term)
        .where(SearchTermKey.key.in_(wanted), SearchTerm.product_count > 0))).all()
    found: dict[str, list[str]] = {}
    for word, word_keys in keys.items():
        letters = jamo(word)
        candidates = {(row.term, row.product_count) for row in rows if row.key in word_keys and row.term != word}
        near = [(count, term) for term, count in candidates
                if Levenshtein.distance(letters, jamo(term), score_cutoff=1) <= 1]
        found[word] = [term for _, term in sorted(near, key=lambda c: (-c[0], c[1]))]
    return found


async def did_you_mean(session: AsyncSession, dialect: str, words: list[Word]) -> str | None:
    """Return the closest query that finds something, when a query found nothing (None if none is near).

    Each word that finds nothing on its own is replaced by the most used name word one jamo edit away (any
    length: "니투" → "니트"); if that finds products, it is the suggestion. Otherwise the most popular
    product name that has the longest word that does find something.
    """
    alone = {w.text: await _count(session, dialect, TextSet(dialect, matches([w])), "",
                                  [Product.deleted_at.is_(None)]) for w in words}
    lost = [w.text for w in words if not alone[w.text] and not choseong_word(w.text)]
    near = await _near_terms(session, lost) if lost else {}
    corrected = [near[w.text][0] if near.get(w.text) else w.text for w in words]
    if [w.text for w in words] != corrected:
        fixed = await plan_words(session, " ".join(corrected))
        if await _count(session, dialect, TextSet(dialect, matches(fixed)), "",
                        [Product.deleted_at.is_(None)]):
            return " ".join(corrected)
    found = sorted((w for w in words if alone[w.text]), key=lambda w: -len(w.text))
    if not found:
        return None
    matched = TextSet(dialect, matches([found[0]]))
    ids = await _ids(session, dialect, matched, "", [Product.deleted_at.is_(None)], SortOrder.popular, 0, 1,
                     alone[found[0].text])
    return await session.scalar(select(Product.name).where(Product.id == ids[0])) if ids else None


AUTOCOMPLETE_CANDIDATES = 50


async def autocomplete(session: AsyncSession, dialect: str, prefix: str, limit: int = 10) -> list[Suggestion]:
    """Return up to `limit` product names for what a shopper has typed so far: names that start with it
    first, then names with a word that starts with it, then names containing it; most popular first within.

    Spacing-free ("니트가" finds "울 니트 가디건") and 초성 ("ㄴㅌㄱ") alike. The candidates are the
    AUTOCOMPLETE_CANDIDATES most popular names containing the prefix (one indexed set, walked or listed like
    a search page); the order above is made among those.
    """
    typed = compact(prefix)[:MAX_KEYWORD]
    if not typed:
        return []
    word = parse_words(typed, {})[0]
    matched = TextSet(dialect, name_set(word))
    live = [Product.deleted_at.is_(None)]
    total = await _count(session, dialect, matched, "", live)
    if not total:
        return []
    ids = await _ids(session, dialect, matched, "", live, SortOrder.popular, 0, AUTOCOMPLETE_CANDIDATES, total)
    rows = {row.id: row for row in await session.execute(
        select(Product.id, Product.name, Product.search_name, Product.search_initials).where(Product.id.in_(ids)))}
    looked_for = word.initials if word.initials else typed
    seen: set[str] = set()
    ranked: list[tuple[int, int, Any]] = []
    for position, product_id in enumerate(ids):
        row = rows.get(product_id)
        if row is None or row.name in seen:
            continue
        seen.add(row.name)
        name = row.search_initials if word.initials else row.search_name
        starts = [compact(w) for w in normalize(row.name).split(" ")]
        starts = [initials(s) for s in starts] if word.initials else starts
        suffixes = ["".join(starts[i:]) for i in range(len(starts))]
        rank = 0 if name.startswith(looked_for) else 1 if any(s.startswith(looked_for) for s in suffixes) else 2
        ranked.append((rank, position, row))
    return [Suggestion(text=row.name, product_id=row.id) for _, _, row in sorted(ranked, key=lambda r: r[:2])[:limit]]


# --- vocabulary, kept in the product's transaction ------------------------------------------------
async def index_terms(session: AsyncSession, dialect: str, old_name: str | None, new_name: str | None) -> None:
    """Keep `search_term` counts in step with a live product's name (None: no live product before / after)."""
    old = vocabulary(old_name) if old_name is not None else set()
    new = vocabulary(new_name) if new_name is not None else set()
    if added := sorted(new - old):
        await session.execute(insert_ignore(SearchTerm.__table__, dialect,
                                            [{"term": t, "product_count": 0} for t in added]))
        await session.execute(insert_ignore(SearchTermKey.__table__, dialect,
                                            [{"key": k, "term": t} for t in added for k in sorted(term_keys(t))]))
        await session.execute(update(SearchTerm).where(SearchTerm.term.in_(added))
                              .values(product_count=SearchTerm.product_count + 1))
    if gone := sorted(old - new):
        await session.execute(update(SearchTerm).where(SearchTerm.term.in_(gone))
                              .values(product_count=SearchTerm.product_count - 1))


async def best_products(session: AsyncSession, size: int, viewer_id: int | None) -> list[ProductSummary]:
    """Return the best sellers (units sold, then likes)."""
    rows = (await session.execute(
        summary_select().where(Product.deleted_at.is_(None)).order_by(*POPULAR).limit(size))).all()
    return await summaries(session, rows, viewer_id)


async def product_detail(session: AsyncSession, product_id: int, viewer_id: int | None) -> ProductDetail:
    """Return a live product with its content and images."""
    row = (await session.execute(summary_select().add_columns(Product.content)
                                 .where(Product.id == product_id, Product.deleted_at.is_(None)))).first()
    if row is None:
        raise ProductNotFound()
    summary = (await summaries(session, [row], viewer_id))[0]
    image_ids = (await session.scalars(
        select(ProductImage.image_id).join(Image, Image.id == ProductImage.image_id)
        .where(ProductImage.product_id == product_id, Image.deleted_at.is_(None))
        .order_by(ProductImage.position))).all()
    return ProductDetail(**summary.model_dump(), content=row.content,
                         images=[ImageRef(image_id=i, url=image_url(i) or "") for i in image_ids],
                         thumbnail_image_id=row.thumbnail_image_id, units_sold=row.units_sold)


# --- writing ---------------------------------------------------------------------------------------
async def _check_refs(session: AsyncSession, data: ProductWrite) -> int | None:
    if await session.get(ProductType, data.product_type_id) is None:
        raise TypeNotFound()
    thumbnail = data.thumbnail_image_id or (data.image_ids[0] if data.image_ids else None)
    wanted = set(data.image_ids) | ({thumbnail} if thumbnail else set())
    if wanted:
        found = set((await session.scalars(
            select(Image.id).where(Image.id.in_(wanted), Image.deleted_at.is_(None)))).all())
        if missing := sorted(wanted - found):
            raise ImageNotFound(f"no image {missing[0]}")
    return thumbnail


async def index_tokens(session: AsyncSession, dialect: str, product_id: int, old: SearchFields | None,
                       new: SearchFields | None) -> None:
    """Keep MariaDB's token table in step with a live product's text (None: not live; others use triggers)."""
    if dialect not in MYSQL:
        return
    before = old.tokens() if old else set()
    after = new.tokens() if new else set()
    if gone := sorted(before - after):
        await session.execute(delete(ProductGram).where(ProductGram.product_id == product_id,
                                                        ProductGram.gram.in_(gone)))
    if added := sorted(after - before):
        await session.execute(insert(ProductGram), [{"gram": g, "product_id": product_id} for g in added])


def fields_of(product: Product) -> SearchFields:
    """Return the search fields of a product row as they were computed when it was written."""
    return build_search_fields(product.name, product.description, product.content)


def _apply(product: Product, data: ProductWrite, dialect: str, thumbnail: int | None) -> SearchFields:
    """Copy an administrator's write onto a product (locked by the caller when it exists); return its search fields."""
    content = sanitize_html(data.content)
    # the administrator sets the quantity absolutely: what was received moves by the difference, in the same
    # transaction, on the row the caller holds locked (so a reservation cannot slip in between)
    product.received = (product.received or 0) + data.quantity - (product.quantity or 0)
    product.name = data.name
    product.sort_name = data.name.lower()
    product.description = data.description
    product.content = content
    product.product_type_id = data.product_type_id
    product.unit_price = data.unit_price
    product.quantity = data.quantity
    product.thumbnail_image_id = thumbnail
    fields = build_search_fields(data.name, data.description, content)
    product.search_text = fields.search_text
    product.search_name = fields.search_name
    product.search_initials = fields.search_initials
    product.search_grams = fields.gram_words(dialect)
    return fields


async def _write_children(session: AsyncSession, product_id: int, data: ProductWrite) -> None:
    await session.execute(delete(ProductImage).where(ProductImage.product_id == product_id))
    await session.execute(delete(ProductStyle).where(ProductStyle.product_id == product_id))
    session.add_all(ProductImage(product_id=product_id, image_id=image_id, position=position)
                    for position, image_id in enumerate(data.image_ids))
    session.add_all(ProductStyle(product_id=product_id, style=style) for style in data.product_styles)
    await session.flush()


async def _image_ids_of(session: AsyncSession, product: Product) -> set[int]:
    ids = set((await session.scalars(select(ProductImage.image_id).where(
        ProductImage.product_id == product.id))).all())
    if product.thumbnail_image_id:
        ids.add(product.thumbnail_image_id)
    return ids


async def release_images(session: AsyncSession, image_ids: set[int], now: datetime) -> int:
    """Soft-delete images no live product or banner uses any more; their files wait for the janitor."""
    released = 0
    for image_id in sorted(image_ids):
        used = await session.scalar(select(
            exists().where(ProductImage.image_id == image_id, ProductImage.product_id == Product.id,
                           Product.deleted_at.is_(None))
            | exists().where(Product.thumbnail_image_id == image_id, Product.deleted_at.is_(None))
            | exists().where(Banner.image_id == image_id, Banner.deleted_at.is_(None))))
        if not used:
            result = await session.execute(update(Image).where(Image.id == image_id, Image.deleted_at.is_(None))
                                           .values(deleted_at=now))
            released += result.rowcount or 0
    return released


async def create_product(uow: UnitOfWork, data: ProductWrite) -> ProductDetail:
    """Create a product with its images and styles and announce it (the caller's uow commits)."""
    session = uow.session
    thumbnail = await _check_refs(session, data)
    now = utcnow()
    product = Product(like_count=0, units_sold=0, quantity=0, received=0, created_at=now, updated_at=now)
    fields = _apply(product, data, uow.db.dialect, thumbnail)
    session.add(product)
    await session.flush()
    await index_tokens(session, uow.db.dialect, product.id, None, fields)
    await index_terms(session, uow.db.dialect, None, product.name)
    await count_live(session, +1)
    await _write_children(session, product.id, data)
    uow.outbox.add(product_changed(product))
    return await product_detail(session, product.id, None)


async def update_product(uow: UnitOfWork, product_id: int, data: ProductWrite) -> ProductDetail:
    """Replace a product's fields, images and styles; images it no longer uses are soft-deleted."""
    async with uow:
        session = uow.session
        product = await session.scalar(select(Product).where(Product.id == product_id, Product.deleted_at.is_(None))
                                       .with_for_update())
        if product is None:
            raise ProductNotFound()
        thumbnail = await _check_refs(session, data)
        before = await _image_ids_of(session, product)
        old_fields, old_name = fields_of(product), product.name
        fields = _apply(product, data, uow.db.dialect, thumbnail)
        await index_tokens(session, uow.db.dialect, product.id, old_fields, fields)
        await index_terms(session, uow.db.dialect, old_name, product.name)
        product.updated_at = utcnow()
        await _write_children(session, product.id, data)
        after = await _image_ids_of(session, product)
        await release_images(session, before - after, product.updated_at)
        uow.outbox.add(product_changed(product))
        detail = await product_detail(session, product.id, None)
        await uow.commit()
    return detail


async def delete_product(uow: UnitOfWork, product_id: int) -> None:
    """Hide a product at once; its image files stay for the janitor."""
    async with uow:
        session = uow.session
        now = utcnow()
        result = await session.execute(update(Product).where(Product.id == product_id, Product.deleted_at.is_(None))
                                       .values(deleted_at=now, updated_at=now))
        if not result.rowcount:
            raise ProductNotFound()
        product = await session.get(Product, product_id, populate_existing=True)
        assert product is not None
        await index_tokens(session, uow.db.dialect, product.id, fields_of(product), None)  # live products only
        await index_terms(session, uow.db.dialect, product.name, None)
        await count_live(session, -1)
        await release_images(session, await _image_ids_of(session, product), now)
        uow.outbox.add(product_changed(product))
        await uow.commit()


# --- types -----------------------------------------------------------------------------------------
async def list_types(session: AsyncSession) -> list[ProductTypeRead]:
    """Return every product type."""
    rows = (await session.execute(select(ProductType.id, ProductType.type).order_by(ProductType.id))).all()
    return [ProductTypeRead(product_type_id=i, type=t) for i, t in rows]


async def create_type(uow: UnitOfWork, name: str) -> ProductTypeRead:
    """Add a product type; its name is unique (the caller's uow commits)."""
    session = uow.session
    if await session.scalar(select(ProductType.id).where(ProductType.type == name)) is not None:
        raise TypeExists()
    row = ProductType(type=name, created_at=utcnow())
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise TypeExists() from exc
    return ProductTypeRead(product_type_id=row.id, type=row.type)


async def delete_type(uow: UnitOfWork, type_id: int) -> None:
    """Remove a type no live product uses; deleted products forget it."""
    async with uow:
        session = uow.session
        if await session.get(ProductType, type_id) is None:
            raise TypeNotFound()
        if await session.scalar(select(exists().where(Product.product_type_id == type_id,
                                                      Product.deleted_at.is_(None)))):
            raise TypeInUse()
        await session.execute(update(Product).where(Product.product_type_id == type_id)
                              .values(product_type_id=None))
        await session.execute(delete(ProductType).where(ProductType.id == type_id))
        try:
            await uow.commit()
        except IntegrityError as exc:  # a product took the type meanwhile
            raise TypeInUse() from exc


# --- styles ----------------------------------------------------------------------------------------
async def _live_product(session: AsyncSession, product_id: int) -> None:
    if await session.scalar(select(Product.id).where(Product.id == product_id, Product.deleted_at.is_(None))) is None:
        raise ProductNotFound()


async def _styles_of(session: AsyncSession, product_id: int) -> list[str]:
    return list((await session.scalars(select(ProductStyle.style).where(ProductStyle.product_id == product_id)
                                       .order_by(ProductStyle.style))).all())


async def add_style(uow: UnitOfWork, product_id: int, style: str) -> StyleRegistered:
    """Register a hashtag on a product (registering it twice changes nothing)."""
    async with uow:
        await _live_product(uow.session, product_id)
        await uow.session.execute(insert_ignore(ProductStyle.__table__, uow.db.dialect,
                                                {"product_id": product_id, "style": style}))
        styles = await _styles_of(uow.session, product_id)
        await uow.commit()
    return StyleRegistered(product_id=product_id, style=style, product_styles=styles)


async def remove_style(uow: UnitOfWork, product_id: int, style: str) -> None:
    """Cancel a hashtag on a product."""
    async with uow:
        await _live_product(uow.session, product_id)
        result = await uow.session.execute(delete(ProductStyle).where(ProductStyle.product_id == product_id,
                                                                      ProductStyle.style == style))
        if not result.rowcount:
            raise StyleNotFound()
        await uow.commit()


async def list_styles(session: AsyncSession) -> list[StyleCount]:
    """Return every style with how many live products carry it, most used first."""
    count = func.count().label("n")
    rows = (await session.execute(
        select(ProductStyle.style, count).join(Product, Product.id == ProductStyle.product_id)
        .where(Product.deleted_at.is_(None)).group_by(ProductStyle.style)
        .order_by(count.desc(), ProductStyle.style))).all()
    return [StyleCount(style=s, product_count=n) for s, n in rows]


async def popular_styles(session: AsyncSession, styles: int, per_style: int,
                         viewer_id: int | None) -> list[StyleProducts]:
    """Return the most popular styles (units sold, then likes, then products) with their top products."""
    live = Product.deleted_at.is_(None)
    sold = func.sum(Product.units_sold)
    likes = func.sum(Product.like_count)
    count = func.count()
    top = [s for (s,) in (await session.execute(
        select(ProductStyle.style).join(Product, Product.id == ProductStyle.product_id).where(live)
        .group_by(ProductStyle.style).order_by(sold.desc(), likes.desc(), count.desc(), ProductStyle.style)
        .limit(styles))).all()]
    if not top:
        return []
    rank = func.row_number().over(partition_by=ProductStyle.style, order_by=POPULAR).label("rank")
    ranked = (select(ProductStyle.style.label("style"), Product.id.label("product_id"), rank)
              .join(Product, Product.id == ProductStyle.product_id)
              .where(live, ProductStyle.style.in_(top)).subquery())
    pairs = (await session.execute(select(ranked.c.style, ranked.c.product_id).where(ranked.c.rank <= per_style)
                                   .order_by(ranked.c.style, ranked.c.rank))).all()
    ids = sorted({p for _, p in pairs})
    rows = (await session.execute(summary_select().where(Product.id.in_(ids)))).all() if ids else []
    by_id = {s.product_id: s for s in await summaries(session, rows, viewer_id)}
    grouped: dict[str, list[ProductSummary]] = defaultdict(list)
    for style, product_id in pairs:
        grouped[style].append(by_id[product_id])
    return [StyleProducts(style=s, products=grouped.get(s, [])) for s in top]
