"""Catalog pages: home, search, product detail with likes, inquiries, add to cart, buy now; images."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from gluta_kit.web import ApiError, GatewayUnavailable, LoginRequired, flash, gettext, verify_csrf
from gluta_storefront.messages import N_, SORTS, FormErrors, error_message, field_message, form_errors
from gluta_storefront.web import (
    ORDER,
    PRODUCT,
    gateway,
    login_url,
    redirect,
    render,
    to_int,
    wants_json,
    web_of,
)

router = APIRouter(dependencies=[Depends(verify_csrf)])

SEARCH_PAGE_SIZE = 20
INQUIRY_PAGE_SIZE = 10
MAX_QUANTITY = 999


async def _section(awaitable: Any) -> tuple[Any, bool]:
    """Return (value, ok): a section whose service is down is shown as unavailable, not as an error page."""
    try:
        return await awaitable, True
    except ApiError:
        return None, False


@router.get("/")
async def home(request: Request) -> Response:
    """The home page: banner carousel, best sellers, new arrivals, popular styles with their products."""
    web = web_of(request)
    cached = web.guest_pages.get(request)
    if cached is not None:
        return cached
    gw, cache = web.gateway, web.cache
    (banners, banners_ok), (best, best_ok), (newest, newest_ok), (styles, styles_ok) = await asyncio.gather(
        _section(cache.get(gw, request, f"{PRODUCT}/banners")),
        _section(cache.get(gw, request, f"{PRODUCT}/products/best", {"size": 8})),
        _section(cache.get(gw, request, f"{PRODUCT}/products/search", {"sort": "newest", "page": 1, "size": 8})),
        _section(cache.get(gw, request, f"{PRODUCT}/styles/popular", {"styles": 5, "perStyle": 4})),
    )
    complete = banners_ok and best_ok and newest_ok and styles_ok
    page = render(request, "home.html", banners=banners or [], best=best or [],
                  newest=(newest or {}).get("items", []), popular_styles=styles or [], unavailable=not complete)
    return web.guest_pages.put(request, page) if complete else page


@router.get("/search")
async def search(request: Request) -> Response:
    """Search with keyword, type, style, price range, sort and paging."""
    web = web_of(request)
    cached = web.guest_pages.get(request)
    if cached is not None:
        return cached
    query = request.query_params
    keyword = (query.get("keyword") or "").strip()[:100]
    filters: dict[str, Any] = {
        "keyword": keyword,
        "type": to_int(query.get("type"), None, low=1),
        "style": (query.get("style") or "").strip().lstrip("#")[:50],
        "minPrice": to_int(query.get("minPrice"), None, low=0, high=100_000_000),
        "maxPrice": to_int(query.get("maxPrice"), None, low=0, high=100_000_000),
        "sort": query.get("sort") if query.get("sort") in SORTS else ("relevance" if keyword else "newest"),
    }
    page = to_int(query.get("page"), 1, low=1, high=10_000) or 1
    params = {k: v for k, v in filters.items() if v not in (None, "")}
    errors = FormErrors()
    low, high = filters["minPrice"], filters["maxPrice"]
    if low is not None and high is not None and low > high:
        errors.fields["maxPrice"] = gettext(N_("The highest price must not be below the lowest price."))
    results: dict[str, Any] = {"items": [], "total": 0, "page": page, "size": SEARCH_PAGE_SIZE}
    (types, _), (styles, _) = await asyncio.gather(
        _section(web.cache.get(web.gateway, request, f"{PRODUCT}/types")),
        _section(web.cache.get(web.gateway, request, f"{PRODUCT}/styles")),
    )
    status = 200
    if not errors:
        try:
            results = await web.cache.get(web.gateway, request, f"{PRODUCT}/products/search",
                                          {**params, "page": page, "size": SEARCH_PAGE_SIZE})
        except ApiError as exc:
            errors = form_errors(exc)
            status = exc.status if exc.status < 500 else 503
    total = int(results.get("total") or 0)
    pages = max(1, -(-total // SEARCH_PAGE_SIZE))

    def page_url(number: int) -> str:
        return "/search?" + urlencode({**params, "page": number})

    suggestion = results.get("didYouMean") if keyword and not total else None
    response = render(request, "search.html", status_code=status, filters=filters, results=results,
                      total=total, page=page, pages=pages, page_url=page_url, types=types or [],
                      styles=(styles or [])[:30], sorts={k: v for k, v in SORTS.items() if keyword or k != "relevance"},
                      errors=errors, suggestion=suggestion,
                      suggestion_url="/search?" + urlencode({"keyword": suggestion}) if suggestion else "")
    return web.guest_pages.put(request, response) if types is not None and styles is not None else response


@router.get("/search/suggest")
async def suggest(request: Request) -> Response:
    """Autocomplete for the search box: `{items: [{text, productId}]}` (up to 10; empty when unavailable)."""
    prefix = (request.query_params.get("prefix") or "").strip()[:100]
    if not prefix:
        return JSONResponse({"items": []})
    web = web_of(request)
    try:
        found = await web.cache.get(web.gateway, request, f"{PRODUCT}/products/autocomplete", {"prefix": prefix})
    except ApiError:
        return JSONResponse({"items": []}, status_code=503)
    items = [{"text": str(i.get("text", "")), "productId": int(i.get("productId", 0))}
             for i in (found or {}).get("items", [])[:10]]
    return JSONResponse({"items": items}, headers={"Cache-Control": "private, max-age=30"})


def _quantity_error() -> FormErrors:
    return FormErrors(None, {"quantity": field_message("quantity")})


async def _product_page(request: Request, product_id: int, status_code: int = 200, **extra: Any) -> Response:
    gw = gateway(request)
    inquiry_page = to_int(request.query_params.get("ipage"), 1, low=1, high=100_000) or 1
    try:
        product = await gw.get(request, f"{PRODUCT}/products/{product_id}")
    except ApiError as exc:
        if exc.status in (404, 422):
            raise HTTPException(404) from exc
        raise
    inquiries, inquiries_ok = await _section(gw.get(request, f"{PRODUCT}/products/{product_id}/inquiries",
                                                    params={"page": inquiry_page, "size": INQUIRY_PAGE_SIZE}))
    inquiries = inquiries or {"items": [], "total": 0}
    pages = max(1, -(-int(inquiries.get("total") or 0) // INQUIRY_PAGE_SIZE))
    extra.setdefault("buy_errors", FormErrors())
    extra.setdefault("inquiry_errors", FormErrors())
    extra.setdefault("inquiry_content", "")
    extra.setdefault("quantity", 1)
    return render(request, "product.html", status_code=status_code, product=product, inquiries=inquiries,
                  inquiries_ok=inquiries_ok, inquiry_page=inquiry_page, inquiry_pages=pages, **extra)


@router.get("/products/{product_id}")
async def product_detail(request: Request, product_id: int) -> Response:
    """Product detail: images, description, like, quantity, add to cart, buy now, inquiries."""
    if not 1 <= product_id <= 2**53:
        raise HTTPException(404)
    return await _product_page(request, product_id)


@router.post("/products/{product_id}/like")
async def toggle_like(request: Request, product_id: int, liked: str = Form("1")) -> Response:
    """Like or unlike (`liked` = 1 or 0); scripts get `{liked, likeCount}` back."""
    gw = gateway(request)
    want = liked == "1"
    try:
        await gw.call(request, "PUT" if want else "DELETE", f"{PRODUCT}/products/{product_id}/like", auth="required")
        product = await gw.get(request, f"{PRODUCT}/products/{product_id}")
    except LoginRequired:
        if wants_json(request):
            return JSONResponse({"login": login_url(f"/products/{product_id}")}, status_code=401)
        raise
    except ApiError as exc:
        if wants_json(request):
            return JSONResponse({"message": error_message(exc.code)}, status_code=exc.status)
        flash(request, error_message(exc.code), "error")
        return redirect(f"/products/{product_id}")
    if wants_json(request):
        return JSONResponse({"liked": bool(product.get("liked")), "likeCount": int(product.get("likeCount") or 0)})
    return redirect(f"/products/{product_id}")


@router.post("/products/{product_id}/cart")
async def add_to_cart(request: Request, product_id: int, quantity: str = Form("1")) -> Response:
    """Put the product in the cart (added to its line when already there)."""
    count = to_int(quantity, None, low=1, high=MAX_QUANTITY)
    if count is None:
        return await _product_page(request, product_id, 422, quantity=quantity,
                                   buy_errors=_quantity_error())
    try:
        await gateway(request).post(request, f"{ORDER}/cart/items", json={"productId": product_id, "quantity": count},
                                    auth="required")
    except LoginRequired:
        return redirect(login_url(f"/products/{product_id}"))
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return await _product_page(request, product_id, exc.status, quantity=count,
                                   buy_errors=form_errors(exc, {"OUT_OF_STOCK": "quantity"}))
    flash(request, gettext(N_("Added to your cart.")), "success")
    return redirect(f"/products/{product_id}?added=1")


@router.post("/products/{product_id}/buy")
async def buy_now(request: Request, product_id: int, quantity: str = Form("1")) -> Response:
    """Go to checkout with this product only."""
    count = to_int(quantity, None, low=1, high=MAX_QUANTITY)
    if count is None:
        return await _product_page(request, product_id, 422, quantity=quantity,
                                   buy_errors=_quantity_error())
    target = "/checkout?" + urlencode({"productId": product_id, "quantity": count})
    if not request.session.get("auth"):
        return redirect(login_url(target))
    return redirect(target)


@router.post("/products/{product_id}/inquiries")
async def write_inquiry(request: Request, product_id: int, content: str = Form("")) -> Response:
    """Ask a question about the product."""
    text = content.strip()
    if not text or len(text) > 2000:
        return await _product_page(request, product_id, 422, inquiry_content=content,
                                   inquiry_errors=FormErrors(None, {"content": field_message("content")}))
    try:
        await gateway(request).post(request, f"{PRODUCT}/products/{product_id}/inquiries", json={"content": text},
                                    auth="required")
    except LoginRequired:
        return redirect(login_url(f"/products/{product_id}#inquiries"))
    except ApiError as exc:
        if isinstance(exc, GatewayUnavailable):
            raise
        return await _product_page(request, product_id, exc.status, inquiry_content=content,
                                   inquiry_errors=form_errors(exc))
    flash(request, gettext(N_("Your question was posted.")), "success")
    return redirect(f"/products/{product_id}#inquiries")


@router.post("/inquiries/{inquiry_id}/delete")
async def delete_inquiry(request: Request, inquiry_id: int, product: str = Form("", alias="productId")) -> Response:
    """Delete one of the member's own questions."""
    product_id = to_int(product, None, low=1)
    back = f"/products/{product_id}#inquiries" if product_id else "/"
    try:
        await gateway(request).delete(request, f"{PRODUCT}/inquiries/{inquiry_id}", auth="required")
        flash(request, gettext(N_("Your question was deleted.")), "success")
    except LoginRequired:
        return redirect(login_url(back))
    except ApiError as exc:
        flash(request, error_message(exc.code), "error")
    return redirect(back)


@router.get(f"{PRODUCT}/images/{{image_id}}")
async def image(request: Request, image_id: int) -> Response:
    """Serve a product or banner image from the product service (cached by the browser)."""
    headers = {}
    if request.headers.get("if-none-match"):
        headers["If-None-Match"] = request.headers["if-none-match"]
    response = await gateway(request).call(request, "GET", f"{PRODUCT}/images/{image_id}", auth="none",
                                           headers=headers, raise_for_status=False)
    if response.status_code not in (200, 304):
        raise HTTPException(404)
    keep = {k: response.headers[k] for k in ("etag", "cache-control", "last-modified") if k in response.headers}
    keep.setdefault("cache-control", "public, max-age=86400")
    keep["x-content-type-options"] = "nosniff"
    return Response(response.content if response.status_code == 200 else b"", status_code=response.status_code,
                    media_type=response.headers.get("content-type", "application/octet-stream"), headers=keep)
