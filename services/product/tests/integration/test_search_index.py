"""The text indexes hold exactly the live products: kept in step on create, edit and delete, and the
migration that made them live-only backfills an existing catalog. Run on every dialect."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy import insert, select, text

from gluta_kit.db import KIT_MIGRATIONS, Database
from gluta_product.app import MIGRATIONS
from gluta_product.catalog.models import Product, ProductGram, ProductType
from gluta_product.catalog.schemas import SortOrder
from gluta_product.catalog.search import word_of
from gluta_product.catalog.service import SearchQuery, search_products

DIALECTS = ["sqlite", "mysql", "postgres"]


async def indexed_ids(db: Database, gram: str) -> set[int]:
    """Return the ids the dialect's own 1-2 character index holds for a gram (PostgreSQL: the live rows)."""
    async with db.read_sessions() as session:
        if db.dialect == "sqlite":
            rows = await session.execute(text("SELECT rowid FROM product_gram_fts WHERE product_gram_fts MATCH :q"),
                                         {"q": word_of("a" + gram)})
        elif db.dialect == "postgresql":
            rows = await session.execute(select(Product.id).where(
                Product.deleted_at.is_(None), Product.search_grams.contains(word_of("a" + gram))))
        else:
            rows = await session.execute(select(ProductGram.product_id).where(ProductGram.gram == "a" + gram))
        return {row[0] for row in rows}


async def trigram_ids(db: Database, phrase: str) -> set[int] | None:
    """Return the ids SQLite's trigram table holds for a phrase (None on other dialects)."""
    if db.dialect != "sqlite":
        return None
    async with db.read_sessions() as session:
        rows = await session.execute(text("SELECT rowid FROM product_fts WHERE product_fts MATCH :q"),
                                     {"q": '{search_text} : "' + phrase + '"'})
        return {row[0] for row in rows}


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_index_follows_create_edit_and_delete(dialect: str, tmp_path: Path, start_app: Any,
                                                    fresh_database: Any) -> None:
    async with fresh_database(dialect) as url, start_app(tmp_path, url) as api:
        db = api.service.db
        type_id = await api.create_type("아우터")
        first = (await api.create_product(type_id, "울 니트 가디건", description="wool"))["productId"]
        second = (await api.create_product(type_id, "린넨 셔츠"))["productId"]
        assert await indexed_ids(db, "니트") == {first}
        assert await trigram_ids(db, "가디건") in ({first}, None)

        body = {"name": "코튼 셔츠", "description": "", "content": "", "productTypeId": type_id, "productStyles": [],
                "unitPrice": 1000, "quantity": 1, "imageIds": []}
        assert (await api.client.put(f"/products/{first}", json=body, headers=api.admin)).status_code == 200
        assert await indexed_ids(db, "니트") == set()
        assert await indexed_ids(db, "셔츠") == {first, second}
        assert await trigram_ids(db, "가디건") in (set(), None)
        assert await trigram_ids(db, "코튼셔") in ({first}, None)

        assert (await api.client.get("/products/search")).json()["total"] == 2  # the live count, kept by create
        assert (await api.client.delete(f"/products/{second}", headers=api.admin)).status_code == 204
        assert (await api.client.delete(f"/products/{second}", headers=api.admin)).status_code == 404
        assert (await api.client.get("/products/search")).json()["total"] == 1  # ... and by delete, once
        assert await indexed_ids(db, "셔츠") == {first}
        assert await indexed_ids(db, "린") == set()
        response = await api.client.get("/products/search", params={"keyword": "셔츠"})
        assert [i["productId"] for i in response.json()["items"]] == [first] and response.json()["total"] == 1


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_nul_character_in_a_name_is_never_a_500(dialect: str, tmp_path: Path, start_app: Any,
                                                         fresh_database: Any) -> None:
    """PostgreSQL cannot store NUL in text: the kit answers 422 there; SQLite and MariaDB store the name and
    the search (whose keyword folds control characters to spaces) still finds the product."""
    async with fresh_database(dialect) as url, start_app(tmp_path, url) as api:
        type_id = await api.create_type("아우터")
        body = {"name": "울\x00니트", "description": "", "content": "", "productTypeId": type_id, "productStyles": [],
                "unitPrice": 1000, "quantity": 1, "imageIds": []}
        created = await api.client.post("/products", json=body, headers=api.admin)
        assert created.status_code == (422 if dialect == "postgres" else 201), created.text
        found = (await api.client.get("/products/search", params={"keyword": "니트"})).json()["total"]
        assert found == (0 if dialect == "postgres" else 1)


