"""The product service's tables (declarative base shared by its feature folders) and column types."""

from __future__ import annotations

from typing import Any

from sqlalchemy import MetaData, Text
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from gluta_kit.models import UTCDateTime, exact_string  # noqa: F401 - exact_string re-exported

metadata = MetaData(naming_convention={
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})


class Base(DeclarativeBase):
    metadata = metadata


# The kit's UTCDateTime keeps microseconds on MySQL too; the old name stays for the columns that use it.
PreciseDateTime = UTCDateTime




class LongText(TypeDecorator[str]):
    """TEXT, MEDIUMTEXT on MySQL (binary-collated when `exact`); the MySQL module loads only there (memory)."""

    impl = Text
    cache_ok = True

    def __init__(self, exact: bool = False) -> None:
        super().__init__()
        self.exact = exact

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name in {"mysql", "mariadb"}:
            from sqlalchemy.dialects import mysql

            if self.exact:
                return mysql.MEDIUMTEXT(charset="utf8mb4", collation="utf8mb4_bin")
            return mysql.MEDIUMTEXT()
        return Text()


def long_text(exact: bool = False) -> Any:
    """A TEXT that holds long HTML on MySQL too (MEDIUMTEXT), binary-collated when `exact`."""
    return LongText(exact)
