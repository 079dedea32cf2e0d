"""Small pieces every feature of the order service uses: schema base, pages, ids, idempotency records, time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any, Generic, TypeVar
from zoneinfo import ZoneInfo

import orjson
from fastapi import Header, Path, Query
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.db import Database
from gluta_kit.errors import AppError
from gluta_kit.models import IdempotencyRecord

T = TypeVar("T")


MAX_ID = 2**63 - 1
# Sales days, coupon windows shown to people and the dashboard's ranges follow Korean time (no DST).
SEOUL = ZoneInfo("Asia/Seoul")


class Schema(BaseModel):
    """Base of every request and response body: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class Page(Schema, Generic[T]):
    """One page of a list."""

    items: list[T]
    page: int
    size: int
    total: int


class IdempotencyKeyRequired(AppError):
    status, code, title = 400, "IDEMPOTENCY_KEY_REQUIRED", "An Idempotency-Key header is required"


EntityId = Annotated[int, Path(ge=1, le=MAX_ID)]
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key", min_length=1, max_length=64)]


def require_key(key: str | None) -> str:
    """Return the Idempotency-Key, or refuse the request without one."""
    if not key:
        raise IdempotencyKeyRequired("send an Idempotency-Key header (any string up to 64 characters)")
    return key


def sales_date(moment: datetime) -> date:
    """Return the Korean calendar day a moment falls on."""
    return moment.astimezone(SEOUL).date()


def seoul_day_start(day: date) -> datetime:
    """Return midnight of a Korean calendar day, in UTC."""
    return datetime(day.year, day.month, day.day, tzinfo=SEOUL).astimezone(UTC)


def today_in_seoul(now: datetime) -> date:
    """Return today's Korean date."""
    return sales_date(now)


def days_between(first: date, last: date) -> list[date]:
    """Return every day from `first` to `last`, both included."""
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def is_unique_violation(exc: BaseException) -> bool:
    """Return whether a database error is a unique-key violation."""
    return isinstance(exc, IntegrityError)


async def recall_answer(db: Database, scope: str, caller: int | str, key: str) -> Any | None:
    """Return the stored first answer to an idempotency key without taking a write lock."""
    async with db.read_sessions() as session:
        return await recall_in(session, scope, caller, key)


_IDEMPOTENCY = IdempotencyRecord.__table__
# built once: the hot path binds values instead of building and hashing a new statement each call
_RECALL = select(_IDEMPOTENCY.c.response).where(
    _IDEMPOTENCY.c.scope == bindparam("scope"), _IDEMPOTENCY.c.caller == bindparam("caller"),
    _IDEMPOTENCY.c.key == bindparam("key"))


async def recall_in(session: AsyncSession, scope: str, caller: int | str, key: str) -> Any | None:
    """Return the stored first answer to an idempotency key, read in the given session."""
    row = await session.scalar(_RECALL, {"scope": scope, "caller": str(caller), "key": key})
    return None if row is None else orjson.loads(row)
