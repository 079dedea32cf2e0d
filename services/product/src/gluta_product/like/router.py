"""Like routes (members)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gluta_kit.auth import CurrentMember
from gluta_product.catalog.schemas import ProductSummary
from gluta_product.deps import ServiceDep
from gluta_product.like import service as likes
from gluta_product.schemas import IdPath, Page, PageQuery, SizeQuery

router = APIRouter(tags=["likes"])


@router.put("/products/{product_id}/like", status_code=204)
async def like(product_id: IdPath, member: CurrentMember, service: ServiceDep) -> Response:
    """Like a product (idempotent)."""
    await likes.like(service.uow(), member.member_id, product_id)
    return Response(status_code=204)


@router.delete("/products/{product_id}/like", status_code=204)
async def unlike(product_id: IdPath, member: CurrentMember, service: ServiceDep) -> Response:
    """Take a like back (idempotent)."""
    await likes.unlike(service.uow(), member.member_id, product_id)
    return Response(status_code=204)


@router.get("/members/me/likes", response_model=Page[ProductSummary])
async def my_likes(member: CurrentMember, service: ServiceDep, page: PageQuery = 1,
                   size: SizeQuery = 20) -> Page[ProductSummary]:
    """Return the calling member's likes history."""
    async with service.db.read_sessions() as session:
        return await likes.liked_products(session, member.member_id, page, size)
