"""Refresh tokens, token revocations, signing keys and login-failure counters."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from gluta_kit.models import BigId
from gluta_user.models import Base, PreciseDateTime, exact_string


class RefreshToken(Base):
    """One refresh token, stored as its SHA-256; a login starts a family, each refresh adds one and uses the last."""

    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    token_hash: Mapped[str] = mapped_column(exact_string(64), unique=True)
    family_id: Mapped[str] = mapped_column(exact_string(32), index=True)
    role: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    issued_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    expires_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    used_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)

    __table_args__ = (Index("ix_refresh_tokens_subject", "role", "subject_id"),)


class TokenRevocation(Base):
    """Access tokens ended before they expire: one session (`family_id`) or a subject's tokens issued before
    `not_before` (epoch seconds). Kept until `expires_at`, when the last token it covers has expired; every
    instance of every service loads these at start (`GET /internal/revocations`) and follows `TokensRevoked`."""

    __tablename__ = "token_revocations"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    role: Mapped[str] = mapped_column(String(10))
    subject_id: Mapped[int] = mapped_column(BigInteger)
    family_id: Mapped[str | None] = mapped_column(exact_string(32), nullable=True)
    not_before: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(PreciseDateTime, index=True)


class SigningKey(Base):
    """An Ed25519 key pair; the private half is an encrypted PKCS#8 PEM.

    The newest key whose `signs_from` has come signs; a key stays published until its last token expired.
    """

    __tablename__ = "signing_keys"

    kid: Mapped[str] = mapped_column(exact_string(32), primary_key=True)
    public_jwk: Mapped[str] = mapped_column(Text)
    private_key_pem: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    signs_from: Mapped[datetime] = mapped_column(PreciseDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)


class LoginThrottle(Base):
    """Login attempts counted per account or client address within a window, and a lock when over the limit."""

    __tablename__ = "login_throttle"

    throttle_key: Mapped[str] = mapped_column(exact_string(150), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_started_at: Mapped[datetime] = mapped_column(PreciseDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(PreciseDateTime, nullable=True)
