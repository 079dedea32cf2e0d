"""Build the dashboard from the order service's admin endpoints: one call per panel, each may fail alone."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from markupsafe import Markup

from gluta_admin import charts
from gluta_admin.web import _, describe
from gluta_kit.web import ApiError, GatewayClient, LoginRequired

ZONE = ZoneInfo("Asia/Seoul")
MAX_DAYS = 366
DEFAULT_DAYS = 30
SALES = "/api/order-service/admin/dashboard/sales"
VIP = "/api/order-service/admin/dashboard/vip"
BEST = "/api/order-service/admin/dashboard/best-products"
COUPONS = "/api/order-service/admin/coupons"


@dataclass(frozen=True)
class DateRange:
    """Both ends included, as the API counts them."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def params(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def today() -> date:
    """Return today's date in Korea (the shop's business day)."""
    return datetime.now(ZONE).date()


def parse_range(start: str | None, end: str | None, now: date | None = None) -> tuple[DateRange, str | None]:
    """Return the asked range (or the last 30 days) and a message when the asked one could not be used."""
    now = now or today()
    default = DateRange(now - timedelta(days=DEFAULT_DAYS - 1), now)
    if not start and not end:
        return default, None
    try:
        end_date = date.fromisoformat(end) if end else now
        start_date = date.fromisoformat(start) if start else end_date - timedelta(days=DEFAULT_DAYS - 1)
    except ValueError:
        return default, _("The dates could not be read; showing the last 30 days.")
    if start_date > end_date:
        start_date, end_date = end_date, start_date
    if (end_date - start_date).days + 1 > MAX_DAYS:
        start_date = end_date - timedelta(days=MAX_DAYS - 1)
        return DateRange(start_date, end_date), _("A range covers at most 366 days; it was shortened.")
    return DateRange(start_date, end_date), None


def fill_series(series: list[dict[str, Any]], rng: DateRange) -> list[dict[str, Any]]:
    """Return one row per day of the range, zero where the API had none."""
    by_day: dict[str, dict[str, Any]] = {}
    for row in series:
        day = str(row.get("date") or "")[:10]
        if day:
            by_day[day] = row
    rows = []
    for offset in range(rng.days):
        day = (rng.start + timedelta(days=offset)).isoformat()
        row = by_day.get(day, {})
        rows.append({"date": day, "revenue": int(row.get("revenue") or 0), "units": int(row.get("units") or 0),
                     "orders": int(row.get("orders") or 0)})
    return rows


@dataclass
class Dashboard:
    """What the dashboard page shows; a panel is None when its call failed (see `problems`)."""

    range: DateRange
    sales: dict[str, Any] | None = None
    days: list[dict[str, Any]] = field(default_factory=list)
    vip: list[dict[str, Any]] | None = None
    best: list[dict[str, Any]] | None = None
    coupons: list[dict[str, Any]] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def average_order(self) -> int:
        if not self.sales or not self.sales.get("orderCount"):
            return 0
        return int(int(self.sales.get("totalRevenue") or 0) / int(self.sales["orderCount"]))

    def sales_chart(self) -> Markup:
        quiet = not any(d["revenue"] or d["units"] for d in self.days)
        labels = [] if quiet else [d["date"][5:] for d in self.days]
        return charts.bar_line_chart(
            labels, charts.Series(_("Revenue (won)"), [d["revenue"] for d in self.days]),
            charts.Series(_("Units"), [d["units"] for d in self.days]),
            title=_("Revenue and units per day"), empty_message=_("No sales in this period"))

    def best_chart(self) -> Markup:
        items = [(str(p.get("name") or f"#{p.get('productId')}"), float(p.get("units") or 0)) for p in self.best or []]
        return charts.hbar_chart(items, title=_("Best products by units"), value_name=_("Units"),
                                 empty_message=_("No products sold in this period"))

    def coupon_chart(self) -> Markup:
        items = [(str(c.get("name") or ""), int(c.get("issuedCount") or 0),
                  None if c.get("quantity") is None else int(c["quantity"]))
                 for c in (self.coupons or [])[:10]]
        return charts.filled_bars(items, title=_("Coupons claimed of quantity"), unlimited_label=_("unlimited"),
                                  empty_message=_("No coupons yet"))


async def load(client: GatewayClient, request: Request, rng: DateRange, limit: int = 10) -> Dashboard:
    """Ask for every panel at once; a failed panel becomes a problem line, a dead session a LoginRequired."""
    params = rng.params()
    calls = await asyncio.gather(
        client.get(request, SALES, auth="required", params={**params, "granularity": "day"}),
        client.get(request, VIP, auth="required", params={**params, "limit": limit}),
        client.get(request, BEST, auth="required", params={**params, "limit": limit}),
        client.get(request, COUPONS, auth="required"),
        return_exceptions=True,
    )
    view = Dashboard(range=rng)
    names = [_("Sales"), _("VIP ranking"), _("Best products"), _("Coupons")]
    for name, result in zip(names, calls, strict=True):
        if isinstance(result, LoginRequired):
            raise result
        if isinstance(result, ApiError):
            view.problems.append(f"{name}: {describe(result)}")
        elif isinstance(result, BaseException):
            raise result
    sales, vip, best, coupons = calls
    if isinstance(sales, dict):
        view.sales = sales
        view.days = fill_series(list(sales.get("series") or []), rng)
    if isinstance(vip, list):
        view.vip = vip
    if isinstance(best, list):
        view.best = best
    if isinstance(coupons, list):
        active = [c for c in coupons if not c.get("disabled")]
        disabled = [c for c in coupons if c.get("disabled")]
        view.coupons = active + disabled
    return view
