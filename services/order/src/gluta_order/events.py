"""Bus subscribers: thin, they call the same service functions the tests call."""

from __future__ import annotations

from gluta_contracts import (
    CouponClaimed,
    MemberRegistered,
    MemberUpdated,
    MemberWithdrawn,
    ProductChanged,
    StockRejected,
    StockReserved,
)
from gluta_kit.uow import GroupCommit, UnitOfWork
from gluta_order.bootstrap import OrderContext
from gluta_order.checkout import service as checkout
from gluta_order.coupon import service as coupons
from gluta_order.demo import grant_demo_pay_money
from gluta_order.snapshot import service as snapshot


async def on_member_event(ctx: OrderContext, event: MemberRegistered | MemberUpdated | MemberWithdrawn) -> None:
    """Keep the member snapshot; in demo mode, give the demo member pay money when they register."""
    settings = ctx.settings
    also = None
    if settings.demo and isinstance(event, MemberRegistered) and event.login_id == settings.demo_login_id:
        async def also(uow: UnitOfWork) -> None:
            await grant_demo_pay_money(uow, event, amount=settings.demo_pay_money, now=ctx.now())

    await snapshot.apply_member_event(uow=ctx.uow(), event=event, also=also)


def register_handlers(ctx: OrderContext) -> None:
    """Subscribe the order service's consumers."""
    bus = ctx.service.bus
    assert bus is not None

    @bus.on(ProductChanged, snapshot.PRODUCT_CONSUMER)
    async def on_product_changed(event: ProductChanged) -> None:
        await snapshot.apply_product_changed(uow=ctx.uow(), event=event)

    @bus.on(MemberRegistered, snapshot.MEMBER_CONSUMER)
    async def on_member_registered(event: MemberRegistered) -> None:
        await on_member_event(ctx, event)

    @bus.on(MemberUpdated, snapshot.MEMBER_CONSUMER)
    async def on_member_updated(event: MemberUpdated) -> None:
        await on_member_event(ctx, event)

    @bus.on(MemberWithdrawn, snapshot.MEMBER_CONSUMER)
    async def on_member_withdrawn(event: MemberWithdrawn) -> None:
        await on_member_event(ctx, event)

    async def confirm_batch(events: list[StockReserved]) -> list[bool]:
        return await checkout.confirm_orders(uow=ctx.uow(), events=events, now=ctx.now())

    async def confirm_one(event: StockReserved) -> bool:
        return await checkout.confirm_order(uow=ctx.uow(), event=event, now=ctx.now())

    # the StockReserved that arrive together (the broker hands them over in pulls of many, handled
    # concurrently) are confirmed in one transaction: one turn of SQLite's write lock for the lot
    confirmer = GroupCommit(confirm_batch, confirm_one)

    @bus.on(StockReserved, checkout.CONFIRM_CONSUMER)
    async def on_stock_reserved(event: StockReserved) -> None:
        await confirmer.submit(event)

    @bus.on(StockRejected, checkout.REJECT_CONSUMER)
    async def on_stock_rejected(event: StockRejected) -> None:
        await checkout.reject_order(uow=ctx.uow(), event=event, now=ctx.now())

    @bus.on(CouponClaimed, coupons.PERSIST_CONSUMER)
    async def on_coupon_claimed(event: CouponClaimed) -> None:
        await coupons.persist_claim(uow=ctx.uow(), event=event)
