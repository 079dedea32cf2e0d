"""The kit's own tables, present in every service database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Index, Integer, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

kit_metadata = MetaData()

# BIGINT autoincrement that SQLite still treats as ROWID.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Return the current time in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored without zone (every dialect can) and always read back as UTC."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in {"mysql", "mariadb"}:  # MySQL's DATETIME keeps whole seconds unless told otherwise
            from sqlalchemy.dialects.mysql import DATETIME

            return dialect.type_descriptor(DATETIME(fsp=6))
        return dialect.type_descriptor(DateTime(timezone=False))

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class ExactString(TypeDecorator[str]):
    """A VARCHAR compared and ordered by code point on every dialect, so all three give the same answers
    (MySQL's default collation ignores case and accents; PostgreSQL's follows the locale).

    The dialect's type is chosen when a dialect asks, so the MySQL and PostgreSQL modules of SQLAlchemy load
    only where they are used (a SQLite service does not carry them: memory)."""

    impl = String
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        length = self.impl.length
        if dialect.name in {"mysql", "mariadb"}:
            from sqlalchemy.dialects import mysql

            return mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin")
        if dialect.name == "postgresql":
            from sqlalchemy.dialects import postgresql

            return postgresql.VARCHAR(length, collation="C")
        return String(length)


def exact_string(length: int) -> Any:
    """A VARCHAR(length) compared by code point on every dialect (see `ExactString`)."""
    return ExactString(length)


class KitBase(DeclarativeBase):
    metadata = kit_metadata


class OutboxMessage(KitBase):
    """An event written in the same transaction as the change it announces, waiting to be published."""

    __tablename__ = "kit_outbox"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    # the aggregate id (`IntegrationEvent.partition_key`): the Kafka message key; None for rows written before it
    partition_key: Mapped[str | None] = mapped_column(String(200), nullable=True)
    payload: Mapped[str] = mapped_column(Text)
    headers: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (Index("ix_kit_outbox_pending", "published_at", "id"),)


class InboxMessage(KitBase):
    """An event a consumer has already applied; recorded in the same transaction as its effect."""

    __tablename__ = "kit_inbox"

    event_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    consumer: Mapped[str] = mapped_column(String(120), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeadLetter(KitBase):
    """A message whose handler kept failing, kept with its error until someone redrives it."""

    __tablename__ = "kit_dead_letter"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(200))
    consumer: Mapped[str] = mapped_column(String(120))
    payload: Mapped[str] = mapped_column(Text)
    headers: Mapped[str] = mapped_column(Text)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    redriven_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class IdempotencyRecord(KitBase):
    """The first answer to a command sent with an `Idempotency-Key`, kept to answer its retries."""

    __tablename__ = "kit_idempotency"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    caller: Mapped[str] = mapped_column(String(64), primary_key=True)
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
