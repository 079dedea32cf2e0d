"""Stock in the checkout saga: all lines or none, never below zero, exactly once, whatever the order of events."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from gluta_contracts import OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced
from gluta_product.catalog.models import Product
from gluta_product.stock.models import StockReservation
from gluta_product.stock.service import count_sales, release_stock, reserve_stock

DIALECTS = ["sqlite", "mysql", "postgres"]


def placed(order_id: int, *lines: tuple[int, int], **kwargs: Any) -> OrderPlaced:
    return OrderPlaced(order_id=order_id, member_id=7, lines=[OrderLine(product_id=p, quantity=q) for p, q in lines],
                       **kwargs)


def cancelled(order_id: int, *lines: tuple[int, int], was_confirmed: bool = False) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, member_id=7, reason="CANCELLED_BY_MEMBER", was_confirmed=was_confirmed,
                          lines=[OrderLine(product_id=p, quantity=q) for p, q in lines])


async def stock_of(api: Any, product_id: int) -> tuple[int, int]:
    async with api.service.db.read_sessions() as session:
        row = (await session.execute(select(Product.quantity, Product.units_sold)
                                     .where(Product.id == product_id))).one()
    return row[0], row[1]


async def statuses(api: Any) -> dict[int, str]:
    async with api.service.db.read_sessions() as session:
        return dict((await session.execute(select(StockReservation.order_id, StockReservation.status))).all())


async def with_retries(call: Any) -> None:
    """Retry like the bus does when a transaction loses a lock race (deadlock, serialisation)."""
    for attempt in range(8):
        try:
            await call()
            return
        except Exception:
            if attempt == 7:
                raise
            await asyncio.sleep(0.05 * (attempt + 1))


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_fifty_concurrent_orders_on_stock_ten_reserve_exactly_ten(dialect: str, tmp_path: Any, start_app: Any,
                                                                       fresh_database: Any) -> None:
    async with fresh_database(dialect) as url, start_app(tmp_path, url) as api:
        product = await api.create_product(await api.create_type("상의"), quantity=10)
        pid = product["productId"]
        events = [placed(order_id, (pid, 1)) for order_id in range(1, 51)]
        await asyncio.gather(*(with_retries(lambda e=e: reserve_stock(api.service.uow(), e)) for e in events))
        outcome = await statuses(api)
        assert list(outcome.values()).count("RESERVED") == 10
        assert list(outcome.values()).count("REJECTED") == 40
        assert (await stock_of(api, pid))[0] == 0
        assert len(await api.outbox("gluta.product.stock-reserved")) == 10
        rejected = [orjson.loads(p) for p in await api.outbox("gluta.product.stock-rejected")]
        assert len(rejected) == 40
        assert rejected[0]["shortLines"] == [{"productId": pid, "requested": 1, "available": 0}]


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_order_lifecycle_through_the_bus(dialect: str, tmp_path: Any, start_app: Any,
                                               fresh_database: Any) -> None:
    async with fresh_database(dialect) as url, start_app(tmp_path, url) as api:
        type_id = await api.create_type("상의")
        a = (await api.create_product(type_id, "A", quantity=5))["productId"]
        b = (await api.create_product(type_id, "B", quantity=2))["productId"]
        bus = api.service.bus

        # a redelivered OrderPlaced reserves once
        order = placed(100, (a, 2), (b, 1), (a, 1))
        await bus.publish_event(order)
        await bus.publish_event(order)
        assert await stock_of(api, a) == (2, 0) and await stock_of(api, b) == (1, 0)
        assert len(await api.outbox("gluta.product.stock-reserved")) == 1
        changed = [orjson.loads(p) for p in await api.outbox("gluta.product.product-changed")]
        assert {"productId": a, "quantity": 2} in [{k: c[k] for k in ("productId", "quantity")} for c in changed]

        # the same order under another event id is not reserved twice
        await bus.publish_event(placed(100, (a, 2), (b, 1), (a, 1)))
        assert await stock_of(api, a) == (2, 0)

        # all lines or none: B is short, so A is not taken either
        await bus.publish_event(placed(101, (a, 1), (b, 5)))
        assert await stock_of(api, a) == (2, 0) and await stock_of(api, b) == (1, 0)
        rejected = orjson.loads((await api.outbox("gluta.product.stock-rejected"))[0])
        assert rejected["orderId"] == 101
        assert rejected["shortLines"] == [{"productId": b, "requested": 5, "available": 1}]

        # confirmed: units sold go up once, even when redelivered
        confirmed = OrderConfirmed(order_id=100, member_id=7, pay_amount=1, lines=order.lines)
        await bus.publish_event(confirmed)
        await bus.publish_event(confirmed)
        assert await stock_of(api, a) == (2, 3) and await stock_of(api, b) == (1, 1)

        # cancelled after confirmation: stock back once, units sold back once (two event ids for one order)
        await bus.publish_event(cancelled(100, (a, 3), (b, 1), was_confirmed=True))
        await bus.publish_event(cancelled(100, (a, 3), (b, 1), was_confirmed=True))
        assert await stock_of(api, a) == (5, 0) and await stock_of(api, b) == (2, 0)
        released = [orjson.loads(p) for p in await api.outbox("gluta.product.stock-released")]
        assert len(released) == 1 and released[0]["orderId"] == 100

        # cancelling the rejected order puts nothing back
        await bus.publish_event(cancelled(101, (a, 1), (b, 5)))
        assert await stock_of(api, a) == (5, 0) and await stock_of(api, b) == (2, 0)
        assert (await statuses(api))[101] == "REJECTED"


async def test_cancellation_before_the_order_leaves_a_tombstone(api: Any) -> None:
    pid = (await api.create_product(await api.create_type("상의"), quantity=3))["productId"]
    await release_stock(api.service.uow(), cancelled(200, (pid, 1)))
    await reserve_stock(api.service.uow(), placed(200, (pid, 1)))
    assert await stock_of(api, pid) == (3, 0)
    assert (await statuses(api))[200] == "CANCELLED_FIRST"
    assert await api.outbox("gluta.product.stock-reserved") == []
    assert await api.outbox("gluta.product.stock-released") == []


async def test_a_cancellation_of_a_confirmed_order_arriving_first_keeps_sales_right(api: Any) -> None:
    pid = (await api.create_product(await api.create_type("상의"), quantity=3))["productId"]
    await reserve_stock(api.service.uow(), placed(300, (pid, 2)))
    await release_stock(api.service.uow(), cancelled(300, (pid, 2), was_confirmed=True))
    await count_sales(api.service.uow(), OrderConfirmed(order_id=300, member_id=7, pay_amount=1,
                                                        lines=[OrderLine(product_id=pid, quantity=2)]))
    assert await stock_of(api, pid) == (3, 0)


async def test_deleted_or_unknown_products_are_never_reserved(api: Any) -> None:
    pid = (await api.create_product(await api.create_type("상의"), quantity=3))["productId"]
    assert (await api.client.delete(f"/products/{pid}", headers=api.admin)).status_code == 204
    await reserve_stock(api.service.uow(), placed(400, (pid, 1)))
    await reserve_stock(api.service.uow(), placed(401, (999, 1)))
    await reserve_stock(api.service.uow(), placed(402, (pid, 0)))
    assert await stock_of(api, pid) == (3, 0)
    assert set((await statuses(api)).values()) == {"REJECTED"}
