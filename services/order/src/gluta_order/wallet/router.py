"""Pay money routes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from gluta_kit.auth import CurrentMember
from gluta_order.bootstrap import Ctx
from gluta_order.common import IdempotencyKey, Page, PageNumber, PageSize, require_key
from gluta_order.wallet import service
from gluta_order.wallet.schemas import ChargeCreate, TransactionRead, WalletRead

router = APIRouter(tags=["wallet"])


@router.get("/wallet", response_model=WalletRead)
async def get_wallet(member: CurrentMember, ctx: Ctx) -> WalletRead:
    """Return the caller's pay money balance."""
    return await service.balance_of(ctx.db, member.member_id)


@router.get("/wallet/transactions", response_model=Page[TransactionRead])
async def list_transactions(member: CurrentMember, ctx: Ctx, page: PageNumber = 1,
                            size: PageSize = 20) -> Page[TransactionRead]:
    """Return the caller's pay money ledger, newest first."""
    items, total = await service.transactions_of(ctx.db, member.member_id, page, size)
    return Page(items=items, page=page, size=size, total=total)


@router.post("/wallet/charge", response_model=WalletRead)
async def charge(body: ChargeCreate, member: CurrentMember, ctx: Ctx, idempotency_key: IdempotencyKey = None) -> Any:
    """Top up the caller's pay money (Idempotency-Key required: a retry returns the first answer)."""
    key = require_key(idempotency_key)
    return await service.charge(uow_factory=ctx.uow, db=ctx.db, provider=ctx.payments,
                                member_id=member.member_id, amount=body.amount, payment_id=body.payment_id,
                                key=key, now=ctx.clock())
