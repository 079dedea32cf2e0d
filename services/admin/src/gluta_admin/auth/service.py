"""Tell a refused admin login apart: a member's account or simply wrong credentials."""

from __future__ import annotations

from fastapi import Request

from gluta_kit.web import ApiError, GatewayClient

MEMBER_LOGIN = "/api/user-service/login"
LOGOUT = "/api/user-service/logout"


async def is_member_account(client: GatewayClient, request: Request, login_id: str, password: str) -> bool:
    """Return True when these credentials open a member account (whose tokens are revoked at once).

    Only someone who already holds the member's password learns anything from this, so it reveals no
    account; the admin page uses it to say plainly that member accounts cannot log in here.
    """
    try:
        tokens = await client.post(request, MEMBER_LOGIN, auth="none", json={"loginId": login_id, "password": password})
    except ApiError:
        return False
    if not isinstance(tokens, dict) or not tokens.get("refreshToken"):
        return False
    try:
        await client.post(request, LOGOUT, auth="none", json={"refreshToken": tokens["refreshToken"]},
                          headers={"Authorization": f"Bearer {tokens.get('accessToken')}"})
    except ApiError:
        pass  # the refresh token expires on its own; the admin session never saw these tokens
    return (tokens.get("member") or {}).get("role", "member") != "admin"
