"""Route dependencies of the user service, as `Annotated` names."""

from __future__ import annotations

from typing import Annotated

import jwt
from fastapi import Depends, Header, Request

from gluta_kit.auth import Principal, bearer_token, require_admin, require_member, require_principal
from gluta_user.auth.service import ensure_session_active
from gluta_user.context import UserContext


def get_context(request: Request) -> UserContext:
    """Return the user service's context."""
    return request.app.state.user


Context = Annotated[UserContext, Depends(get_context)]


def client_address(request: Request, ctx: Context) -> str | None:
    """Return the caller's address: the first X-Forwarded-For hop (set by the gateway), else the peer."""
    if ctx.settings.trust_forwarded_for:
        forwarded = request.headers.get("x-forwarded-for", "")
        first = forwarded.split(",")[0].strip()
        if first:
            return first[:100]
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(client_address)]


def _issued_at(request: Request, principal: Principal) -> int:
    # the kit has verified the token already and read its iat
    if principal.issued_at:
        return principal.issued_at
    token = bearer_token(request) or ""
    claims = jwt.decode(token, options={"verify_signature": False})
    return int(claims.get("iat", 0))


async def active_member(request: Request, ctx: Context,
                        principal: Annotated[Principal, Depends(require_member)]) -> Principal:
    """Return the calling member; 401 when the member withdrew or the session was ended by a password reset."""
    await ensure_session_active(ctx, principal, _issued_at(request, principal))
    return principal


async def active_principal(request: Request, ctx: Context,
                           principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """Return the calling member or admin, with the same session check."""
    await ensure_session_active(ctx, principal, _issued_at(request, principal))
    return principal


async def active_admin(request: Request, ctx: Context,
                       principal: Annotated[Principal, Depends(require_admin)]) -> Principal:
    """Return the calling admin (403 for a member)."""
    await ensure_session_active(ctx, principal, _issued_at(request, principal))
    return principal


ActiveMember = Annotated[Principal, Depends(active_member)]
ActivePrincipal = Annotated[Principal, Depends(active_principal)]
ActiveAdmin = Annotated[Principal, Depends(active_admin)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)]
