"""A local snapshot of member names, kept from the user service's events."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from gluta_product.models import Base, PreciseDateTime


class MemberName(Base):
    """The latest known name of a member (from MemberRegistered / MemberUpdated)."""

    __tablename__ = "member_name"

    member_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    member_name: Mapped[str] = mapped_column(String(100))
    event_at: Mapped[datetime] = mapped_column(PreciseDateTime)
