"""Product pages: the searchable list, the create/edit form with images, the delete confirmation."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from gluta_admin.product.service import PRODUCTS, ProductForm, api_field_errors, parse_form, upload_new_images
from gluta_admin.web import (
    Admin,
    Paging,
    _,
    clamp_page,
    describe,
    flash_error,
    gateway,
    redirect,
    render,
)
from gluta_kit.web import ApiError, flash, verify_csrf

router = APIRouter(dependencies=[Depends(verify_csrf)])

SEARCH = "/api/product-service/products/search"
TYPES = "/api/product-service/types"
PAGE_SIZE = 20
SORTS = ("newest", "name", "priceAsc", "priceDesc", "popular")


async def _types(request: Request) -> list[dict[str, Any]]:
    return list(await gateway(request).get(request, TYPES, auth="required") or [])


@router.get("/products", response_class=HTMLResponse)
async def product_list(request: Request, admin: Admin) -> HTMLResponse:
    """List products, newest first, with search by keyword and type and paging."""
    keyword = (request.query_params.get("keyword") or "").strip()[:100]
    type_id = (request.query_params.get("type") or "").strip()
    sort = request.query_params.get("sort") or "newest"
    sort = sort if sort in SORTS else "newest"
    page = clamp_page(request.query_params.get("page"))
    params: dict[str, Any] = {"page": page, "size": PAGE_SIZE, "sort": sort}
    if keyword:
        params["keyword"] = keyword
    if type_id.isdigit():
        params["type"] = type_id
    body = await gateway(request).get(request, SEARCH, auth="required", params=params)
    types = await _types(request)
    query = {k: v for k, v in (("keyword", keyword), ("type", type_id), ("sort", sort)) if v}
    return render(request, "products/list.html", nav="products", products=Paging(body, page, PAGE_SIZE),
                  keyword=keyword, type_id=type_id, sort=sort, types=types, query=query)


@router.get("/products/new", response_class=HTMLResponse)
async def new_product(request: Request, admin: Admin) -> HTMLResponse:
    """Show an empty product form."""
    return render(request, "products/form.html", nav="products", form=ProductForm(), product=None,
                  types=await _types(request))


@router.post("/products/new", response_class=HTMLResponse)
async def create_product(request: Request, admin: Admin) -> Response:
    """Upload the images, then create the product; the form comes back with its values on any problem."""
    form = parse_form(await request.form())
    return await _save(request, form, None)


@router.get("/products/{product_id}/edit", response_class=HTMLResponse)
async def edit_product(request: Request, product_id: int, admin: Admin) -> Response:
    """Show the form of an existing product."""
    try:
        product = await gateway(request).get(request, f"{PRODUCTS}/{product_id}", auth="required")
    except ApiError as exc:
        if exc.status == 404:
            flash(request, _("The product no longer exists."), "error")
            return redirect("/products")
        raise
    return render(request, "products/form.html", nav="products", form=ProductForm.from_product(product),
                  product=product, types=await _types(request))


@router.post("/products/{product_id}/edit", response_class=HTMLResponse)
async def update_product(request: Request, product_id: int, admin: Admin) -> Response:
    """Save an existing product (new images are uploaded first)."""
    form = parse_form(await request.form())
    return await _save(request, form, product_id)


async def _save(request: Request, form: ProductForm, product_id: int | None) -> Response:
    client = gateway(request)
    await upload_new_images(client, request, form)
    product = {"productId": product_id} if product_id else None
    if not form.errors:
        try:
            if product_id is None:
                saved = await client.post(request, PRODUCTS, auth="required", json=form.payload())
            else:
                saved = await client.put(request, f"{PRODUCTS}/{product_id}", auth="required", json=form.payload())
        except ApiError as exc:
            if exc.status == 404 and exc.code == "PRODUCT_NOT_FOUND":
                flash(request, _("The product no longer exists."), "error")
                return redirect("/products")
            form.errors.update(api_field_errors(exc))
            form.errors.setdefault("form", describe(exc, _("The product could not be saved.")))
        else:
            name = saved.get("name") if isinstance(saved, dict) else form.name
            message = _("Product “%(name)s” was created.") if product_id is None else _("Product “%(name)s” was saved.")
            flash(request, message % {"name": name}, "success")
            new_id = saved.get("productId") if isinstance(saved, dict) else product_id
            return redirect(f"/products/{new_id}/edit" if new_id else "/products")
    if "form" not in form.errors:
        form.errors["form"] = _("Check the highlighted fields.")
    return render(request, "products/form.html", status_code=422, nav="products", form=form, product=product,
                  types=await _types(request))


@router.get("/products/{product_id}/delete", response_class=HTMLResponse)
async def confirm_delete(request: Request, product_id: int, admin: Admin) -> Response:
    """Ask before deleting a product."""
    try:
        product = await gateway(request).get(request, f"{PRODUCTS}/{product_id}", auth="required")
    except ApiError as exc:
        if exc.status == 404:
            flash(request, _("The product no longer exists."), "error")
            return redirect("/products")
        raise
    return render(request, "products/delete.html", nav="products", product=product)


@router.post("/products/{product_id}/delete")
async def delete_product(request: Request, product_id: int, admin: Admin) -> Response:
    """Delete a product: hidden from the shop at once."""
    try:
        await gateway(request).delete(request, f"{PRODUCTS}/{product_id}", auth="required")
    except ApiError as exc:
        if exc.status != 404:
            flash_error(request, exc, _("The product could not be deleted."))
            return redirect(f"/products/{product_id}/delete")
    flash(request, _("The product was deleted."), "success")
    return redirect("/products")
