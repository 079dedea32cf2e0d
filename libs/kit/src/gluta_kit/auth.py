"""The role dependencies of FastAPI routes; token verification itself is `gluta_kit.tokens`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from gluta_kit.errors import Forbidden, InvalidToken, Unauthorized
from gluta_kit.tokens import ALGORITHMS, REQUIRED_CLAIMS, ROLES, JwksSource, Principal, TokenVerifier

__all__ = ["ALGORITHMS", "REQUIRED_CLAIMS", "ROLES", "AdminOnly", "CurrentMember", "CurrentPrincipal", "JwksSource",
           "OptionalPrincipal", "Principal", "TokenVerifier", "bearer_token", "optional_principal",
           "require_admin", "require_member", "require_principal"]


def bearer_token(request: Request) -> str | None:
    """Return the bearer token of a request, if any."""
    value = request.headers.get("authorization")
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken("expected a Bearer token")
    return token.strip()


async def optional_principal(request: Request) -> Principal | None:
    """Return the caller's principal, or None for a guest; a bad token is still refused."""
    token = bearer_token(request)
    if token is None:
        return None
    verifier: TokenVerifier = request.app.state.verifier
    return await verifier.verify(token)


async def require_principal(request: Request) -> Principal:
    """Return the caller's principal; 401 for a guest."""
    principal = await optional_principal(request)
    if principal is None:
        raise Unauthorized("this needs you to log in")
    return principal


async def require_member(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """Return the calling member; 403 for an admin."""
    if principal.role != "member":
        raise Forbidden("members only")
    return principal


async def require_admin(principal: Annotated[Principal, Depends(require_principal)]) -> Principal:
    """Return the calling admin; 403 for a member."""
    if principal.role != "admin":
        raise Forbidden("admins only")
    return principal


OptionalPrincipal = Annotated[Principal | None, Depends(optional_principal)]
CurrentPrincipal = Annotated[Principal, Depends(require_principal)]
CurrentMember = Annotated[Principal, Depends(require_member)]
AdminOnly = Annotated[Principal, Depends(require_admin)]
