"""Member routes: sign-up, duplicate check, own profile, password, withdrawal."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse

from gluta_user.deps import ActiveMember, ClientAddress, Context, IdempotencyKey
from gluta_user.member import service
from gluta_user.member.schemas import DuplicateRead, MemberCreate, MemberRead, MemberUpdate, PasswordChange, Withdrawal
from gluta_user.validation import GivenLoginId

router = APIRouter(tags=["members"])


@router.post("/members", status_code=201, response_model=MemberRead)
async def sign_up(body: MemberCreate, ctx: Context, address: ClientAddress,
                  idempotency_key: IdempotencyKey = None) -> Any:
    """Create a member account."""
    idempotency = (address or "unknown", idempotency_key) if idempotency_key else None
    answer = await service.register(ctx, body, idempotency=idempotency)
    return JSONResponse(answer, status_code=201)


@router.get("/members/login-id/duplicate", response_model=DuplicateRead)
async def login_id_duplicate(ctx: Context, login_id: Annotated[GivenLoginId, Query(alias="loginId")]) -> DuplicateRead:
    """Tell whether a login id is taken."""
    return DuplicateRead(duplicate=await service.login_id_taken(ctx, login_id))


@router.get("/members/me", response_model=MemberRead)
async def read_me(ctx: Context, member: ActiveMember) -> MemberRead:
    """Return the caller's own account."""
    return await service.get_member(ctx, member.member_id)


@router.put("/members/me", response_model=MemberRead)
async def update_me(body: MemberUpdate, ctx: Context, member: ActiveMember) -> MemberRead:
    """Change the caller's name and contact details."""
    return await service.update_member(ctx, member.member_id, body)


@router.put("/members/me/password", status_code=204)
async def change_my_password(body: PasswordChange, ctx: Context, member: ActiveMember) -> Response:
    """Change the caller's password."""
    await service.change_password(ctx, member.member_id, body.current_password, body.new_password)
    return Response(status_code=204)


@router.delete("/members/me", status_code=204)
async def withdraw_me(body: Withdrawal, ctx: Context, member: ActiveMember) -> Response:
    """Withdraw the caller's account."""
    await service.withdraw(ctx, member.member_id, body.password)
    return Response(status_code=204)
