"""Stock in the checkout saga: reserve all lines or none, release exactly once, count sales.

Every handler claims its event in the inbox in the same transaction as its effect, so a redelivery
changes nothing; the reservation row (one per order) guards against a second reservation or release
even when the same order arrives under another event id, and a cancellation that comes first leaves
a tombstone so the late order is never reserved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import orjson
from sqlalchemy import case, select, update

from gluta_contracts import (
    OrderCancelled,
    OrderConfirmed,
    OrderLine,
    OrderPlaced,
    ShortLine,
    StockRejected,
    StockReleased,
    StockReserved,
)
from gluta_kit.logging import get_logger
from gluta_kit.models import utcnow
from gluta_kit.uow import UnitOfWork
from gluta_product.catalog.models import Product
from gluta_product.catalog.service import product_changed
from gluta_product.stock.models import (
    CANCELLED_FIRST,
    REJECTED,
    RELEASED,
    RESERVED,
    SALES_COUNTED,
    SALES_NONE,
    SALES_REVERSED,
    StockReservation,
)

log = get_logger("gluta.product.stock")

RESERVE_CONSUMER = "product-reserve-stock"
RELEASE_CONSUMER = "product-release-stock"
SALES_CONSUMER = "product-count-sales"


def merge_lines(lines: Iterable[OrderLine]) -> dict[int, int]:
    """Add up the quantities per product (an order may name a product twice)."""
    merged: dict[int, int] = defaultdict(int)
    for line in lines:
        merged[line.product_id] += line.quantity
    return dict(sorted(merged.items()))  # one lock order for every transaction: no deadlocks between orders


async def _announce_stock(uow: UnitOfWork, product_ids: Iterable[int]) -> None:
    products = (await uow.session.scalars(select(Product).where(Product.id.in_(list(product_ids)))
                                          .execution_options(populate_existing=True))).all()
    for product in products:
        uow.outbox.add(product_changed(product))


async def reserve_stock(uow: UnitOfWork, event: OrderPlaced) -> None:
    """Take every line of an order from stock in one transaction, or none; announce the outcome."""
    async with uow:
        if not await uow.claim_event(event.event_id, RESERVE_CONSUMER):
            return
        session = uow.session
        existing = await session.get(StockReservation, event.order_id)
        if existing is not None:
            log.info("stock.order_seen_before", orderId=event.order_id, status=existing.status)
            await uow.commit()
            return
        wanted = merge_lines(event.lines)
        short: list[ShortLine] = []
        taken: dict[int, int] = {}
        now = utcnow()
        for product_id, quantity in wanted.items():
            if quantity <= 0:
                short.append(ShortLine(product_id=product_id, requested=quantity, available=0))
                continue
            result = await session.execute(
                update(Product)
                .where(Product.id == product_id, Product.quantity >= quantity, Product.deleted_at.is_(None))
                .values(quantity=Product.quantity - quantity, updated_at=now))
            if result.rowcount:
                taken[product_id] = quantity
            else:
                # A locking (current) read: under REPEATABLE READ a plain read would show the snapshot.
                available = await session.scalar(select(Product.quantity).where(
                    Product.id == product_id, Product.deleted_at.is_(None)).with_for_update())
                short.append(ShortLine(product_id=product_id, requested=quantity, available=int(available or 0)))
        if short:
            for product_id, quantity in taken.items():  # all or none: put back what this order took
                await session.execute(update(Product).where(Product.id == product_id)
                                      .values(quantity=Product.quantity + quantity))
            status = REJECTED
            uow.outbox.add(StockRejected(order_id=event.order_id, short_lines=short))
        else:
            status = RESERVED
            uow.outbox.add(StockReserved(order_id=event.order_id, lines=list(event.lines)))
            await _announce_stock(uow, taken)
        session.add(StockReservation(
            order_id=event.order_id, status=status, sales_state=SALES_NONE, created_at=now, updated_at=now,
            lines=orjson.dumps([{"productId": p, "quantity": q} for p, q in wanted.items()]).decode()))
        await uow.commit()
    log.info("stock.reservation", orderId=event.order_id, status=status, short=len(short))


async def release_stock(uow: UnitOfWork, event: OrderCancelled) -> None:
    """Put a cancelled order's stock back exactly once; remember a cancellation that came first."""
    async with uow:
        if not await uow.claim_event(event.event_id, RELEASE_CONSUMER):
            return
        session = uow.session
        now = utcnow()
        reservation = await session.scalar(select(StockReservation).where(
            StockReservation.order_id == event.order_id).with_for_update())
        if reservation is None:
            session.add(StockReservation(order_id=event.order_id, status=CANCELLED_FIRST, lines="[]",
                                         sales_state=SALES_REVERSED if event.was_confirmed else SALES_NONE,
                                         created_at=now, updated_at=now))
            await uow.commit()
            log.info("stock.cancelled_before_placed", orderId=event.order_id)
            return
        if event.was_confirmed:
            await _reverse_sales(uow, reservation)
        released = await session.execute(
            update(StockReservation).where(StockReservation.order_id == event.order_id,
                                           StockReservation.status == RESERVED)
            .values(status=RELEASED, updated_at=now))
        if released.rowcount:
            lines = orjson.loads(reservation.lines)
            for line in sorted(lines, key=lambda item: item["productId"]):
                await session.execute(update(Product).where(Product.id == line["productId"])
                                      .values(quantity=Product.quantity + line["quantity"], updated_at=now))
            uow.outbox.add(StockReleased(order_id=event.order_id, lines=[
                OrderLine(product_id=line["productId"], quantity=line["quantity"]) for line in lines]))
            await _announce_stock(uow, [line["productId"] for line in lines])
        await uow.commit()


async def _add_sales(uow: UnitOfWork, quantities: dict[int, int], sign: int) -> None:
    for product_id, quantity in quantities.items():
        if sign > 0:
            value = Product.units_sold + quantity
        else:
            value = case((Product.units_sold >= quantity, Product.units_sold - quantity), else_=0)
        await uow.session.execute(update(Product).where(Product.id == product_id).values(units_sold=value))


async def _reverse_sales(uow: UnitOfWork, reservation: StockReservation) -> None:
    counted = await uow.session.execute(
        update(StockReservation).where(StockReservation.order_id == reservation.order_id,
                                       StockReservation.sales_state == SALES_COUNTED)
        .values(sales_state=SALES_REVERSED))
    if counted.rowcount:
        await _add_sales(uow, {line["productId"]: line["quantity"] for line in orjson.loads(reservation.lines)}, -1)
    else:  # the confirmation has not been counted yet: make sure it never is
        await uow.session.execute(
            update(StockReservation).where(StockReservation.order_id == reservation.order_id,
                                           StockReservation.sales_state == SALES_NONE)
            .values(sales_state=SALES_REVERSED))


async def count_sales(uow: UnitOfWork, event: OrderConfirmed) -> None:
    """Add a confirmed order's units to each product's units sold, once."""
    async with uow:
        if not await uow.claim_event(event.event_id, SALES_CONSUMER):
            return
        reservation = await uow.session.get(StockReservation, event.order_id)
        if reservation is not None:
            marked = await uow.session.execute(
                update(StockReservation).where(StockReservation.order_id == event.order_id,
                                               StockReservation.sales_state == SALES_NONE)
                .values(sales_state=SALES_COUNTED, updated_at=utcnow()))
            if not marked.rowcount:
                await uow.commit()
                return
        await _add_sales(uow, merge_lines(event.lines), +1)
        await uow.commit()
