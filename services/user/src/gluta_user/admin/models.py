"""The admins table: operators, apart from members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId
from gluta_user.models import Base, PreciseDateTime, exact_string


class Admin(Base):
    """An operator account; never created by sign-up."""

    __tablename__ = "admins"

    admin_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    login_id: Mapped[str] = mapped_column(exact_string(20), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    admin_name: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
