"""Demo data, only in demo mode: two coupons and pay money for the demo member."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from gluta_contracts import MemberRegistered
from gluta_kit.uow import UnitOfWork
from gluta_order.wallet.models import CHARGE, LedgerEntry
from gluta_order.wallet.service import credit


def demo_grant_payment_id(member_id: int) -> str:
    """Return the payment id that makes the demo grant happen once per member."""
    return f"demo-grant-{member_id}"


async def grant_demo_pay_money(uow: UnitOfWork, event: MemberRegistered, *, amount: int, now: datetime) -> bool:
    """Give the demo member their starting pay money, once (inside the caller's transaction)."""
    payment_id = demo_grant_payment_id(event.member_id)
    done = await uow.session.scalar(select(LedgerEntry.id).where(LedgerEntry.payment_id == payment_id))
    if done is not None or amount <= 0:
        return False
    await credit(uow.session, uow.db.dialect, member_id=event.member_id, amount=amount, entry_type=CHARGE, now=now,
                 payment_id=payment_id)
    return True
