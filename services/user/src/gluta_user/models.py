"""The user service's tables (declarative base shared by its feature folders) and column types."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, String
from sqlalchemy.dialects import mysql, postgresql
from sqlalchemy.orm import DeclarativeBase

from gluta_kit.models import UTCDateTime

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class Base(DeclarativeBase):
    metadata = metadata


class PreciseDateTime(UTCDateTime):
    """UTC timestamp with microseconds on every dialect (MySQL's DATETIME drops them otherwise)."""

    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in {"mysql", "mariadb"}:
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return super().load_dialect_impl(dialect)


def exact_string(length: int) -> Any:
    """A VARCHAR compared byte for byte on every dialect (MySQL's default collation ignores case and accents)."""
    return (String(length)
            .with_variant(mysql.VARCHAR(length, charset="utf8mb4", collation="utf8mb4_bin"), "mysql", "mariadb")
            .with_variant(postgresql.VARCHAR(length, collation="C"), "postgresql"))
