"""Login, token refresh, logout and the public signing keys."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from gluta_user.auth import service
from gluta_user.auth.schemas import LoginRequest, RefreshRequest, TokensRead
from gluta_user.deps import ActivePrincipal, ClientAddress, Context

router = APIRouter(tags=["auth"])


@router.post("/login", response_model=TokensRead)
async def member_login(body: LoginRequest, ctx: Context, address: ClientAddress) -> TokensRead:
    """Log a member in."""
    return await service.login(ctx, role="member", login_id=body.login_id, password=body.password, address=address)


@router.post("/admin/login", response_model=TokensRead)
async def admin_login(body: LoginRequest, ctx: Context, address: ClientAddress) -> TokensRead:
    """Log an admin in (a member's credentials fail)."""
    return await service.login(ctx, role="admin", login_id=body.login_id, password=body.password, address=address)


@router.post("/token/refresh", response_model=TokensRead)
async def refresh_tokens(body: RefreshRequest, ctx: Context) -> TokensRead:
    """Trade a refresh token for new tokens; the old one stops working."""
    return await service.refresh(ctx, body.refresh_token)


@router.post("/logout", status_code=204)
async def logout(body: RefreshRequest, ctx: Context, principal: ActivePrincipal) -> Response:
    """End the session of this refresh token."""
    await service.logout(ctx, principal, body.refresh_token)
    return Response(status_code=204)


@router.get("/.well-known/jwks.json")
async def jwks(ctx: Context, response: Response) -> dict[str, Any]:
    """Return the public keys that sign access tokens."""
    response.headers["Cache-Control"] = "public, max-age=60"
    return ctx.keyring.jwks()
