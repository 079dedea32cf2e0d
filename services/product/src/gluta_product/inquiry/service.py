"""Inquiries: members ask, admins answer; member names come from a local snapshot."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.models import utcnow
from gluta_kit.uow import UnitOfWork
from gluta_product.catalog.exceptions import ProductNotFound
from gluta_product.catalog.models import Product
from gluta_product.inquiry.exceptions import AnswerNotFound, InquiryNotFound
from gluta_product.inquiry.models import Inquiry
from gluta_product.inquiry.schemas import AnswerRead, InquiryRead
from gluta_product.member.service import names_of
from gluta_product.schemas import Page


async def _reads(session: AsyncSession, rows: Sequence[Inquiry], viewer_id: int | None,
                 with_product_name: bool = False) -> list[InquiryRead]:
    names = await names_of(session, {row.member_id for row in rows})
    products: dict[int, str] = {}
    if with_product_name and rows:
        products = dict((await session.execute(select(Product.id, Product.name).where(
            Product.id.in_({row.product_id for row in rows})))).all())
    return [
        InquiryRead(
            inquiry_id=row.id, product_id=row.product_id, product_name=products.get(row.product_id),
            content=row.content, member_name=names[row.member_id], mine=viewer_id == row.member_id,
            created_at=row.created_at,
            answer=(AnswerRead(content=row.answer_content, created_at=row.answered_at)
                    if row.answer_content is not None and row.answered_at is not None else None),
        )
        for row in rows
    ]


async def _require_product(session: AsyncSession, product_id: int) -> None:
    if await session.scalar(select(Product.id).where(Product.id == product_id,
                                                     Product.deleted_at.is_(None))) is None:
        raise ProductNotFound()


async def list_for_product(session: AsyncSession, product_id: int, viewer_id: int | None, page: int,
                           size: int) -> Page[InquiryRead]:
    """Return a live product's inquiries, newest first."""
    await _require_product(session, product_id)
    total = int(await session.scalar(select(func.count()).select_from(Inquiry)
                                     .where(Inquiry.product_id == product_id)) or 0)
    rows = (await session.scalars(select(Inquiry).where(Inquiry.product_id == product_id)
                                  .order_by(Inquiry.created_at.desc(), Inquiry.id.desc())
                                  .limit(size).offset((page - 1) * size))).all()
    return Page(items=await _reads(session, rows, viewer_id), page=page, size=size, total=total)


async def list_for_admin(session: AsyncSession, answered: bool | None, page: int, size: int) -> Page[InquiryRead]:
    """Return inquiries on live products (only unanswered ones with `answered=False`), oldest waiting first."""
    conditions = [Product.deleted_at.is_(None)]
    if answered is True:
        conditions.append(Inquiry.answered_at.is_not(None))
    elif answered is False:
        conditions.append(Inquiry.answered_at.is_(None))
    base = select(Inquiry).join(Product, Product.id == Inquiry.product_id).where(*conditions)
    total = int(await session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    order = (Inquiry.created_at.asc(), Inquiry.id.asc()) if answered is False else (
        Inquiry.created_at.desc(), Inquiry.id.desc())
    rows = (await session.scalars(base.order_by(*order).limit(size).offset((page - 1) * size))).all()
    return Page(items=await _reads(session, rows, None, with_product_name=True), page=page, size=size, total=total)


async def ask(uow: UnitOfWork, member_id: int, product_id: int, content: str) -> InquiryRead:
    """Record a member's inquiry on a live product (the caller's uow commits)."""
    await _require_product(uow.session, product_id)
    row = Inquiry(product_id=product_id, member_id=member_id, content=content, created_at=utcnow())
    uow.session.add(row)
    await uow.session.flush()
    return (await _reads(uow.session, [row], member_id))[0]


async def withdraw(uow: UnitOfWork, member_id: int, inquiry_id: int) -> None:
    """Delete the member's own inquiry; someone else's is 'not found'."""
    async with uow:
        result = await uow.session.execute(delete(Inquiry).where(Inquiry.id == inquiry_id,
                                                                 Inquiry.member_id == member_id))
        if not result.rowcount:
            raise InquiryNotFound()
        await uow.commit()


async def answer(uow: UnitOfWork, inquiry_id: int, content: str) -> InquiryRead:
    """Create or edit the one answer of an inquiry."""
    async with uow:
        row = await uow.session.scalar(select(Inquiry).where(Inquiry.id == inquiry_id).with_for_update())
        if row is None:
            raise InquiryNotFound()
        row.answer_content = content
        row.answered_at = utcnow()
        await uow.session.flush()
        read = (await _reads(uow.session, [row], None, with_product_name=True))[0]
        await uow.commit()
    return read


async def delete_answer(uow: UnitOfWork, inquiry_id: int) -> None:
    """Remove the answer of an inquiry."""
    async with uow:
        row = await uow.session.scalar(select(Inquiry).where(Inquiry.id == inquiry_id).with_for_update())
        if row is None:
            raise InquiryNotFound()
        if row.answer_content is None:
            raise AnswerNotFound()
        row.answer_content = None
        row.answered_at = None
        await uow.commit()
