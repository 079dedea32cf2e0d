"""The user service's tables (declarative base shared by its feature folders) and column types."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

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


