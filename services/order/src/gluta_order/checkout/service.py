"""The checkout saga, by choreography.

1. `place_order`: price the lines from the snapshot, check the coupons, then in ONE local transaction:
   order PENDING, pay money taken (conditional update), coupons marked used, `OrderPlaced` in the outbox.
2. The product service reserves the stock and answers `StockReserved` or `StockRejected`.
3. `confirm_order` (StockReserved): PENDING -> CONFIRMED, `OrderConfirmed`, bought lines leave the cart.
   `reject_order` (StockRejected): PENDING -> CANCELLED (OUT_OF_STOCK) with every compensation.
4. A PENDING order older than the timeout is cancelled (TIMEOUT) by the sweeper, with the same
   compensations; a member may cancel a PENDING or CONFIRMED order.

Every transition is a conditional update on the status, so exactly one of the racing parties (the
stock answer, the sweeper, the member) wins and compensations run once. `OrderCancelled` is written
in the same transaction as the CANCELLED status: whenever a late `StockReserved` finds the order
cancelled, the `OrderCancelled` that tells the product service to release that stock is already
committed in the outbox, so the late reservation is released without anything more from here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, case, delete, false, func, insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_contracts import OrderCancelled, OrderConfirmed, OrderLine, OrderPlaced, StockRejected, StockReserved
from gluta_kit.db import Database, retry_transient
from gluta_kit.logging import get_logger
from gluta_kit.uow import UnitOfWork
from gluta_order.cart.models import CartItem
from gluta_order.checkout.exceptions import CartEmpty, NotCancellable, OrderNotFound
from gluta_order.checkout.models import CANCELLED, CONFIRMED, PENDING, Order, OrderItem
from gluta_order.checkout.pricing import HeldCoupon, PricedOrder, ProductPrice, WantedLine, price_order
from gluta_order.checkout.schemas import OrderCreate, OrderRead
from gluta_order.common import recall_answer, recall_in, sales_date
from gluta_order.coupon.exceptions import CouponNotUsable
from gluta_order.coupon.models import Coupon, MemberCoupon
from gluta_order.snapshot.models import ProductSnapshot
from gluta_order.snapshot.reader import ProductReader
from gluta_order.snapshot.service import with_read_through
from gluta_order.wallet.models import REFUND
from gluta_order.wallet.service import RETURNING_UPDATES, credit, debit

log = get_logger("gluta.order.checkout")

CHECKOUT_SCOPE = "checkout"
CANCEL_SCOPE = "order-cancel"
CONFIRM_CONSUMER = "order-confirm"
REJECT_CONSUMER = "order-stock-rejected"

OUT_OF_STOCK = "OUT_OF_STOCK"
TIMEOUT = "TIMEOUT"
CANCELLED_BY_MEMBER = "CANCELLED_BY_MEMBER"

UowFactory = Callable[[], UnitOfWork]

# Core tables for the hot path: plain INSERT/UPDATE statements skip the ORM's unit-of-work bookkeeping
ORDERS = Order.__table__
ORDER_LINES = OrderItem.__table__
MEMBER_COUPONS = MemberCoupon.__table__
# built once; values are bound at execution
_INSERT_ORDER = insert(ORDERS)
_INSERT_LINES = insert(ORDER_LINES)
_PRICES = (select(ProductSnapshot.product_id, ProductSnapshot.name, ProductSnapshot.unit_price,
                  ProductSnapshot.on_sale)
           .where(ProductSnapshot.product_id.in_(bindparam("ids", expanding=True))))


# --- reading --------------------------------------------------------------------------------------
def order_read(order: Order, lines: Sequence[OrderItem]) -> OrderRead:
    """Build the public view of an order."""
    return OrderRead.model_validate({
        "order_id": order.id, "member_id": order.member_id, "status": order.status,
        "cancel_reason": order.cancel_reason,
        "items": [{"product_id": li.product_id, "name": li.name, "unit_price": li.unit_price,
                   "quantity": li.quantity, "member_coupon_id": li.member_coupon_id, "discount": li.discount,
                   "line_total": li.line_total} for li in lines],
        "total_amount": order.total_amount, "discount_amount": order.discount_amount,
        "pay_amount": order.pay_amount, "receiver": orjson.loads(order.receiver),
        "created_at": order.created_at, "updated_at": order.updated_at,
    })


async def _lines_of(session: AsyncSession, order_ids: Iterable[int]) -> dict[int, list[OrderItem]]:
    ids = list(order_ids)
    found: dict[int, list[OrderItem]] = {i: [] for i in ids}
    if ids:
        rows = (await session.scalars(select(OrderItem).where(OrderItem.order_id.in_(ids))
                                      .order_by(OrderItem.id))).all()
        for row in rows:
            found[row.order_id].append(row)
    return found


async def get_order(db: Database, order_id: int, member_id: int | None) -> OrderRead:
    """Return an order; a member sees only their own (another's answers 404)."""
    async with db.read_sessions() as session:
        query = select(Order).where(Order.id == order_id)
        if member_id is not None:
            query = query.where(Order.member_id == member_id)
        order = await session.scalar(query)
        if order is None:
            raise OrderNotFound()
        lines = await _lines_of(session, [order.id])
    return order_read(order, lines[order.id])


async def list_orders(db: Database, *, member_id: int | None, status: str | None, page: int,
                      size: int) -> tuple[list[OrderRead], int]:
    """Return one page of orders, newest first, and the total count."""
    conditions = []
    if member_id is not None:
        conditions.append(Order.member_id == member_id)
    if status is not None:
        conditions.append(Order.status == status)
    async with db.read_sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(Order).where(*conditions)) or 0)
        orders = (await session.scalars(select(Order).where(*conditions).order_by(Order.id.desc())
                                        .offset((page - 1) * size).limit(size))).all()
        lines = await _lines_of(session, [o.id for o in orders])
    return [order_read(o, lines[o.id]) for o in orders], total


