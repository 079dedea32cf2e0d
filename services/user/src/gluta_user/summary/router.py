"""The member's page summary."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gluta_user.deps import ActiveMember, Context
from gluta_user.summary import service
from gluta_user.summary.schemas import SummaryRead

router = APIRouter(tags=["members"])


@router.get("/members/me/summary", response_model=SummaryRead)
async def my_summary(request: Request, ctx: Context, member: ActiveMember) -> SummaryRead:
    """Return the caller's summary; the caller's token is forwarded to the other services."""
    return await service.member_summary(ctx, member.member_id, request.headers["authorization"])
