"""Inquiry routes."""

from __future__ import annotations

from fastapi import APIRouter, Response

from gluta_kit.auth import AdminOnly, CurrentMember, OptionalPrincipal
from gluta_product.catalog.router import viewer_of
from gluta_product.deps import ServiceDep
from gluta_product.idempotency import run_once
from gluta_product.inquiry import service as inquiries
from gluta_product.inquiry.schemas import AnswerWrite, InquiryRead, InquiryWrite
from gluta_product.schemas import IdempotencyKey, IdPath, Page, PageQuery, SizeQuery

router = APIRouter(tags=["inquiries"])


@router.get("/products/{product_id}/inquiries", response_model=Page[InquiryRead])
async def product_inquiries(product_id: IdPath, service: ServiceDep, principal: OptionalPrincipal,
                            page: PageQuery = 1, size: SizeQuery = 20) -> Page[InquiryRead]:
    """Return a product's inquiries, newest first; `mine` marks the caller's own."""
    async with service.db.read_sessions() as session:
        return await inquiries.list_for_product(session, product_id, viewer_of(principal), page, size)


@router.post("/products/{product_id}/inquiries", status_code=201, response_model=InquiryRead)
async def ask(product_id: IdPath, body: InquiryWrite, member: CurrentMember, service: ServiceDep,
              idempotency_key: IdempotencyKey = None) -> InquiryRead:
    """Ask a question about a product."""
    return await run_once(service.uow, scope="product.inquiry", caller=member.member_id, key=idempotency_key,
                          model=InquiryRead,
                          action=lambda uow: inquiries.ask(uow, member.member_id, product_id, body.content))


@router.delete("/inquiries/{inquiry_id}", status_code=204)
async def withdraw(inquiry_id: IdPath, member: CurrentMember, service: ServiceDep) -> Response:
    """Delete one's own inquiry."""
    await inquiries.withdraw(service.uow(), member.member_id, inquiry_id)
    return Response(status_code=204)


@router.get("/admin/inquiries", response_model=Page[InquiryRead])
async def admin_inquiries(admin: AdminOnly, service: ServiceDep, answered: bool | None = None,
                          page: PageQuery = 1, size: SizeQuery = 20) -> Page[InquiryRead]:
    """Return inquiries for admins; `answered=false` lists the ones waiting for an answer."""
    async with service.db.read_sessions() as session:
        return await inquiries.list_for_admin(session, answered, page, size)


@router.put("/inquiries/{inquiry_id}/answer", response_model=InquiryRead)
async def answer(inquiry_id: IdPath, body: AnswerWrite, admin: AdminOnly, service: ServiceDep) -> InquiryRead:
    """Create or edit the answer of an inquiry."""
    return await inquiries.answer(service.uow(), inquiry_id, body.content)


@router.delete("/inquiries/{inquiry_id}/answer", status_code=204)
async def delete_answer(inquiry_id: IdPath, admin: AdminOnly, service: ServiceDep) -> Response:
    """Remove the answer of an inquiry."""
    await inquiries.delete_answer(service.uow(), inquiry_id)
    return Response(status_code=204)
