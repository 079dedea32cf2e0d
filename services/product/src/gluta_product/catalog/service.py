"""Catalog decisions: products, search, types and styles. Knows nothing of HTTP."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, insert, select, update
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
)
from gluta_product.catalog.schemas import (
    ImageRef,
    ProductDetail,
    ProductSummary,
    ProductTypeRead,
    ProductWrite,
    SortOrder,
    StyleCount,
    StyleProducts,
    StyleRegistered,
)
from gluta_product.catalog.search import (
    NARROW_INDEX,
    build_search_grams,
    build_search_text,
    grams_of,
    keyword_condition,
    keyword_grams,
    match_count,
    normalize_keyword,
    sqlite_matches,
    sqlite_probe,
)
from gluta_product.image.exceptions import ImageNotFound
from gluta_product.image.models import Image
from gluta_product.inquiry.models import Inquiry
from gluta_product.like.models import ProductLike
from gluta_product.schemas import Page, image_url

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
    sort: SortOrder = SortOrder.newest
    page: int = 1
    size: int = 20


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
PROBE_ROWS = 50  # SQLite, 1-2 characters, no style: a walk this short probes the FTS table row by row
MYSQL = {"mysql", "mariadb"}
WALKERS = {"sqlite", *MYSQL}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _text_conditions(dialect: str, keyword: str, style: str, *, many: bool = False,
                     gram: str | None = None) -> list[Any]:
    """Return the keyword and style conditions (on SQLite one list of ids: the FTS matches probe the style index)."""
    target = (Product.id + 0) if many else Product.id  # see keyword_condition for `many`
    styled = select(ProductStyle.product_id).where(ProductStyle.style == style)
    if style and keyword and dialect == "sqlite":
        return [target.in_(styled.where(ProductStyle.product_id.in_(sqlite_matches(keyword))))]
    conditions = [target.in_(styled)] if style else []
    if keyword:
        conditions.append(keyword_condition(dialect, keyword, many=many, gram=gram))
    return conditions


def _narrow(statement: Select[Any], dialect: str, keyword: str, style: str,
            sort: SortOrder | None = None, *, filtered: bool = False) -> Select[Any]:
    """Check a list of matching ids against the filters (and sort them) in the narrow `ix_product_search_cover`.

    Named in the statement, so the plan does not hang on statistics: SQLite picks the rowid without ANALYZE
    data, MariaDB's optimizer reads the wide clustered rows. Only when the statement has an `id IN (list)`
    (a keyword or a style, not walking). On MariaDB not for the name sort (`sort_name` is not in its index),
    and for 3+ character keywords (their INSTR recheck reads the wide row anyway) only when `filtered` (a type
    or price filter): then the filter is checked in the narrow index first (index condition pushdown) and
    only its survivors pay the wide row's lookup.
    """
    if not (keyword or style):
        return statement
    if dialect == "sqlite":
        return statement.with_hint(Product, f"INDEXED BY {NARROW_INDEX}", "sqlite")
    if dialect not in MYSQL or (len(keyword) > 2 and not filtered) or sort is SortOrder.name:
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
                          viewer_id: int | None) -> Page[ProductSummary]:
    """Find live products by keyword (substring of name, description or content) and filters, one page.

    The total comes from the text index alone when only a keyword is given; the page query selects ids
    only (no row is sorted with its text), then the page's 20 summaries are read by id.
    """
    filters: list[Any] = [Product.deleted_at.is_(None)]
    keyword = normalize_keyword(query.keyword)
    style = query.style.strip().lstrip("#").strip() if query.style else ""
    if query.type_id is not None:
        filters.append(Product.product_type_id == query.type_id)
    if query.min_price is not None:
        filters.append(Product.unit_price >= query.min_price)
    if query.max_price is not None:
        filters.append(Product.unit_price <= query.max_price)
    offset = (query.page - 1) * query.size
    order = ORDERS[query.sort]
    ids: list[int] = []
    if dialect in MYSQL and keyword and (len(keyword) > 2 or style or len(filters) > 1):
        ids, total = await _mysql_page(session, dialect, keyword, style, filters, query, offset)
    else:
        total = await _count(session, dialect, keyword, style, filters)
    if offset < total and not ids:
        walk = await _walk(session, dialect, total, offset + query.size) if keyword or style else None
        if walk is not None and walk <= PROBE_ROWS and dialect == "sqlite" and len(keyword) <= 2 and not style:
            conditions = [sqlite_probe(keyword)] if keyword else []
        else:
            conditions = _text_conditions(dialect, keyword, style, many=walk is not None)
        paging = select(Product.id).where(*filters, *conditions)
        if walk is None:
            paging = _narrow(paging, dialect, keyword, style, query.sort, filtered=len(filters) > 1)
        ids = list((await session.scalars(paging.order_by(*order).limit(query.size).offset(offset))).all())
    items: list[ProductSummary] = []
    if ids:
        by_id = {row.id: row for row in (await session.execute(summary_select().where(Product.id.in_(ids))))}
        items = await summaries(session, [by_id[i] for i in ids if i in by_id], viewer_id)
    return Page(items=items, page=query.page, size=query.size, total=total)


async def _mysql_page(session: AsyncSession, dialect: str, keyword: str, style: str, filters: list[Any],
                      query: SearchQuery, offset: int) -> tuple[list[int], int]:
    """Return a MariaDB keyword search's page of ids and its total from one statement.

    Only when the total cannot come from the gram index alone (3+ characters: INSTR recheck; or a style,
    type or price filter): then counting reads every candidate (its wide row for INSTR, or its entry in the
    narrow index for the filters), and so would listing it or walking a sort index after it. Here the page
    carries the count (`COUNT(*) OVER ()`, computed before the LIMIT): one pass instead of two; the sort of
    the matches costs little beside it. A page past the end has no row to carry the count; then it is
    counted on its own.
    """
    gram = await _rarest_gram(session, keyword) if len(keyword) > 2 else None
    statement = select(Product.id, func.count().over().label("total")).where(
        *filters, *_text_conditions(dialect, keyword, style, gram=gram))
    statement = _narrow(statement, dialect, keyword, style, query.sort, filtered=len(filters) > 1)
    rows = (await session.execute(statement.order_by(*ORDERS[query.sort]).limit(query.size).offset(offset))).all()
    if rows:
        return [row.id for row in rows], int(rows[0].total)
    return [], (await _count(session, dialect, keyword, style, filters, gram) if offset else 0)


GRAM_COUNT_SECONDS = 600.0  # how long a gram's product count is trusted (it only picks the gram to start from)
GRAM_COUNT_ENTRIES = 10_000
_gram_counts: dict[str, tuple[float, int]] = {}  # per process: gram -> (when counted, live products having it)


async def _rarest_gram(session: AsyncSession, keyword: str) -> str:
    """Return the gram of a 3+ character keyword (MariaDB) that the fewest live products have.

    Counted once per gram and process (an index range count: 1-3 ms for the commonest bigrams), then
    kept for GRAM_COUNT_SECONDS; a stale count only costs speed, never a result (see `mysql_condition`).
    """
    grams = keyword_grams(keyword)
    now = time.monotonic()
    missing = [g for g in grams if (seen := _gram_counts.get(g)) is None or now - seen[0] > GRAM_COUNT_SECONDS]
    if missing:
        counted = {g: n for g, n in await session.execute(
            select(ProductGram.gram, func.count()).where(ProductGram.gram.in_(missing)).group_by(ProductGram.gram))}
        if len(_gram_counts) + len(missing) > GRAM_COUNT_ENTRIES:
            _gram_counts.clear()
        _gram_counts.update((g, (now, int(counted.get(g, 0)))) for g in missing)
    return min(grams, key=lambda g: (_gram_counts[g][1] if g in _gram_counts else 0, g))


LIVE = "live"  # product_counter: live products


async def count_live(session: AsyncSession, change: int) -> None:
    """Add `change` to the live product count, in the caller's transaction (create +1, delete -1)."""
    await session.execute(update(ProductCounter).where(ProductCounter.name == LIVE)
                          .values(value=ProductCounter.value + change))


