"""Pay money bodies."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from gluta_order.common import Schema


class ChargeCreate(Schema):
    """A top-up: how much, and the provider's payment id when a provider is configured."""

    amount: int = Field(ge=1_000, le=2_000_000)
    payment_id: str | None = Field(default=None, min_length=1, max_length=128)


class WalletRead(Schema):
    """A member's balance."""

    balance: int


class TransactionRead(Schema):
    """One ledger row."""

    type: Literal["CHARGE", "PAYMENT", "REFUND"]
    amount: int
    balance_after: int
    order_id: int | None
    created_at: datetime
