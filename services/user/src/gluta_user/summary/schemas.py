"""The member's page summary."""

from __future__ import annotations

from typing import Any

from gluta_user.member.schemas import MemberRead
from gluta_user.validation import CamelModel


class PayMoney(CamelModel):
    """The pay money balance (null when the order service did not answer)."""

    balance: int | None = None


class SummaryRead(CamelModel):
    """The member, their pay money, recent orders and likes; parts whose service is down are named."""

    member: MemberRead
    pay_money: PayMoney
    recent_orders: list[dict[str, Any]]
    recent_likes: list[dict[str, Any]]
    unavailable: list[str]