# --- placing --------------------------------------------------------------------------------------
async def _wanted_lines(session: AsyncSession, member_id: int, body: OrderCreate) -> list[WantedLine]:
    if not body.from_cart:
        return [WantedLine(i.product_id, i.quantity, i.member_coupon_id) for i in body.items or []]
    rows = (await session.execute(select(CartItem.product_id, CartItem.quantity)
                                  .where(CartItem.member_id == member_id).order_by(CartItem.id))).all()
    if not rows:
        raise CartEmpty("there is nothing in your cart")
    coupons = dict(body.coupons_by_product or {})
    in_cart = {product_id for product_id, _ in rows}
    stray = sorted(set(coupons) - in_cart)
    if stray:
        raise CouponNotUsable(f"product {stray[0]} is not in your cart")
    return [WantedLine(product_id, quantity, coupons.get(product_id)) for product_id, quantity in rows]


async def _held_coupons(session: AsyncSession, member_coupon_ids: Iterable[int]) -> dict[int, HeldCoupon]:
    ids = sorted(set(member_coupon_ids))
    if not ids:
        return {}
    rows = (await session.execute(
        select(MemberCoupon, Coupon).join(Coupon, Coupon.id == MemberCoupon.coupon_id)
        .where(MemberCoupon.id.in_(ids)))).all()
    return {
        mc.id: HeldCoupon(member_coupon_id=mc.id, member_id=mc.member_id, used=mc.used,
                          discount_type=c.discount_type, discount_value=c.discount_value,
                          max_discount=c.max_discount, min_order_amount=c.min_order_amount,
                          product_id=c.product_id, starts_at=c.starts_at, ends_at=c.ends_at)
        for mc, c in rows
    }


async def _price(session: AsyncSession, member_id: int, body: OrderCreate, now: datetime) -> PricedOrder:
    """Price the order from the snapshot and the member's coupons, read in the given session."""
    wanted = await _wanted_lines(session, member_id, body)
    ids = sorted({w.product_id for w in wanted})
    rows = (await session.execute(_PRICES, {"ids": ids})).all()
    coupons = await _held_coupons(session, [w.member_coupon_id for w in wanted if w.member_coupon_id])
    products = {pid: ProductPrice(pid, name, unit_price, on_sale) for pid, name, unit_price, on_sale in rows}
    return price_order(wanted, products, coupons, member_id=member_id, now=now)


