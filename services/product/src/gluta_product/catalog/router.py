"""Catalog routes: search, detail, product CRUD, types and styles."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from gluta_kit.auth import AdminOnly, OptionalPrincipal, Principal
from gluta_product.catalog import service as catalog
from gluta_product.catalog.schemas import (
    ProductDetail,
    ProductSummary,
    ProductTypeRead,
    ProductTypeWrite,
    ProductWrite,
    SearchPage,
    SortOrder,
    StyleCount,
    StyleProducts,
    StyleRegistered,
    StyleWrite,
    SuggestionList,
)
from gluta_product.deps import ServiceDep
from gluta_product.idempotency import run_once
from gluta_product.schemas import MAX_ID, IdempotencyKey, IdPath, PageQuery, SizeQuery

router = APIRouter(tags=["catalog"])

Price = Annotated[int | None, Query(ge=0, le=10**12)]


def viewer_of(principal: Principal | None) -> int | None:
    """Return the calling member's id, if a member calls."""
    return principal.member_id if principal is not None and principal.role == "member" else None


@router.get("/products/search", response_model=SearchPage)
async def search(service: ServiceDep, principal: OptionalPrincipal,
                 keyword: Annotated[str | None, Query(max_length=200)] = None,
                 type: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                 style: Annotated[str | None, Query(max_length=40)] = None,
                 min_price: Annotated[int | None, Query(alias="minPrice", ge=0, le=10**12)] = None,
                 max_price: Annotated[int | None, Query(alias="maxPrice", ge=0, le=10**12)] = None,
                 sort: SortOrder | None = None, page: PageQuery = 1, size: SizeQuery = 20) -> SearchPage:
    """Search live products by keyword, type, style and price, best match first (or sorted), paged in the
    database; `didYouMean` when nothing was found."""
    query = catalog.SearchQuery(keyword=keyword, type_id=type, style=style, min_price=min_price,
                                max_price=max_price, sort=sort, page=page, size=size)
    async with service.db.read_sessions() as session:
        return await catalog.search_products(session, service.db.dialect, query, viewer_of(principal))


# Before /products/{product_id}: "autocomplete" is not an id.
@router.get("/products/autocomplete", response_model=SuggestionList)
async def suggest(service: ServiceDep, prefix: Annotated[str, Query(max_length=100)] = "") -> SuggestionList:
    """Suggest up to 10 product names for what a shopper has typed (prefix, spacing-free, 초성)."""
    async with service.db.read_sessions() as session:
        return SuggestionList(items=await catalog.autocomplete(session, service.db.dialect, prefix))


@router.get("/products/best", response_model=list[ProductSummary])
async def best(service: ServiceDep, principal: OptionalPrincipal, size: SizeQuery = 10) -> list[ProductSummary]:
    """Return the best sellers by units sold."""
    async with service.db.read_sessions() as session:
        return await catalog.best_products(session, size, viewer_of(principal))


@router.get("/products/{product_id}", response_model=ProductDetail)
async def detail(product_id: IdPath, service: ServiceDep, principal: OptionalPrincipal) -> ProductDetail:
    """Return one product; `liked` tells whether the calling member likes it."""
    async with service.db.read_sessions() as session:
        return await catalog.product_detail(session, product_id, viewer_of(principal))


@router.post("/products", status_code=201, response_model=ProductDetail)
async def create(body: ProductWrite, admin: AdminOnly, service: ServiceDep,
                 idempotency_key: IdempotencyKey = None) -> ProductDetail:
    """Create a product."""
    return await run_once(service.uow, scope="product.create", caller=admin.subject_id, key=idempotency_key,
                          model=ProductDetail, action=lambda uow: catalog.create_product(uow, body))


@router.put("/products/{product_id}", response_model=ProductDetail)
async def edit(product_id: IdPath, body: ProductWrite, admin: AdminOnly, service: ServiceDep) -> ProductDetail:
    """Replace a product's fields, images and styles."""
    return await catalog.update_product(service.uow(), product_id, body)


@router.delete("/products/{product_id}", status_code=204)
async def remove(product_id: IdPath, admin: AdminOnly, service: ServiceDep) -> Response:
    """Soft-delete a product: hidden at once, files left for the janitor."""
    await catalog.delete_product(service.uow(), product_id)
    return Response(status_code=204)


@router.get("/types", response_model=list[ProductTypeRead])
async def types(service: ServiceDep) -> list[ProductTypeRead]:
    """Return every product type."""
    async with service.db.read_sessions() as session:
        return await catalog.list_types(session)


@router.post("/types", status_code=201, response_model=ProductTypeRead)
async def create_type(body: ProductTypeWrite, admin: AdminOnly, service: ServiceDep,
                      idempotency_key: IdempotencyKey = None) -> ProductTypeRead:
    """Add a product type."""
    return await run_once(service.uow, scope="product.type", caller=admin.subject_id, key=idempotency_key,
                          model=ProductTypeRead, action=lambda uow: catalog.create_type(uow, body.type))


@router.delete("/types/{product_type_id}", status_code=204)
async def delete_type(product_type_id: IdPath, admin: AdminOnly, service: ServiceDep) -> Response:
    """Remove a product type no live product uses."""
    await catalog.delete_type(service.uow(), product_type_id)
    return Response(status_code=204)


@router.get("/styles", response_model=list[StyleCount])
async def styles(service: ServiceDep) -> list[StyleCount]:
    """Return every style with its product count, most used first."""
    async with service.db.read_sessions() as session:
        return await catalog.list_styles(session)


@router.get("/styles/popular", response_model=list[StyleProducts])
async def popular(service: ServiceDep, principal: OptionalPrincipal,
                  styles: Annotated[int, Query(ge=1, le=20)] = 5,
                  per_style: Annotated[int, Query(alias="perStyle", ge=1, le=20)] = 5) -> list[StyleProducts]:
    """Return the most popular styles, each with its most popular products."""
    async with service.db.read_sessions() as session:
        return await catalog.popular_styles(session, styles, per_style, viewer_of(principal))


@router.post("/products/{product_id}/styles", status_code=201, response_model=StyleRegistered)
async def add_style(product_id: IdPath, body: StyleWrite, admin: AdminOnly, service: ServiceDep) -> StyleRegistered:
    """Register a hashtag on a product."""
    return await catalog.add_style(service.uow(), product_id, body.style)


@router.delete("/products/{product_id}/styles/{style}", status_code=204)
async def remove_style(product_id: IdPath, style: str, admin: AdminOnly, service: ServiceDep) -> Response:
    """Cancel a hashtag on a product."""
    await catalog.remove_style(service.uow(), product_id, style.strip().lstrip("#").strip())
    return Response(status_code=204)