async def _live(session: AsyncSession) -> int:
    return int(await session.scalar(select(ProductCounter.value).where(ProductCounter.name == LIVE)) or 0)


async def _count(session: AsyncSession, dialect: str, keyword: str, style: str, filters: list[Any],
                 gram: str | None = None) -> int:
    """Return the exact number of live products matching (from the counter or the text index when it can)."""
    if not keyword and not style and len(filters) == 1:
        return await _live(session)
    counting_statement = match_count(dialect, keyword) if keyword and not style and len(filters) == 1 else None
    if counting_statement is not None:
        return int(await session.scalar(counting_statement) or 0)
    counting = filters + _text_conditions(dialect, keyword, style, gram=gram)
    if dialect == "sqlite" and not keyword and not style:
        # An always-true range on an indexed column lets SQLite count through a (partial) index.
        counting.append(Product.created_at > EPOCH)
    return int(await session.scalar(_narrow(select(func.count()).select_from(Product).where(*counting),
                                            dialect, keyword, style, filtered=len(filters) > 1)) or 0)


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


async def index_grams(session: AsyncSession, dialect: str, product_id: int, old_text: str | None,
                      new_text: str) -> None:
    """Keep MariaDB's gram table in step with a live product's text ('' when it is deleted; others use triggers)."""
    if dialect not in MYSQL:
        return
    old = grams_of(old_text) if old_text else set()
    new = grams_of(new_text)
    if gone := sorted(old - new):
        await session.execute(delete(ProductGram).where(ProductGram.product_id == product_id,
                                                        ProductGram.gram.in_(gone)))
    if added := sorted(new - old):
        await session.execute(insert(ProductGram), [{"gram": g, "product_id": product_id} for g in added])


def _apply(product: Product, data: ProductWrite, dialect: str, thumbnail: int | None) -> None:
    """Copy an administrator's write onto a product (locked by the caller when it exists)."""
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
    product.search_text = build_search_text(data.name, data.description, content)
    product.search_grams = build_search_grams(product.search_text, dialect)


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
    _apply(product, data, uow.db.dialect, thumbnail)
    session.add(product)
    await session.flush()
    await index_grams(session, uow.db.dialect, product.id, None, product.search_text)
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
        old_text = product.search_text
        _apply(product, data, uow.db.dialect, thumbnail)
        await index_grams(session, uow.db.dialect, product.id, old_text, product.search_text)
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
        await index_grams(session, uow.db.dialect, product.id, product.search_text, "")  # live products only
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