async def _upgrade_to(db: Database, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    def run(connection: Any, location: str, version_table: str, target: str) -> None:
        cfg = Config()
        cfg.set_main_option("script_location", location)
        cfg.attributes["connection"] = connection
        cfg.attributes["version_table"] = version_table
        command.upgrade(cfg, target)

    async with db.write_engine.begin() as conn:
        await conn.run_sync(run, KIT_MIGRATIONS, "kit_alembic_version", "head")
    async with db.write_engine.begin() as conn:
        await conn.run_sync(run, str(MIGRATIONS), "alembic_version", revision)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_migration_backfills_a_live_only_index(dialect: str, tmp_path: Path, fresh_database: Any) -> None:
    async with fresh_database(dialect) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path / 'product.db'}")
        try:
            await _upgrade_to(db, "20261123_0001")
            now = datetime.now(UTC)
            rows = []
            for i, (name, deleted) in enumerate((("울 니트 가디건", None), ("니트 조끼", now), ("니트 모자", None)),
                                                start=1):
                rows.append({"id": i, "name": name, "sort_name": name, "description": "", "content": "",
                             "product_type_id": 1, "unit_price": 1000 * i, "quantity": 1, "like_count": 0,
                             "units_sold": 0, "thumbnail_image_id": None, "search_text": name,  # 0001's columns
                             "search_grams": "", "created_at": now, "updated_at": now, "deleted_at": deleted})
            product = sa.table("product", *(sa.column(name, Product.__table__.c[name].type) for name in rows[0]))
            async with db.write_engine.begin() as conn:
                await conn.execute(insert(ProductType.__table__), [{"id": 1, "type": "아우터", "created_at": now}])
                await conn.execute(insert(product), rows)
                if db.dialect == "mysql":  # the old code kept the grams of deleted products
                    await conn.execute(insert(ProductGram.__table__), [
                        {"gram": g, "product_id": r["id"]} for r in rows for g in ("니", "니트")])
            await db.migrate(MIGRATIONS)  # up to head: the live-only indexes are built from the rows there

            assert await indexed_ids(db, "니트") == {1, 3}
            assert await indexed_ids(db, "조") == set()
            assert await trigram_ids(db, "니트조") in (set(), None)
            assert await trigram_ids(db, "니트모") in ({3}, None)
            async with db.read_sessions() as session:  # the vocabulary of live names, for typos
                page = await search_products(session, db.dialect, SearchQuery(keyword="가디견"), None)
            assert [s.product_id for s in page.items] == [1]
            async with db.read_sessions() as session:
                page = await search_products(session, db.dialect, SearchQuery(keyword="니트", sort=SortOrder.price_asc),
                                             None)
            assert ([s.product_id for s in page.items], page.total) == ([1, 3], 2)
            async with db.read_sessions() as session:  # the live count is backfilled
                page = await search_products(session, db.dialect, SearchQuery(), None)
            assert ([s.product_id for s in page.items], page.total) == ([3, 1], 2)
        finally:
            await db.dispose()


async def test_migration_adds_mariadb_trigram_tokens(tmp_path: Path, fresh_database: Any) -> None:
    """A MariaDB catalog indexed before 20261204_0005 (no trigram tokens) gets them for its live products."""
    from gluta_product.catalog.search import build_search_fields

    async with fresh_database("mysql") as url:
        db = Database(url)
        try:
            await db.migrate(MIGRATIONS)
            now = datetime.now(UTC)
            rows = [(1, "Wool Cardigan", None), (2, "Wool Scarf", now)]
            async with db.write_engine.begin() as conn:
                await conn.execute(insert(ProductType.__table__), [{"id": 1, "type": "아우터", "created_at": now}])
                for product_id, name, deleted in rows:
                    fields = build_search_fields(name, "", "")
                    await conn.execute(insert(Product.__table__), [{
                        "id": product_id, "name": name, "sort_name": name.lower(), "description": "", "content": "",
                        "product_type_id": 1, "unit_price": 1000, "quantity": 1, "received": 1, "like_count": 0,
                        "units_sold": 0, "search_text": fields.search_text, "search_name": fields.search_name,
                        "search_initials": fields.search_initials, "search_grams": "", "created_at": now,
                        "updated_at": now, "deleted_at": deleted}])
                    if deleted is None:  # the tokens 20261204_0004 kept: no trigrams
                        await conn.execute(insert(ProductGram.__table__), [
                            {"gram": t, "product_id": product_id}
                            for t in sorted(fields.tokens() - fields.trigram_tokens())])
                await conn.execute(text("UPDATE product_counter SET value = 1 WHERE name = 'live'"))
                await conn.execute(text("UPDATE alembic_version SET version_num = '20261204_0004'"))
            await db.migrate(MIGRATIONS)
            async with db.read_sessions() as session:
                tokens = set((await session.scalars(select(ProductGram.gram).where(
                    ProductGram.product_id == 1, ProductGram.gram.in_(["twoo", "mcar", "tgan"])))).all())
                deleted = await session.scalar(select(sa.func.count()).where(ProductGram.product_id == 2))
                page = await search_products(session, db.dialect, SearchQuery(keyword="cardigan"), None)
            assert tokens == {"twoo", "mcar", "tgan"} and deleted == 0
            assert [s.product_id for s in page.items] == [1] and page.total == 1
        finally:
            await db.dispose()
