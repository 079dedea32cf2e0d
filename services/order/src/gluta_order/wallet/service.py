"""Pay money: conditional updates on the balance, a ledger row for every change, verified top-ups."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Update, bindparam, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.db import Database, insert_ignore, retry_transient
from gluta_kit.uow import UnitOfWork
from gluta_order.common import recall_answer
from gluta_order.wallet.exceptions import InsufficientPayMoney, PaymentAlreadyUsed
from gluta_order.wallet.models import CHARGE, PAYMENT, LedgerEntry, Wallet
from gluta_order.wallet.payment import PaymentProvider
from gluta_order.wallet.schemas import TransactionRead, WalletRead

CHARGE_SCOPE = "wallet-charge"


RETURNING_UPDATES = {"sqlite", "postgresql"}  # MariaDB/MySQL have no UPDATE ... RETURNING

# Core tables: the money moves through plain statements (no ORM session synchronisation on the hot path)
WALLETS = Wallet.__table__
LEDGER = LedgerEntry.__table__


async def _update_balance(session: AsyncSession, dialect: str, stmt: Update, member_id: int) -> int | None:
    """Run a conditional balance update; return the balance it left, or None when it matched nothing."""
    if dialect in RETURNING_UPDATES:
        row = (await session.execute(stmt.returning(WALLETS.c.balance))).first()
        return None if row is None else int(row[0])
    result = await session.execute(stmt)
    if result.rowcount != 1:
        return None
    # read after our own UPDATE in the same transaction: the row is locked by us, so this is our value
    return int(await session.scalar(select(WALLETS.c.balance).where(WALLETS.c.member_id == member_id)) or 0)


_INSERT_LEDGER = insert(LEDGER)
# built once (the checkout's payment): values are bound at execution
_DEBIT = (update(WALLETS)
          .where(WALLETS.c.member_id == bindparam("m"), WALLETS.c.balance >= bindparam("a"))
          .values(balance=WALLETS.c.balance - bindparam("a"),
                  updated_at=bindparam("now", type_=WALLETS.c.updated_at.type)))
_DEBIT_RETURNING = _DEBIT.returning(WALLETS.c.balance)


async def credit(session: AsyncSession, dialect: str, *, member_id: int, amount: int, entry_type: str, now: datetime,
                 order_id: int | None = None, payment_id: str | None = None) -> int:
    """Add money to a wallet (made on first use) with its ledger row; return the balance after it."""
    await session.execute(insert_ignore(Wallet.__table__, dialect,
                                        {"member_id": member_id, "balance": 0, "updated_at": now}))
    balance = await _update_balance(session, dialect, update(WALLETS).where(WALLETS.c.member_id == member_id)
                                    .values(balance=WALLETS.c.balance + amount, updated_at=now), member_id)
    assert balance is not None
    await session.execute(_INSERT_LEDGER, {"member_id": member_id, "type": entry_type, "amount": amount,
                                           "balance_after": balance, "order_id": order_id, "payment_id": payment_id,
                                           "created_at": now})
    return balance


async def debit(session: AsyncSession, dialect: str, *, member_id: int, amount: int, order_id: int,
                now: datetime) -> int:
    """Take money for an order if the balance covers it (never below 0); return the balance after it."""
    params = {"m": member_id, "a": amount, "now": now}
    balance: int | None
    if dialect in RETURNING_UPDATES:
        row = (await session.execute(_DEBIT_RETURNING, params)).first()
        balance = None if row is None else int(row[0])
    elif (await session.execute(_DEBIT, params)).rowcount != 1:
        balance = None
    else:  # our own row, locked by the UPDATE: this is our value
        balance = int(await session.scalar(select(WALLETS.c.balance).where(WALLETS.c.member_id == member_id)) or 0)
    if balance is None:
        raise InsufficientPayMoney(f"this order needs {amount} won of pay money")
    await session.execute(_INSERT_LEDGER, {"member_id": member_id, "type": PAYMENT, "amount": amount,
                                           "balance_after": balance, "order_id": order_id, "payment_id": None,
                                           "created_at": now})
    return balance


async def balance_of(db: Database, member_id: int) -> WalletRead:
    """Return a member's balance (0 before the first top-up)."""
    async with db.read_sessions() as session:
        balance = await session.scalar(select(Wallet.balance).where(Wallet.member_id == member_id))
    return WalletRead(balance=int(balance or 0))


async def transactions_of(db: Database, member_id: int, page: int, size: int) -> tuple[list[TransactionRead], int]:
    """Return one page of a member's ledger, newest first, and the total count."""
    async with db.read_sessions() as session:
        total = int(await session.scalar(select(func.count()).select_from(LedgerEntry)
                                         .where(LedgerEntry.member_id == member_id)) or 0)
        rows = (await session.scalars(
            select(LedgerEntry).where(LedgerEntry.member_id == member_id)
            .order_by(LedgerEntry.id.desc()).offset((page - 1) * size).limit(size)
        )).all()
    items = [TransactionRead(type=r.type, amount=r.amount, balance_after=r.balance_after,  # type: ignore[arg-type]
                             order_id=r.order_id, created_at=r.created_at) for r in rows]
    return items, total


async def charge(*, uow_factory: Any, db: Database, provider: PaymentProvider, member_id: int, amount: int,
                 payment_id: str | None, key: str, now: datetime) -> dict[str, Any]:
    """Top up a wallet once per Idempotency-Key and once per provider payment id; return `{balance}`."""
    first = await recall_answer(db, CHARGE_SCOPE, member_id, key)
    if first is not None:
        return first
    await provider.verify(payment_id, amount)

    async def work() -> dict[str, Any]:
        uow: UnitOfWork = uow_factory()
        async with uow:
            stored = await uow.recall(CHARGE_SCOPE, member_id, key)
            if stored is not None:
                return stored
            balance = await credit(uow.session, uow.db.dialect, member_id=member_id, amount=amount,
                                   entry_type=CHARGE, now=now, payment_id=payment_id)
            answer = WalletRead(balance=balance).model_dump(by_alias=True)
            uow.remember(CHARGE_SCOPE, member_id, key, answer)
            await uow.commit()
            return answer

    try:
        return await retry_transient(work)
    except IntegrityError:
        # a concurrent retry with the same key won, or the payment id was credited before
        stored = await recall_answer(db, CHARGE_SCOPE, member_id, key)
        if stored is not None:
            return stored
        if payment_id:
            raise PaymentAlreadyUsed(f"payment {payment_id} was already credited") from None
        raise
