"""Pay money: one wallet per member and a ledger row for every change."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId, UTCDateTime
from gluta_order.models import Base

CHARGE = "CHARGE"
PAYMENT = "PAYMENT"
REFUND = "REFUND"


class Wallet(Base):
    """A member's pay money balance; it changes only by conditional updates and never goes below 0."""

    __tablename__ = "wallet"

    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    balance: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (CheckConstraint("balance >= 0", name="balance_not_negative"),)


class LedgerEntry(Base):
    """One change of a wallet: CHARGE and REFUND add, PAYMENT takes; `balance_after` is the balance it left."""

    __tablename__ = "wallet_ledger"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    member_id: Mapped[int] = mapped_column(BigInteger)
    type: Mapped[str] = mapped_column(String(10))
    amount: Mapped[int] = mapped_column(BigInteger)
    balance_after: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # a payment provider's id, accepted once (the unique key is what refuses a replay)
    payment_id: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_wallet_ledger_member", "member_id", "id"),)
