"""Dashboard routes (admins only)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from gluta_kit.auth import AdminOnly
from gluta_order.bootstrap import Ctx
from gluta_order.dashboard import service
from gluta_order.dashboard.schemas import BestProductRead, SalesRead, VipRead

router = APIRouter(tags=["dashboard"])

From = Annotated[date | None, Query(alias="from")]
To = Annotated[date | None, Query()]
Limit = Annotated[int, Query(ge=1, le=100)]


@router.get("/admin/dashboard/sales", response_model=SalesRead)
async def sales(_: AdminOnly, ctx: Ctx, from_: From = None, to: To = None,
                granularity: Literal["day"] = "day") -> SalesRead:
    """Return sales per Korean day over a range (default: the last 30 days, both ends included)."""
    first, last = service.resolve_range(from_, to, ctx.now())
    return await service.sales(ctx.db, first, last)


@router.get("/admin/dashboard/vip", response_model=list[VipRead])
async def vip(_: AdminOnly, ctx: Ctx, from_: From = None, to: To = None, limit: Limit = 10) -> list[VipRead]:
    """Return the members who paid the most over a range."""
    first, last = service.resolve_range(from_, to, ctx.now())
    return await service.vip(ctx.db, first, last, limit)


@router.get("/admin/dashboard/best-products", response_model=list[BestProductRead])
async def best_products(_: AdminOnly, ctx: Ctx, from_: From = None, to: To = None,
                        limit: Limit = 10) -> list[BestProductRead]:
    """Return the products sold in the most units over a range."""
    first, last = service.resolve_range(from_, to, ctx.now())
    return await service.best_products(ctx.db, first, last, limit)
