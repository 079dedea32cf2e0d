"""A generated catalog of any size for the search benchmark and the relevance set (never loaded by the service).

Products get Korean (70 %) or English names "adjective material item N", descriptions and HTML content,
types, styles, prices, likes and sales from a seeded generator, so a run can be repeated. `load_catalog`
migrates a fresh database and bulk-inserts them with the service's own derived search columns, MariaDB
tokens and name vocabulary (`build_search_fields`, `vocabulary`, `term_keys`), as `create_product` would.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

TYPES = ["아우터", "상의", "하의", "원피스", "신발", "가방", "액세서리"]
STYLES = ["캐주얼", "미니멀", "스트릿", "빈티지", "오피스", "러블리", "스포티", "클래식"]
KO_ADJ = ["오버핏", "슬림", "크롭", "롱", "베이직", "빈티지", "소프트", "하이넥", "와이드", "캐시미어", "경량",
          "투웨이"]
KO_MAT = ["울", "코튼", "린넨", "데님", "레더", "니트", "플리스", "쉬폰", "코듀로이", "나일론", "스웨이드", "트위드"]
KO_ITEM = {
    "아우터": ["가디건", "코트", "재킷", "점퍼", "패딩", "블레이저"],
    "상의": ["티셔츠", "셔츠", "블라우스", "스웨터", "후드티", "조끼"],
    "하의": ["팬츠", "슬랙스", "스커트", "조거", "반바지", "청바지"],
    "원피스": ["원피스", "롱 원피스", "셔츠 원피스", "랩 원피스"],
    "신발": ["스니커즈", "로퍼", "부츠", "샌들", "슬립온"],
    "가방": ["토트백", "크로스백", "숄더백", "백팩", "클러치"],
    "액세서리": ["머플러", "비니", "목걸이", "벨트", "귀걸이", "모자"],
}
EN_ADJ = ["Oversized", "Slim", "Cropped", "Long", "Basic", "Vintage", "Soft", "Classic", "Wide", "Light"]
EN_MAT = ["Wool", "Cotton", "Linen", "Denim", "Leather", "Knit", "Fleece", "Chiffon", "Corduroy", "Nylon"]
EN_ITEM = {
    "아우터": ["Cardigan", "Coat", "Jacket", "Parka", "Blazer"], "상의": ["T-Shirt", "Shirt", "Blouse", "Sweater"],
    "하의": ["Pants", "Slacks", "Skirt", "Joggers", "Jeans"], "원피스": ["Dress", "Maxi Dress", "Shirt Dress"],
    "신발": ["Sneakers", "Loafers", "Boots", "Sandals"], "가방": ["Tote Bag", "Cross Bag", "Backpack"],
    "액세서리": ["Muffler", "Beanie", "Necklace", "Belt", "Cap"],
}
KO_DESC = ["부드러운 소재와 편안한 핏으로 데일리룩에 잘 어울립니다.", "간절기부터 겨울까지 활용도 높은 아이템입니다.",
           "어떤 하의와도 잘 어울리는 기본 디자인입니다.", "고급스러운 촉감과 세련된 실루엣이 돋보입니다."]
EN_DESC = ["A timeless piece that goes with everything.", "Comfortable from morning to night, easy to care for.",
           "Clean lines and a relaxed fit for every day.", "Made to last, season after season."]


def product_name(rng: random.Random, type_name: str, number: int) -> tuple[str, bool]:
    """Return a generated name and whether it is English."""
    if rng.random() < 0.3:
        return f"{rng.choice(EN_ADJ)} {rng.choice(EN_MAT)} {rng.choice(EN_ITEM[type_name])} {number}", True
    return f"{rng.choice(KO_ADJ)} {rng.choice(KO_MAT)} {rng.choice(KO_ITEM[type_name])} {number}", False


def make_rows(first_id: int, count: int, dialect: str, type_ids: list[int], *, content: bool = True
              ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]], Counter[str]]:
    """Build product rows with their search columns, style rows, MariaDB token rows, and the names' vocabulary.

    Without `content`, products have a name only (no description, no HTML content).
    """
    from gluta_kit.models import utcnow
    from gluta_product.catalog.search import build_search_fields, vocabulary

    rng = random.Random(first_id)
    start = utcnow() - timedelta(days=365)
    products: list[dict[str, Any]] = []
    styles: list[dict[str, Any]] = []
    tokens: list[dict[str, Any]] = []
    terms: Counter[str] = Counter()
    for i in range(first_id, first_id + count):
        type_index = rng.randrange(len(TYPES))
        type_name = TYPES[type_index]
        name, english = product_name(rng, type_name, i)
        plain = name.rsplit(" ", 1)[0]
        if english:
            description = f"{plain}. {rng.choice(EN_DESC)}"
            html = f"<p>{rng.choice(EN_DESC)}</p><ul><li>{rng.choice(EN_MAT)} blend</li><li>Model wears M</li></ul>"
        else:
            description = f"{plain} — {rng.choice(KO_DESC)}"
            html = (f"<p>{rng.choice(KO_DESC)}</p><ul><li>소재: {rng.choice(KO_MAT)}</li>"
                    "<li>모델 착용: FREE</li></ul>")
        if not content:  # names only (the relevance set's large catalog: quick to load)
            description = html = ""
        fields = build_search_fields(name, description, html)
        created = start + timedelta(seconds=i * 300)
        # The random draws keep their order (price, quantity, likes, sold): the relevance set names products by id.
        unit_price = rng.randrange(50, 3000) * 100
        quantity = rng.choice([0, 1, 5, 20, 50, 100, 300])
        like_count = int(rng.paretovariate(1.5)) - 1
        units_sold = int(rng.paretovariate(1.2)) - 1
        products.append({
            "id": i, "name": name, "sort_name": name.lower(), "description": description, "content": html,
            "product_type_id": type_ids[type_index], "unit_price": unit_price,
            "quantity": quantity, "like_count": like_count,
            "units_sold": units_sold, "received": quantity + units_sold, "thumbnail_image_id": None,
            "search_text": fields.search_text, "search_name": fields.search_name,
            "search_initials": fields.search_initials, "search_grams": fields.gram_words(dialect),
            "created_at": created, "updated_at": created, "deleted_at": None,
        })
        for style in rng.sample(STYLES, rng.choice([1, 1, 2, 3])):
            styles.append({"product_id": i, "style": style})
        if dialect in {"mysql", "mariadb"}:
            tokens.extend({"gram": t, "product_id": i} for t in fields.tokens())
        terms.update(vocabulary(name))
    return products, styles, tokens, terms


async def _load_tokens(conn: Any, tokens: list[dict[str, Any]]) -> None:
    """Append MariaDB token rows with one multi-row INSERT per 20,000 (no key to keep sorted while loading)."""
    for at in range(0, len(tokens), 20_000):
        chunk = tokens[at:at + 20_000]
        await conn.exec_driver_sql("INSERT INTO product_gram (gram, product_id) VALUES " + ",".join(
            ["(%s,%s)"] * len(chunk)), tuple(v for t in chunk for v in (t["gram"], t["product_id"])))


async def load_catalog(database_url: str, count: int, *, batch: int = 2000, content: bool = True,
                       analyze: bool = True, progress: Callable[[str], None] | None = None) -> float:
    """Migrate a fresh database and bulk-insert `count` generated products; return the seconds it took."""
    from sqlalchemy import insert

    from gluta_kit.db import Database
    from gluta_kit.models import utcnow
    from gluta_product.app import MIGRATIONS
    from gluta_product.catalog.models import Product, ProductGram, ProductStyle, ProductType, SearchTerm, SearchTermKey
    from gluta_product.catalog.search import term_keys

    db = Database(database_url)
    started = time.perf_counter()
    await db.migrate(MIGRATIONS)
    async with db.write_engine.begin() as conn:
        await conn.execute(insert(ProductType.__table__), [
            {"id": i + 1, "type": t, "created_at": utcnow()} for i, t in enumerate(TYPES)])
    type_ids = list(range(1, len(TYPES) + 1))
    triggers: list[str] = []
    mysql = db.dialect in {"mysql", "mariadb"}
    if mysql:  # the token table is loaded in arrival order and its primary key built once, sorted, at the end
        async with db.write_engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE product_gram DROP PRIMARY KEY")
    if db.dialect == "sqlite":  # index the text once at the end ('rebuild'), not row by row through the triggers
        async with db.write_engine.begin() as conn:
            triggers = [row[0] for row in (await conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'product'")).all()]
            for name in [row[0] for row in (await conn.exec_driver_sql(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'product'")).all()]:
                await conn.exec_driver_sql(f"DROP TRIGGER {name}")
    terms: Counter[str] = Counter()
    done = 0

    def rows_from(first: int) -> Any:
        return asyncio.to_thread(make_rows, first + 1, min(batch, count - first), db.dialect, type_ids,
                                 content=content)

    upcoming = asyncio.ensure_future(rows_from(0)) if count else None
    while upcoming is not None:
        products, styles, tokens, vocabulary = await upcoming
        done += len(products)
        upcoming = asyncio.ensure_future(rows_from(done)) if done < count else None  # built while this is written
        terms.update(vocabulary)
        async with db.write_engine.begin() as conn:
            await conn.execute(insert(Product.__table__), products)
            await conn.execute(insert(ProductStyle.__table__), styles)
            if mysql:
                await _load_tokens(conn, tokens)
            else:
                for at in range(0, len(tokens), 50_000):
                    await conn.execute(insert(ProductGram.__table__), tokens[at:at + 50_000])
        if progress:
            progress(f"inserted {done:,}/{count:,} ({time.perf_counter() - started:.1f} s)")
    if db.dialect == "sqlite":
        async with db.write_engine.begin() as conn:
            await conn.exec_driver_sql("INSERT INTO product_fts(product_fts) VALUES ('rebuild')")
            await conn.exec_driver_sql("INSERT INTO product_gram_fts(product_gram_fts) VALUES ('rebuild')")
            for statement in triggers:
                await conn.exec_driver_sql(statement)
    if mysql:
        async with db.write_engine.begin() as conn:
            await conn.exec_driver_sql("ALTER TABLE product_gram ADD PRIMARY KEY (gram, product_id)")
        if progress:
            progress(f"token index built ({time.perf_counter() - started:.1f} s)")
    async with db.write_engine.begin() as conn:  # the vocabulary the service keeps per product write
        await conn.execute(insert(SearchTerm.__table__), [{"term": t, "product_count": n} for t, n in terms.items()])
        await conn.execute(insert(SearchTermKey.__table__), [{"key": k, "term": t} for t in terms
                                                             for k in term_keys(t)])
    if progress:
        progress(f"text indexed ({time.perf_counter() - started:.1f} s)")
    async with db.write_engine.begin() as conn:  # the service keeps this count; a bulk load sets it once
        await conn.exec_driver_sql("UPDATE product_counter SET value = (SELECT COUNT(*) FROM product "
                                   "WHERE deleted_at IS NULL) WHERE name = 'live'")
    if analyze:
        async with db.write_engine.begin() as conn:
            if db.dialect in {"sqlite", "postgresql"}:
                await conn.exec_driver_sql("ANALYZE")
            else:
                await conn.exec_driver_sql("ANALYZE TABLE product, product_style, product_gram")
    if db.dialect == "postgresql":
        async with db.write_engine.begin() as conn:  # keep ids from colliding with later inserts
            await conn.exec_driver_sql("SELECT setval(pg_get_serial_sequence('product', 'id'), "
                                       "(SELECT max(id) FROM product))")
    await db.dispose()
    return time.perf_counter() - started
