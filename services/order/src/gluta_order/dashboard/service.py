"""Sales figures from the order service's own data: confirmed orders only, so a cancelled one never counts.

Days are Korean calendar days (Asia/Seoul): each order carries the day it was placed on, fixed when
it is placed, so grouping is a plain GROUP BY on every database.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from gluta_kit.db import Database
from gluta_kit.errors import AppError
from gluta_order.checkout.models import CONFIRMED, Order, OrderItem
from gluta_order.common import days_between, sales_date
from gluta_order.dashboard.schemas import BestProductRead, SalesDay, SalesRead, VipRead
from gluta_order.snapshot.service import members_by_id, products_by_id

DEFAULT_DAYS = 30
MAX_DAYS = 366


class BadRange(AppError):
    status, code, title = 422, "VALIDATION_ERROR", "The date range is not valid"


def resolve_range(first: date | None, last: date | None, now: datetime) -> tuple[date, date]:
    """Apply the defaults (30 days, both ends included, ending today in Seoul) and check the range."""
    span = timedelta(days=DEFAULT_DAYS - 1)
    if first is None and last is None:
        last = sales_date(now)
    if last is None:
        assert first is not None
        last = first + span
    if first is None:
        first = last - span
    if first > last:
        raise BadRange("`from` must not be after `to`")
    if (last - first).days + 1 > MAX_DAYS:
        raise BadRange(f"a range covers at most {MAX_DAYS} days")
    return first, last


def _confirmed_between(first: date, last: date) -> list[object]:
    return [Order.status == CONFIRMED, Order.order_date >= first, Order.order_date <= last]


async def sales(db: Database, first: date, last: date) -> SalesRead:
    """Return revenue, units and orders per day, days without sales included as zeros."""
    async with db.read_sessions() as session:
        rows = (await session.execute(
            select(Order.order_date, func.sum(Order.pay_amount), func.sum(Order.units), func.count())
            .where(*_confirmed_between(first, last)).group_by(Order.order_date)
        )).all()
    by_day = {day: (int(revenue or 0), int(units or 0), int(count or 0)) for day, revenue, units, count in rows}
    series = [SalesDay(date=day, revenue=by_day.get(day, (0, 0, 0))[0], units=by_day.get(day, (0, 0, 0))[1],
                       orders=by_day.get(day, (0, 0, 0))[2]) for day in days_between(first, last)]
    return SalesRead(from_=first, to=last, total_revenue=sum(d.revenue for d in series),
                     total_units=sum(d.units for d in series), order_count=sum(d.orders for d in series),
                     series=series)


async def vip(db: Database, first: date, last: date, limit: int) -> list[VipRead]:
    """Return the members who paid the most, with their login id and name from the member snapshot."""
    total = func.sum(Order.pay_amount)
    async with db.read_sessions() as session:
        rows = (await session.execute(
            select(Order.member_id, total, func.count()).where(*_confirmed_between(first, last))
            .group_by(Order.member_id).order_by(total.desc(), Order.member_id).limit(limit)
        )).all()
        members = await members_by_id(session, [r[0] for r in rows])
    result = []
    for rank, (member_id, paid, count) in enumerate(rows, start=1):
        member = members.get(member_id)
        result.append(VipRead(rank=rank, member_id=member_id, login_id=member.login_id if member else None,
                              member_name=member.member_name if member else None, total_paid=int(paid or 0),
                              order_count=int(count or 0)))
    return result


async def best_products(db: Database, first: date, last: date, limit: int) -> list[BestProductRead]:
    """Return the products sold in the most units (revenue after coupons breaks ties)."""
    units = func.sum(OrderItem.quantity)
    revenue = func.sum(OrderItem.line_total)
    async with db.read_sessions() as session:
        rows = (await session.execute(
            select(OrderItem.product_id, units, revenue, func.max(OrderItem.name))
            .join(Order, Order.id == OrderItem.order_id).where(*_confirmed_between(first, last))
            .group_by(OrderItem.product_id).order_by(units.desc(), revenue.desc(), OrderItem.product_id).limit(limit)
        )).all()
        products = await products_by_id(session, [r[0] for r in rows])
    return [
        BestProductRead(rank=rank, product_id=product_id,
                        name=products[product_id].name if product_id in products else str(name),
                        units=int(sold or 0), revenue=int(paid or 0))
        for rank, (product_id, sold, paid, name) in enumerate(rows, start=1)
    ]
