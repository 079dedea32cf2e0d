"""Bus subscribers: thin, they call the service functions (each idempotent through the inbox)."""

from __future__ import annotations

from gluta_contracts import MemberRegistered, MemberUpdated, OrderCancelled, OrderConfirmed, OrderPlaced
from gluta_kit.service import Service
from gluta_product.member.service import CONSUMER as MEMBER_NAMES
from gluta_product.member.service import remember_name
from gluta_product.stock.service import (
    RELEASE_CONSUMER,
    RESERVE_CONSUMER,
    SALES_CONSUMER,
    count_sales,
    release_stock,
    reserve_stock,
)


def register_handlers(service: Service) -> None:
    """Subscribe the product service's consumers."""
    bus = service.bus
    assert bus is not None

    @bus.on(OrderPlaced, RESERVE_CONSUMER)
    async def on_order_placed(event: OrderPlaced) -> None:
        await reserve_stock(service.uow(), event)

    @bus.on(OrderCancelled, RELEASE_CONSUMER)
    async def on_order_cancelled(event: OrderCancelled) -> None:
        await release_stock(service.uow(), event)

    @bus.on(OrderConfirmed, SALES_CONSUMER)
    async def on_order_confirmed(event: OrderConfirmed) -> None:
        await count_sales(service.uow(), event)

    @bus.on(MemberRegistered, MEMBER_NAMES)
    async def on_member_registered(event: MemberRegistered) -> None:
        await remember_name(service.uow(), event_id=event.event_id, member_id=event.member_id,
                            member_name=event.member_name, occurred_at=event.occurred_at)

    @bus.on(MemberUpdated, MEMBER_NAMES)
    async def on_member_updated(event: MemberUpdated) -> None:
        await remember_name(service.uow(), event_id=event.event_id, member_id=event.member_id,
                            member_name=event.member_name, occurred_at=event.occurred_at)
