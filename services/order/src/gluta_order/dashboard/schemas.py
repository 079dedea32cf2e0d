"""Dashboard bodies."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from gluta_order.common import Schema


class SalesDay(Schema):
    """One Korean calendar day of sales."""

    date: date
    revenue: int
    units: int
    orders: int


class SalesRead(Schema):
    """Sales over a range: confirmed orders, net of cancellations; revenue is what members paid."""

    from_: date = Field(alias="from")
    to: date
    total_revenue: int
    total_units: int
    order_count: int
    series: list[SalesDay]


class VipRead(Schema):
    """A member ranked by what they paid."""

    rank: int
    member_id: int
    login_id: str | None
    member_name: str | None
    total_paid: int
    order_count: int


class BestProductRead(Schema):
    """A product ranked by units sold."""

    rank: int
    product_id: int
    name: str
    units: int
    revenue: int
