"""One-time password-reset tokens."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId
from gluta_user.models import Base, PreciseDateTime, exact_string


class PasswordResetToken(Base):
    """A reset token, stored as its SHA-256; valid until `expires_at`, once."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(exact_string(64), unique=True)
    member_id: Mapped[int] = mapped_column(BigInteger, index=True)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    expires_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    used_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)
