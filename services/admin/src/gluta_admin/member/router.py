"""Members: search by login id, name or email; withdrawn members are shown as such."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gluta_admin.web import Admin, Paging, clamp_page, gateway, render

router = APIRouter()

ADMIN_MEMBERS = "/api/user-service/admin/members"
PAGE_SIZE = 20


def is_withdrawn(member: dict[str, Any]) -> bool:
    """Tell whether a member has withdrawn (the user service flags it, by a flag or a time)."""
    return bool(member.get("withdrawn") or member.get("withdrawnAt") or member.get("status") == "WITHDRAWN")


@router.get("/members", response_class=HTMLResponse)
async def member_list(request: Request, admin: Admin) -> HTMLResponse:
    """List members, searchable, with paging."""
    keyword = (request.query_params.get("keyword") or "").strip()[:100]
    page = clamp_page(request.query_params.get("page"))
    params: dict[str, Any] = {"page": page, "size": PAGE_SIZE}
    if keyword:
        params["keyword"] = keyword
    body = await gateway(request).get(request, ADMIN_MEMBERS, auth="required", params=params)
    query = {"keyword": keyword} if keyword else {}
    return render(request, "members.html", nav="members", members=Paging(body, page, PAGE_SIZE), keyword=keyword,
                  query=query, is_withdrawn=is_withdrawn)
