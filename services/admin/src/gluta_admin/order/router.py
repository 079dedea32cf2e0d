"""Orders by status, with the reason of each cancellation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gluta_admin.web import Admin, Paging, clamp_page, gateway, render

router = APIRouter()

ADMIN_ORDERS = "/api/order-service/admin/orders"
PAGE_SIZE = 20
STATUSES = ("PENDING", "CONFIRMED", "CANCELLED")


@router.get("/orders", response_class=HTMLResponse)
async def order_list(request: Request, admin: Admin) -> HTMLResponse:
    """List orders, newest first, of every status or of one."""
    status = (request.query_params.get("status") or "").upper()
    status = status if status in STATUSES else ""
    page = clamp_page(request.query_params.get("page"))
    params: dict[str, Any] = {"page": page, "size": PAGE_SIZE}
    if status:
        params["status"] = status
    body = await gateway(request).get(request, ADMIN_ORDERS, auth="required", params=params)
    query = {"status": status} if status else {}
    return render(request, "orders.html", nav="orders", orders=Paging(body, page, PAGE_SIZE), status=status,
                  statuses=STATUSES, query=query)