def _event_lines(lines: Iterable[Any]) -> list[OrderLine]:
    return [OrderLine(product_id=li.product_id, quantity=li.quantity, unit_price=li.unit_price,
                      line_total=li.line_total) for li in lines]


async def place_order(*, uow_factory: UowFactory, db: Database, member_id: int, body: OrderCreate, key: str,
                      now: datetime, products: ProductReader) -> dict[str, Any]:
    """Place an order (PENDING) once per Idempotency-Key; return its JSON view.

    One transaction does it all: the first answer to this key if there is one, else the pricing reads,
    the writes and the key's answer (on SQLite that is one short turn of the write lock, run inline).
    A product the snapshot does not know yet is read through from the product service first (outside
    the transaction), then the transaction runs again.
    """
    try:
        async def work() -> dict[str, Any]:
            async with uow_factory() as uow:
                first = await recall_in(uow.session, CHECKOUT_SCOPE, member_id, key)
                if first is not None:
                    return first
                priced = await _price(uow.session, member_id, body, now)
                answer = await _write_order(uow, member_id=member_id, body=body, priced=priced, now=now)
                # the key's row is unique: a concurrent twice-sent request fails here at commit
                uow.remember(CHECKOUT_SCOPE, member_id, key, answer)
                await uow.commit()
                return answer

        return await with_read_through(lambda: retry_transient(work), reader=products, uow_factory=uow_factory)
    except Exception:
        # a concurrent request with the same key may have won (or the first answer made the coupon used)
        stored = await recall_answer(db, CHECKOUT_SCOPE, member_id, key)
        if stored is not None:
            return stored
        raise


async def _write_order(uow: UnitOfWork, *, member_id: int, body: OrderCreate, priced: PricedOrder,
                       now: datetime) -> dict[str, Any]:
    """Write the order, its lines, the coupons' use and the payment (Core statements: no ORM flush)."""
    session = uow.session
    receiver = body.receiver.model_dump(by_alias=True)
    order = {"member_id": member_id, "status": PENDING, "cancel_reason": None, "was_confirmed": False,
             "total_amount": priced.total_amount, "discount_amount": priced.discount_amount,
             "pay_amount": priced.pay_amount, "units": priced.units, "from_cart": body.from_cart,
             "receiver": orjson.dumps(receiver).decode(), "order_date": sales_date(now),
             "created_at": now, "updated_at": now}
    order_id = int((await session.execute(_INSERT_ORDER, order)).inserted_primary_key[0])
    lines = [{"order_id": order_id, "product_id": li.product_id, "name": li.name, "unit_price": li.unit_price,
              "quantity": li.quantity, "member_coupon_id": li.member_coupon_id, "discount": li.discount,
              "line_total": li.line_total} for li in priced.lines]
    await session.execute(_INSERT_LINES, lines)
    for line in priced.lines:
        if line.member_coupon_id is None:
            continue
        used = await session.execute(
            update(MEMBER_COUPONS)
            .where(MEMBER_COUPONS.c.id == line.member_coupon_id, MEMBER_COUPONS.c.member_id == member_id,
                   MEMBER_COUPONS.c.used.is_(False))
            .values(used=True, used_order_id=order_id, used_at=now)
        )
        if used.rowcount != 1:
            raise CouponNotUsable("this coupon was already used")
    if priced.pay_amount > 0:
        # last, so the wallet row stays locked for as short a time as possible
        await debit(session, uow.db.dialect, member_id=member_id, amount=priced.pay_amount, order_id=order_id,
                    now=now)
    uow.outbox.add(OrderPlaced(order_id=order_id, member_id=member_id, lines=_event_lines(priced.lines)))
    return OrderRead.model_validate({
        **order, "order_id": order_id, "receiver": receiver,
        "items": [{k: v for k, v in li.items() if k != "order_id"} for li in lines],
    }).model_dump(by_alias=True, mode="json")


# --- the saga's answers ---------------------------------------------------------------------------
async def confirm_order(*, uow: UnitOfWork, event: StockReserved, now: datetime) -> bool:
    """StockReserved: PENDING -> CONFIRMED once; a cancelled order stays cancelled. Return whether it confirmed."""
    return (await confirm_orders(uow=uow, events=[event], now=now))[0]


