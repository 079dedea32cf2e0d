"""Cart routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from gluta_kit.auth import CurrentMember
from gluta_order.bootstrap import Ctx
from gluta_order.cart import service
from gluta_order.cart.schemas import CartItemCreate, CartItemRead, CartItemUpdate, CartRead
from gluta_order.common import EntityId, IdempotencyKey

router = APIRouter(tags=["cart"])


@router.get("/cart", response_model=CartRead)
async def get_cart(member: CurrentMember, ctx: Ctx) -> CartRead:
    """Return the caller's cart."""
    return await service.get_cart(ctx.db, member.member_id)


@router.post("/cart/items", response_model=CartItemRead, status_code=201)
async def add_item(body: CartItemCreate, member: CurrentMember, ctx: Ctx,
                   idempotency_key: IdempotencyKey = None) -> Any:
    """Add units of a product to the caller's cart."""
    return await service.add_item(uow_factory=ctx.uow, db=ctx.db, member_id=member.member_id,
                                  product_id=body.product_id, quantity=body.quantity, now=ctx.clock(),
                                  products=ctx.products, key=idempotency_key)


@router.patch("/cart/items/{cart_item_id}", response_model=CartItemRead)
async def update_item(cart_item_id: EntityId, body: CartItemUpdate, member: CurrentMember, ctx: Ctx) -> CartItemRead:
    """Change the quantity of a cart line."""
    return await service.set_quantity(uow_factory=ctx.uow, member_id=member.member_id, cart_item_id=cart_item_id,
                                      quantity=body.quantity, now=ctx.clock(), products=ctx.products)


@router.delete("/cart/items/{cart_item_id}", status_code=204)
async def remove_item(cart_item_id: EntityId, member: CurrentMember, ctx: Ctx) -> Response:
    """Remove a cart line."""
    await service.remove_item(uow=ctx.uow(), member_id=member.member_id, cart_item_id=cart_item_id)
    return Response(status_code=204)
