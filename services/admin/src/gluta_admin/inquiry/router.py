"""Customer inquiries: unanswered first; answer, edit the answer, delete the answer."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gluta_admin.web import Admin, Paging, _, clamp_page, flash_error, form_text, gateway, redirect, render, safe_next
from gluta_kit.web import ApiError, flash, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

ADMIN_INQUIRIES = "/api/product-service/admin/inquiries"
INQUIRIES = "/api/product-service/inquiries"
PAGE_SIZE = 20
TABS = {"unanswered": "false", "answered": "true"}


@router.get("/inquiries", response_class=HTMLResponse)
async def inquiry_list(request: Request, admin: Admin) -> HTMLResponse:
    """List inquiries: the unanswered tab first, the answered ones on the other tab."""
    tab = request.query_params.get("tab") or "unanswered"
    tab = tab if tab in TABS else "unanswered"
    page = clamp_page(request.query_params.get("page"))
    client = gateway(request)
    body = await client.get(request, ADMIN_INQUIRIES, auth="required",
                            params={"answered": TABS[tab], "page": page, "size": PAGE_SIZE})
    waiting = body.get("total", 0) if tab == "unanswered" else None
    if waiting is None:
        count = await client.get(request, ADMIN_INQUIRIES, auth="required",
                                 params={"answered": "false", "page": 1, "size": 1})
        waiting = count.get("total", 0)
    return render(request, "inquiries.html", nav="inquiries", inquiries=Paging(body, page, PAGE_SIZE), tab=tab,
                  waiting=waiting, query={"tab": tab}, back=str(request.url.path) + "?" + str(request.url.query))


@router.post("/inquiries/{inquiry_id}/answer")
async def answer(request: Request, inquiry_id: int, admin: Admin) -> Response:
    """Write or edit the answer of an inquiry."""
    form = await request.form()
    content = form_text(form, "content", 4000)
    back = safe_next(form_text(form, "back", 500), "/inquiries")
    if not content:
        flash(request, _("Write the answer first."), "error")
        return redirect(back)
    try:
        await gateway(request).put(request, f"{INQUIRIES}/{inquiry_id}/answer", auth="required",
                                   json={"content": content})
    except ApiError as exc:
        flash_error(request, exc, _("The answer could not be saved."))
        return redirect(back)
    flash(request, _("The answer was saved."), "success")
    return redirect(back)


@router.post("/inquiries/{inquiry_id}/answer/delete")
async def delete_answer(request: Request, inquiry_id: int, admin: Admin) -> Response:
    """Delete the answer of an inquiry (the inquiry goes back to unanswered)."""
    back = safe_next(form_text(await request.form(), "back", 500), "/inquiries")
    try:
        await gateway(request).delete(request, f"{INQUIRIES}/{inquiry_id}/answer", auth="required")
    except ApiError as exc:
        if exc.status != 404:
            flash_error(request, exc, _("The answer could not be deleted."))
            return redirect(back)
    flash(request, _("The answer was deleted."), "success")
    return redirect(back)
