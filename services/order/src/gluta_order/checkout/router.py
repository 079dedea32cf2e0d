"""Order routes."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import Response

from gluta_kit.auth import AdminOnly, CurrentMember
from gluta_order.bootstrap import Ctx
from gluta_order.checkout import service
from gluta_order.checkout.schemas import OrderCreate, OrderRead, OrderStatus
from gluta_order.common import EntityId, IdempotencyKey, Page, PageNumber, PageSize, require_key

router = APIRouter(tags=["orders"])


@router.post("/orders", response_model=OrderRead, status_code=202)
async def place(body: OrderCreate, member: CurrentMember, ctx: Ctx, idempotency_key: IdempotencyKey = None) -> Any:
    """Place an order: it answers PENDING at once and ends CONFIRMED or CANCELLED within seconds."""
    key = require_key(idempotency_key)
    answer = await service.place_order(uow_factory=ctx.uow, db=ctx.db, member_id=member.member_id,
                                       body=body, key=key, now=ctx.now(), products=ctx.products)
    # already an OrderRead in JSON form (built so, or stored so): sent as is, not validated a second time
    return Response(orjson.dumps(answer), status_code=202, media_type="application/json")


@router.get("/orders/{order_id}", response_model=OrderRead)
async def get_order(order_id: EntityId, member: CurrentMember, ctx: Ctx) -> OrderRead:
    """Return one of the caller's orders."""
    return await service.get_order(ctx.db, order_id, member.member_id)


@router.get("/orders", response_model=Page[OrderRead])
async def list_orders(member: CurrentMember, ctx: Ctx, page: PageNumber = 1, size: PageSize = 20) -> Page[OrderRead]:
    """Return the caller's orders, newest first."""
    items, total = await service.list_orders(ctx.db, member_id=member.member_id, status=None, page=page, size=size)
    return Page(items=items, page=page, size=size, total=total)


@router.post("/orders/{order_id}/cancel", response_model=OrderRead, status_code=202)
async def cancel(order_id: EntityId, member: CurrentMember, ctx: Ctx, idempotency_key: IdempotencyKey = None) -> Any:
    """Cancel one of the caller's orders: pay money refunded, coupons returned, stock released."""
    return await service.cancel_by_member(uow_factory=ctx.uow, db=ctx.db, member_id=member.member_id,
                                          order_id=order_id, key=idempotency_key, now=ctx.now())


@router.get("/admin/orders", response_model=Page[OrderRead])
async def admin_orders(_: AdminOnly, ctx: Ctx, status: OrderStatus | None = Query(default=None),
                       page: PageNumber = 1, size: PageSize = 20) -> Page[OrderRead]:
    """Return every member's orders, newest first, optionally of one status."""
    items, total = await service.list_orders(ctx.db, member_id=None, status=status, page=page, size=size)
    return Page(items=items, page=page, size=size, total=total)
