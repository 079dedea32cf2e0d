"""Product types: list, create, delete (the product service refuses while products use one)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gluta_admin.web import Admin, _, flash_error, form_text, gateway, redirect, render
from gluta_kit.web import ApiError, flash, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

TYPES = "/api/product-service/types"
SEARCH = "/api/product-service/products/search"


async def _in_use_message(request: Request, type_id: int) -> str:
    """Say why a type cannot go: how many products use it (when the search can tell)."""
    client = gateway(request)
    try:
        found = await client.get(request, SEARCH, auth="required", params={"type": type_id, "page": 1, "size": 1})
        count = int(found.get("total") or 0)
        types = await client.get(request, TYPES, auth="required")
        name = next((str(t.get("type")) for t in types if t.get("productTypeId") == type_id), f"#{type_id}")
    except (ApiError, ValueError, TypeError, AttributeError):
        count, name = 0, f"#{type_id}"
    if count:
        return _("%(count)s products still use the type “%(name)s”, so it cannot be deleted. Change their type "
                 "first.") % {"count": count, "name": name}
    return _("This type is still used by products, so it cannot be deleted.")


@router.get("/types", response_class=HTMLResponse)
async def type_list(request: Request, admin: Admin) -> HTMLResponse:
    """List the types with a form to add one."""
    types = await gateway(request).get(request, TYPES, auth="required")
    return render(request, "types.html", nav="types", types=types or [])


@router.post("/types")
async def create_type(request: Request, admin: Admin) -> Response:
    """Add a type."""
    name = form_text(await request.form(), "type", 100)
    if not name:
        flash(request, _("Enter the name of the type."), "error")
        return redirect("/types")
    try:
        await gateway(request).post(request, TYPES, auth="required", json={"type": name})
    except ApiError as exc:
        flash_error(request, exc, _("The type could not be created."))
        return redirect("/types")
    flash(request, _("Type “%(name)s” was created.") % {"name": name}, "success")
    return redirect("/types")


@router.post("/types/{type_id}/delete")
async def delete_type(request: Request, type_id: int, admin: Admin) -> Response:
    """Delete a type; while products use it the refusal and its reason are shown."""
    client = gateway(request)
    try:
        await client.delete(request, f"{TYPES}/{type_id}", auth="required")
    except ApiError as exc:
        if exc.code == "TYPE_IN_USE":
            flash(request, await _in_use_message(request, type_id), "error")
            return redirect("/types")
        if exc.status != 404:
            flash_error(request, exc, _("The type could not be deleted."))
            return redirect("/types")
    flash(request, _("The type was deleted."), "success")
    return redirect("/types")