async def confirm_orders(*, uow: UnitOfWork, events: Sequence[StockReserved], now: datetime) -> list[bool]:
    """Apply several StockReserved in one transaction, each exactly as `confirm_order` would; return one flag each.

    Set-based: one inbox claim, one conditional UPDATE of the orders, one read of their lines, one multi-row
    outbox INSERT, whatever the number of events (the consumer's group commit hands them over together).
    """
    async with uow:
        session = uow.session
        fresh = await uow.claim_events([e.event_id for e in events], CONFIRM_CONSUMER)
        # a redelivered event (already claimed) changes nothing; two events for one order confirm it once
        order_ids = sorted({e.order_id for e in events if e.event_id in fresh})
        confirmed: dict[int, tuple[int, int, bool]] = {}
        if order_ids:
            pending = (ORDERS.c.id.in_(order_ids), ORDERS.c.status == PENDING)
            stmt = update(ORDERS).where(*pending).values(status=CONFIRMED, updated_at=now)
            wanted = (ORDERS.c.id, ORDERS.c.member_id, ORDERS.c.pay_amount, ORDERS.c.from_cart)
            if uow.db.dialect in RETURNING_UPDATES:
                rows = (await session.execute(stmt.returning(*wanted))).all()
            else:
                # lock the PENDING ones first, then update exactly those
                rows = (await session.execute(select(*wanted).where(*pending).with_for_update())).all()
                if rows:
                    await session.execute(stmt.where(ORDERS.c.id.in_([r[0] for r in rows])))
            confirmed = {int(r[0]): (int(r[1]), int(r[2]), bool(r[3])) for r in rows}
        if confirmed:
            lines: dict[int, list[Any]] = {order_id: [] for order_id in confirmed}
            for line in (await session.execute(
                    select(ORDER_LINES.c.order_id, ORDER_LINES.c.product_id, ORDER_LINES.c.quantity,
                           ORDER_LINES.c.unit_price, ORDER_LINES.c.line_total)
                    .where(ORDER_LINES.c.order_id.in_(sorted(confirmed))).order_by(ORDER_LINES.c.id))).all():
                lines[line.order_id].append(line)
            for order_id in sorted(confirmed):
                member_id, pay_amount, from_cart = confirmed[order_id]
                uow.outbox.add(OrderConfirmed(order_id=order_id, member_id=member_id,
                                              lines=_event_lines(lines[order_id]), pay_amount=pay_amount))
                if from_cart:
                    await session.execute(delete(CartItem).where(
                        CartItem.member_id == member_id,
                        CartItem.product_id.in_([li.product_id for li in lines[order_id]])))
        for order_id in order_ids:
            if order_id not in confirmed:
                # already cancelled (timeout, member) or unknown: its OrderCancelled, committed with the
                # cancellation, makes the product service release this reservation
                log.info("order.late_reservation_ignored", orderId=order_id)
        await uow.commit()
    done: set[int] = set()
    answers = []
    for event in events:  # the first fresh event of a newly confirmed order reports it
        first = event.event_id in fresh and event.order_id in confirmed and event.order_id not in done
        if first:
            done.add(event.order_id)
        answers.append(first)
    return answers


async def reject_order(*, uow: UnitOfWork, event: StockRejected, now: datetime) -> bool:
    """StockRejected: PENDING -> CANCELLED (OUT_OF_STOCK) with pay money and coupons returned."""
    async with uow:
        if not await uow.claim_event(event.event_id, REJECT_CONSUMER):
            return False
        cancelled = await cancel_in(uow, order_id=event.order_id, reason=OUT_OF_STOCK, now=now, statuses=(PENDING,))
        await uow.commit()
        return cancelled is not None


async def _fresh(session: AsyncSession, order_id: int) -> Order:
    return (await session.scalars(select(Order).where(Order.id == order_id)
                                  .execution_options(populate_existing=True))).one()


