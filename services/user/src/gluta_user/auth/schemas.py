"""Login and token bodies."""

from __future__ import annotations

from typing import Literal

from gluta_user.validation import CamelModel, GivenLoginId, GivenPassword, OpaqueToken


class LoginRequest(CamelModel):
    """Credentials of a member or an admin."""

    login_id: GivenLoginId
    password: GivenPassword


class RefreshRequest(CamelModel):
    """A refresh token to use (refresh) or end (logout)."""

    refresh_token: OpaqueToken


class TokenSubject(CamelModel):
    """Who the tokens are for (for an admin, `memberId` holds the admin's id)."""

    member_id: int
    login_id: str
    member_name: str
    role: Literal["member", "admin"]


class TokensRead(CamelModel):
    """A new access token and refresh token."""

    access_token: str
    refresh_token: str
    token_type: Literal["Bearer"] = "Bearer"
    expires_in: int
    member: TokenSubject
