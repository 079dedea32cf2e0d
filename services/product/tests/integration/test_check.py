"""The product service's figures for `gluta check`: stock adds up through the whole saga and admin edits;
a quantity changed behind the service's back does not."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from gluta_contracts import OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced
from gluta_product.catalog.models import Product
from gluta_product.stock.service import count_sales, release_stock, reserve_stock

DIALECTS = ["sqlite", "mysql", "postgres"]


async def check(api: Any) -> dict[str, Any]:
    response = await api.client.get("/internal/check")
    assert response.status_code == 200, response.text
    return response.json()


def lines(*pairs: tuple[int, int]) -> list[OrderLine]:
    return [OrderLine(product_id=p, quantity=q) for p, q in pairs]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_stock_adds_up_through_orders_and_admin_edits(dialect: str, tmp_path: Any, start_app: Any,
                                                           fresh_database: Any) -> None:
    async with fresh_database(dialect) as url, start_app(tmp_path, url) as api:
        type_id = await api.create_type("상의")
        product = await api.create_product(type_id, quantity=10)
        pid = product["productId"]
        uow = api.service.uow
        await reserve_stock(uow(), OrderPlaced(order_id=1, member_id=7, lines=lines((pid, 3))))
        await reserve_stock(uow(), OrderPlaced(order_id=2, member_id=7, lines=lines((pid, 2))))
        await count_sales(uow(), OrderConfirmed(order_id=1, member_id=7, lines=lines((pid, 3)), pay_amount=0))
        figures = await check(api)
        stock = figures["invariants"]["stock"]
        assert stock["ok"], stock
        assert {k: stock["figures"][k] for k in ("onShelf", "reserved", "received", "sold")} == \
            {"onShelf": 5, "reserved": 2, "received": 10, "sold": 3}
        assert figures["invariants"]["unitsSold"] == {str(pid): 3}
        assert figures["invariants"]["reservations"]["counted"] == [1]
        assert figures["invariants"]["reservations"]["pending"] == [2]

        # the administrator sets the quantity to 20: what was received moves by the difference (5 → 20)
        body = {"name": product["name"], "description": "", "content": "", "productTypeId": type_id,
                "productStyles": [], "unitPrice": 10_000, "quantity": 20, "imageIds": []}
        assert (await api.client.put(f"/products/{pid}", json=body, headers=api.admin)).status_code == 200
        await release_stock(uow(), OrderCancelled(order_id=2, member_id=7, reason="TIMEOUT", lines=lines((pid, 2))))
        await release_stock(uow(), OrderCancelled(order_id=1, member_id=7, reason="CANCELLED_BY_MEMBER",
                                                  lines=lines((pid, 3)), was_confirmed=True))
        stock = (await check(api))["invariants"]["stock"]
        assert stock["ok"], stock
        assert {k: stock["figures"][k] for k in ("onShelf", "reserved", "received", "sold")} == \
            {"onShelf": 25, "reserved": 0, "received": 25, "sold": 0}

        async with api.service.db.write_sessions() as session:  # a unit appears from nowhere
            await session.execute(update(Product).where(Product.id == pid).values(quantity=Product.quantity + 1))
            await session.commit()
        stock = (await check(api))["invariants"]["stock"]
        assert not stock["ok"] and stock["problemCount"] == 1
        assert stock["problems"] == [f"product {pid}: on shelf 26 + reserved 0 = 26 but received 25 − sold 0 = 25"]


async def test_the_check_is_internal(tmp_path: Any, start_app: Any) -> None:
    async with start_app(tmp_path, None, internal_token="s3cret-internal") as api:
        assert (await api.client.get("/internal/check")).status_code == 403
        allowed = await api.client.get("/internal/check", headers={"X-Internal-Token": "s3cret-internal"})
        assert allowed.status_code == 200 and allowed.json()["service"] == "product"
        assert allowed.json()["outbox"]["pending"] >= 0 and allowed.json()["deadLetters"] == 0


async def _migrate_to(db: Any, revision: str) -> None:
    from alembic import command
    from alembic.config import Config

    from gluta_kit.db import KIT_MIGRATIONS
    from gluta_product.app import MIGRATIONS

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
async def test_the_migration_starts_received_where_the_stock_adds_up(dialect: str, tmp_path: Any,
                                                                    fresh_database: Any) -> None:
    """Existing products: received = quantity + units sold + units held by pending reservations."""
    from datetime import UTC, datetime

    from sqlalchemy import column, insert, select, table

    from gluta_kit.db import Database
    from gluta_product.app import MIGRATIONS
    from gluta_product.catalog.models import ProductType
    from gluta_product.stock.models import StockReservation

    async with fresh_database(dialect) as url:
        db = Database(url or f"sqlite+aiosqlite:///{tmp_path / 'product.db'}")
        try:
            await _migrate_to(db, "20261124_0002")
            now = datetime.now(UTC)
            products = [{"id": i, "name": f"p{i}", "sort_name": f"p{i}", "description": "", "content": "",
                         "product_type_id": 1, "unit_price": 1000, "quantity": quantity, "like_count": 0,
                         "units_sold": sold, "thumbnail_image_id": None, "search_text": f"p{i}", "search_grams": "",
                         "created_at": now, "updated_at": now, "deleted_at": None}
                        for i, quantity, sold in ((1, 5, 2), (2, 0, 0))]
            reservations = [
                {"order_id": 10, "status": "RESERVED", "sales_state": "NONE",
                 "lines": '[{"productId": 1, "quantity": 3}]'},
                {"order_id": 11, "status": "RESERVED", "sales_state": "COUNTED",
                 "lines": '[{"productId": 1, "quantity": 2}]'},
                {"order_id": 12, "status": "RELEASED", "sales_state": "NONE",
                 "lines": '[{"productId": 2, "quantity": 9}]'},
            ]
            async with db.write_engine.begin() as conn:
                await conn.execute(insert(ProductType.__table__), [{"id": 1, "type": "아우터", "created_at": now}])
                # The table as revision 20261124_0002 has it: later columns (received, the search columns) are not
                # there yet, so the model (whose defaults would name them) is not used.
                old_product = table("product", *(column(name) for name in products[0]))
                await conn.execute(insert(old_product), [{**p, "created_at": now.replace(tzinfo=None),
                                                          "updated_at": now.replace(tzinfo=None)} for p in products])
                await conn.execute(insert(StockReservation.__table__),
                                   [{**r, "created_at": now, "updated_at": now} for r in reservations])
            await db.migrate(MIGRATIONS)
            async with db.read_sessions() as session:
                received = dict((await session.execute(select(Product.id, Product.received))).all())
            assert received == {1: 5 + 2 + 3, 2: 0}
        finally:
            await db.dispose()