async def cancel_in(uow: UnitOfWork, *, order_id: int, reason: str, now: datetime, statuses: Sequence[str],
                    member_id: int | None = None, created_before: datetime | None = None) -> Order | None:
    """Cancel an order in one of `statuses` inside the caller's transaction, with every compensation.

    Returns the order when this call cancelled it, None when it was not in such a status (someone else
    won the race, or it does not exist).
    """
    session = uow.session
    stmt = update(Order).where(Order.id == order_id, Order.status.in_(list(statuses)))
    if member_id is not None:
        stmt = stmt.where(Order.member_id == member_id)
    if created_before is not None:
        stmt = stmt.where(Order.created_at < created_before)
    # was_confirmed is computed from the old status: first in SET order, since MySQL applies them left to right
    stmt = stmt.ordered_values(
        (Order.was_confirmed, case((Order.status == CONFIRMED, true()), else_=false())),
        (Order.status, CANCELLED),
        (Order.cancel_reason, reason),
        (Order.updated_at, now),
    )
    result = await session.execute(stmt)
    if result.rowcount != 1:
        return None
    order = await _fresh(session, order_id)
    lines = (await _lines_of(session, [order_id]))[order_id]
    if order.pay_amount > 0:
        await credit(session, uow.db.dialect, member_id=order.member_id, amount=order.pay_amount,
                     entry_type=REFUND, now=now, order_id=order.id)
    await session.execute(
        update(MemberCoupon).where(MemberCoupon.used_order_id == order.id)
        .values(used=False, used_order_id=None, used_at=None)
    )
    uow.outbox.add(OrderCancelled(order_id=order.id, member_id=order.member_id, reason=reason,
                                  lines=_event_lines(lines), was_confirmed=bool(order.was_confirmed)))
    log.info("order.cancelled", orderId=order.id, reason=reason, wasConfirmed=bool(order.was_confirmed))
    return order


async def cancel_order(*, uow_factory: UowFactory, order_id: int, reason: str, now: datetime,
                       statuses: Sequence[str] = (PENDING,), created_before: datetime | None = None) -> bool:
    """Cancel one order in its own transaction; return whether this call cancelled it."""

    async def work() -> bool:
        async with uow_factory() as uow:
            cancelled = await cancel_in(uow, order_id=order_id, reason=reason, now=now, statuses=statuses,
                                        created_before=created_before)
            await uow.commit()
            return cancelled is not None

    return await retry_transient(work)


async def cancel_by_member(*, uow_factory: UowFactory, db: Database, member_id: int, order_id: int,
                           key: str | None, now: datetime) -> dict[str, Any]:
    """A member cancels their PENDING or CONFIRMED order: refund, coupons back, stock back."""
    if key:
        first = await recall_answer(db, CANCEL_SCOPE, member_id, key)
        if first is not None:
            return first

    async def work() -> dict[str, Any]:
        async with uow_factory() as uow:
            order = await cancel_in(uow, order_id=order_id, reason=CANCELLED_BY_MEMBER, now=now,
                                    statuses=(PENDING, CONFIRMED), member_id=member_id)
            if order is None:
                exists = await uow.session.scalar(select(Order.id).where(Order.id == order_id,
                                                                         Order.member_id == member_id))
                if exists is None:
                    raise OrderNotFound()
                raise NotCancellable("this order is already cancelled")
            lines = (await _lines_of(uow.session, [order_id]))[order_id]
            answer = order_read(order, lines).model_dump(by_alias=True, mode="json")
            if key:
                uow.remember(CANCEL_SCOPE, member_id, key, answer)
            await uow.commit()
            return answer

    try:
        return await retry_transient(work)
    except (NotCancellable, IntegrityError):
        if key:
            stored = await recall_answer(db, CANCEL_SCOPE, member_id, key)
            if stored is not None:
                return stored
        raise


async def pending_before(db: Database, cutoff: datetime, limit: int) -> list[int]:
    """Return the ids of PENDING orders placed before `cutoff`, oldest first."""
    async with db.read_sessions() as session:
        return list((await session.scalars(
            select(Order.id).where(Order.status == PENDING, Order.created_at < cutoff)
            .order_by(Order.id).limit(limit))).all())


STATUSES = (PENDING, CONFIRMED, CANCELLED)
