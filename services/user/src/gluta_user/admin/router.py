"""Admin routes of the user service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from gluta_user.admin import service
from gluta_user.admin.schemas import MemberPage
from gluta_user.deps import ActiveAdmin, Context
from gluta_user.validation import Keyword

router = APIRouter(tags=["admin"])


@router.get("/admin/members", response_model=MemberPage)
async def list_members(ctx: Context, admin: ActiveAdmin, keyword: Annotated[Keyword, Query()] = None,
                       page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
                       size: Annotated[int, Query(ge=1, le=100)] = 20) -> MemberPage:
    """Return a page of members (withdrawn ones flagged)."""
    return await service.list_members(ctx, keyword, page, size)
