"""Compose the member's summary from the order and product services, tolerating either being down."""

from __future__ import annotations

import asyncio
from typing import Any

from gluta_kit.logging import get_logger
from gluta_user.context import UserContext
from gluta_user.member.service import get_member
from gluta_user.summary.schemas import PayMoney, SummaryRead

log = get_logger("gluta.user.summary")

RECENT = {"page": 1, "size": 5}


async def _call(ctx: UserContext, service: str, path: str, params: dict[str, Any] | None,
                authorization: str) -> Any:
    assert ctx.service is not None, "the summary needs the service's HTTP clients"
    timeout = ctx.settings.summary_timeout_seconds
    client = ctx.service.client(service, timeout=timeout, retries=0)
    async with asyncio.timeout(timeout):
        return await client.get_json(path, params=params, headers={"Authorization": authorization})


def _items(answer: Any) -> list[dict[str, Any]]:
    if not isinstance(answer, dict) or not isinstance(answer.get("items"), list):
        raise ValueError("not a page")
    return [item for item in answer["items"] if isinstance(item, dict)]


def _balance(answer: Any) -> int:
    balance = answer.get("balance") if isinstance(answer, dict) else None
    if not isinstance(balance, int) or isinstance(balance, bool):
        raise ValueError("no balance")
    return balance


async def member_summary(ctx: UserContext, member_id: int, authorization: str) -> SummaryRead:
    """Return the member with pay money, 5 recent orders and 5 recent likes, asked of both services at once."""
    member = await get_member(ctx, member_id)
    wallet, orders, likes = await asyncio.gather(
        _call(ctx, "order", "/wallet", None, authorization),
        _call(ctx, "order", "/orders", RECENT, authorization),
        _call(ctx, "product", "/members/me/likes", RECENT, authorization),
        return_exceptions=True,
    )
    unavailable: list[str] = []
    pay_money = PayMoney()
    recent_orders: list[dict[str, Any]] = []
    recent_likes: list[dict[str, Any]] = []
    try:
        if isinstance(wallet, BaseException):
            raise wallet
        if isinstance(orders, BaseException):
            raise orders
        pay_money = PayMoney(balance=_balance(wallet))
        recent_orders = _items(orders)
    except Exception as exc:
        pay_money, recent_orders = PayMoney(), []
        unavailable.append("order")
        log.warning("summary.part_unavailable", part="order", error=repr(exc))
    try:
        if isinstance(likes, BaseException):
            raise likes
        recent_likes = _items(likes)
    except Exception as exc:
        unavailable.append("product")
        log.warning("summary.part_unavailable", part="product", error=repr(exc))
    return SummaryRead(member=member, pay_money=pay_money, recent_orders=recent_orders, recent_likes=recent_likes,
                       unavailable=unavailable)
