"""The dashboard page."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gluta_admin.dashboard.service import DateRange, load, parse_range, today
from gluta_admin.web import Admin, gateway, render

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def dashboard(request: Request, admin: Admin) -> HTMLResponse:
    """Show sales, VIPs, best products and coupons over the chosen dates (last 30 days by default)."""
    rng, note = parse_range(request.query_params.get("from"), request.query_params.get("to"))
    view = await load(gateway(request), request, rng)
    now = today()
    presets = [
        ("7", DateRange(now - timedelta(days=6), now)),
        ("30", DateRange(now - timedelta(days=29), now)),
        ("90", DateRange(now - timedelta(days=89), now)),
        ("month", DateRange(now.replace(day=1), now)),
    ]
    return render(request, "dashboard.html", nav="dashboard", view=view, note=note,
                  presets=presets)
