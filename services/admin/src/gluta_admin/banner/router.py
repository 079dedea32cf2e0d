"""Banners of the home page: upload with a link and a position, edit, replace the image, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from gluta_admin.web import Admin, _, flash_error, form_int, form_text, gateway, redirect, render
from gluta_kit.web import ApiError, flash, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

BANNERS = "/api/product-service/banners"
MAX_IMAGE_BYTES = 10 * 1024 * 1024


async def _fields(form: Any) -> tuple[dict[str, str], dict[str, Any] | None, str | None]:
    """Return the text fields, the file part (None when no file was chosen) and a problem, if any."""
    data: dict[str, str] = {}
    link = form_text(form, "linkUrl", 500)
    if link:
        if not link.startswith(("https://", "http://", "/")):
            return data, None, _("The link must start with https://, http:// or /.")
        data["linkUrl"] = link
    position = form_int(form, "position")
    if form_text(form, "position", 20):
        if position is None or not 0 <= position <= 1000:
            return data, None, _("The position is a number from 0 to 1000.")
        data["position"] = str(position)
    upload = form.get("file")
    if isinstance(upload, UploadFile) and upload.filename:
        content = await upload.read(MAX_IMAGE_BYTES + 1)
        if len(content) > MAX_IMAGE_BYTES:
            return data, None, _("The image is larger than 10 MB.")
        return data, {"file": (upload.filename, content, upload.content_type or "application/octet-stream")}, None
    return data, None, None


@router.get("/banners", response_class=HTMLResponse)
async def banner_list(request: Request, admin: Admin) -> HTMLResponse:
    """List the banners by position, each with its edit form, and a form for a new one."""
    banners = await gateway(request).get(request, BANNERS, auth="required") or []
    banners = sorted(banners, key=lambda b: (b.get("position") or 0, b.get("bannerId") or 0))
    next_position = max((int(b.get("position") or 0) for b in banners), default=0) + 1
    return render(request, "banners.html", nav="banners", banners=banners, next_position=next_position)


@router.post("/banners")
async def create_banner(request: Request, admin: Admin) -> Response:
    """Upload a new banner."""
    data, files, problem = await _fields(await request.form())
    if problem is None and files is None:
        problem = _("Choose an image for the banner.")
    if problem is None and "position" not in data:
        problem = _("The position is a number from 0 to 1000.")
    if problem:
        flash(request, problem, "error")
        return redirect("/banners")
    try:
        await gateway(request).post(request, BANNERS, auth="required", data={"linkUrl": "", **data}, files=files)
    except ApiError as exc:
        flash_error(request, exc, _("The banner could not be created."))
        return redirect("/banners")
    flash(request, _("The banner was added."), "success")
    return redirect("/banners")


@router.post("/banners/{banner_id}/edit")
async def update_banner(request: Request, banner_id: int, admin: Admin) -> Response:
    """Change a banner's link or position, or replace its image."""
    data, files, problem = await _fields(await request.form())
    if problem is None and not data and files is None:
        problem = _("Nothing to change: give a link, a position or a new image.")
    if problem:
        flash(request, problem, "error")
        return redirect("/banners")
    try:
        await gateway(request).put(request, f"{BANNERS}/{banner_id}", auth="required", data=data, files=files)
    except ApiError as exc:
        flash_error(request, exc, _("The banner could not be saved."))
        return redirect("/banners")
    flash(request, _("The banner was saved."), "success")
    return redirect("/banners")


@router.post("/banners/{banner_id}/delete")
async def delete_banner(request: Request, banner_id: int, admin: Admin) -> Response:
    """Delete a banner."""
    try:
        await gateway(request).delete(request, f"{BANNERS}/{banner_id}", auth="required")
    except ApiError as exc:
        if exc.status != 404:
            flash_error(request, exc, _("The banner could not be deleted."))
            return redirect("/banners")
    flash(request, _("The banner was deleted."), "success")
    return redirect("/banners")
