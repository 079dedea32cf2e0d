"""Likes: idempotent, with the product's `like_count` kept exact by conditional updates."""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.db import insert_ignore
from gluta_kit.models import utcnow
from gluta_kit.uow import UnitOfWork
from gluta_product.catalog.exceptions import ProductNotFound
from gluta_product.catalog.models import Product
from gluta_product.catalog.schemas import ProductSummary
from gluta_product.catalog.service import summaries, summary_select
from gluta_product.like.models import ProductLike
from gluta_product.schemas import Page


async def _require_live(uow: UnitOfWork, product_id: int) -> None:
    found = await uow.session.scalar(select(Product.id).where(Product.id == product_id, Product.deleted_at.is_(None)))
    if found is None:
        raise ProductNotFound()


async def like(uow: UnitOfWork, member_id: int, product_id: int) -> None:
    """Like a product; liking it again changes nothing."""
    async with uow:
        await _require_live(uow, product_id)
        result = await uow.session.execute(insert_ignore(
            ProductLike.__table__, uow.db.dialect,
            {"member_id": member_id, "product_id": product_id, "created_at": utcnow()}))
        if result.rowcount:
            await uow.session.execute(update(Product).where(Product.id == product_id)
                                      .values(like_count=Product.like_count + 1))
        await uow.commit()


async def unlike(uow: UnitOfWork, member_id: int, product_id: int) -> None:
    """Take a like back; doing it again changes nothing."""
    async with uow:
        await _require_live(uow, product_id)
        result = await uow.session.execute(delete(ProductLike).where(ProductLike.member_id == member_id,
                                                                     ProductLike.product_id == product_id))
        if result.rowcount:
            await uow.session.execute(update(Product).where(Product.id == product_id, Product.like_count > 0)
                                      .values(like_count=Product.like_count - 1))
        await uow.commit()


async def liked_products(session: AsyncSession, member_id: int, page: int, size: int) -> Page[ProductSummary]:
    """Return the member's liked live products, most recent like first."""
    conditions = (ProductLike.member_id == member_id, Product.deleted_at.is_(None))
    total = int(await session.scalar(select(func.count()).select_from(ProductLike)
                                     .join(Product, Product.id == ProductLike.product_id).where(*conditions)) or 0)
    rows = (await session.execute(
        summary_select().join(ProductLike, ProductLike.product_id == Product.id).where(*conditions)
        .order_by(ProductLike.created_at.desc(), Product.id.desc()).limit(size).offset((page - 1) * size))).all()
    return Page(items=await summaries(session, rows, member_id), page=page, size=size, total=total)
