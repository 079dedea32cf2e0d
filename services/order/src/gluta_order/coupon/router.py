"""Coupon routes."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gluta_kit.auth import AdminOnly, CurrentMember
from gluta_order.bootstrap import Ctx
from gluta_order.common import EntityId, IdempotencyKey
from gluta_order.coupon import service
from gluta_order.coupon.schemas import CouponAdminRead, CouponRead, CouponWrite, IssueRead, MemberCouponRead

router = APIRouter(tags=["coupons"])


@router.get("/coupons", response_model=list[CouponRead])
async def list_claimable(ctx: Ctx) -> list[CouponRead]:
    """Return the coupons that can be claimed now (enabled, inside their window), with `remaining`."""
    return await service.claimable_coupons(db=ctx.db, gate=ctx.gate, now=ctx.clock())


@router.post("/coupons/{coupon_id}/issue", response_model=IssueRead, status_code=201)
async def issue(coupon_id: EntityId, member: CurrentMember, ctx: Ctx,
                idempotency_key: IdempotencyKey = None) -> IssueRead:
    """Claim one copy of a first-come coupon (with an Idempotency-Key, a retry after success answers 201 again)."""
    return await service.claim(directory=ctx.coupons, gate=ctx.gate, coupon_id=coupon_id,
                               member_id=member.member_id, now=ctx.clock(), retry=idempotency_key is not None)


@router.get("/members/me/coupons", response_model=list[MemberCouponRead])
async def my_coupons(member: CurrentMember, ctx: Ctx) -> list[MemberCouponRead]:
    """Return the coupons the caller holds."""
    return await service.member_coupons(db=ctx.db, member_id=member.member_id)


@router.post("/coupons", response_model=CouponRead, status_code=201)
async def create(body: CouponWrite, admin: AdminOnly, ctx: Ctx, idempotency_key: IdempotencyKey = None) -> CouponRead:
    """Create a coupon (with an Idempotency-Key, a retry answers the coupon created first)."""
    created = await service.create_coupon(uow_factory=ctx.uow, db=ctx.db, body=body, now=ctx.clock(),
                                          caller=f"admin:{admin.subject_id}", key=idempotency_key)
    ctx.coupons.forget(created.coupon_id)
    await service.prepare_gate(gate=ctx.gate, coupon_id=created.coupon_id)
    return created


@router.delete("/coupons/{coupon_id}", status_code=204)
async def disable(coupon_id: EntityId, _: AdminOnly, ctx: Ctx) -> Response:
    """Stop new claims of a coupon; issued copies stay usable."""
    await service.disable_coupon(uow=ctx.uow(), directory=ctx.coupons, coupon_id=coupon_id)
    return Response(status_code=204)


@router.get("/admin/coupons", response_model=list[CouponAdminRead])
async def list_all(_: AdminOnly, ctx: Ctx) -> list[CouponAdminRead]:
    """Return every coupon with its issued and used counts."""
    return await service.admin_coupons(db=ctx.db, gate=ctx.gate)
