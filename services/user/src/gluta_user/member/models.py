"""The members table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId
from gluta_user.models import Base, PreciseDateTime, exact_string


class Member(Base):
    """A customer account. Withdrawal is a soft delete: the row stays, the login id stays taken.

    `email_key` is the lower-cased email of an active member (unique); it is cleared at withdrawal so the
    address can sign up again. `token_valid_after` ends every access token issued before it.
    """

    __tablename__ = "members"

    member_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    login_id: Mapped[str] = mapped_column(exact_string(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    member_name: Mapped[str] = mapped_column(String(50))
    phone_number: Mapped[str] = mapped_column(String(20))
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str | None] = mapped_column(exact_string(254), unique=True, nullable=True)
    post_number: Mapped[str | None] = mapped_column(String(10), nullable=True)
    address: Mapped[str | None] = mapped_column(String(200), nullable=True)
    address_detail: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    updated_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    withdrawn_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)
    token_valid_after: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)
