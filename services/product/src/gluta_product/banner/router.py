"""Banner routes: anyone lists, admins manage (multipart)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, Response, UploadFile

from gluta_kit.auth import AdminOnly
from gluta_product.banner import service as banners
from gluta_product.banner.schemas import BannerRead, clean_link
from gluta_product.deps import ServiceDep, StorageDep, limits_of, read_upload
from gluta_product.idempotency import run_once
from gluta_product.image.service import check_image
from gluta_product.schemas import IdempotencyKey, IdPath

router = APIRouter(tags=["banners"])

Position = Annotated[int, Form(ge=0, le=10_000)]


@router.get("/banners", response_model=list[BannerRead])
async def list_banners(service: ServiceDep) -> list[BannerRead]:
    """Return the live banners by position."""
    async with service.db.read_sessions() as session:
        return await banners.active_banners(session)


@router.post("/banners", status_code=201, response_model=BannerRead)
async def create_banner(request: Request, admin: AdminOnly, service: ServiceDep, storage: StorageDep,
                        file: Annotated[UploadFile, File()],
                        link_url: Annotated[str, Form(alias="linkUrl", max_length=600)],
                        position: Position, idempotency_key: IdempotencyKey = None) -> BannerRead:
    """Create a banner from an uploaded image, a link and a position."""
    link = clean_link(link_url)
    limits = limits_of(request)
    image = check_image(await read_upload(file, limits.max_bytes), limits)
    return await run_once(service.uow, scope="product.banner", caller=admin.subject_id, key=idempotency_key,
                          model=BannerRead,
                          action=lambda uow: banners.create_banner(uow, storage, image, link, position))


@router.put("/banners/{banner_id}", response_model=BannerRead)
async def update_banner(banner_id: IdPath, request: Request, admin: AdminOnly, service: ServiceDep,
                        storage: StorageDep, file: Annotated[UploadFile | None, File()] = None,
                        link_url: Annotated[str | None, Form(alias="linkUrl", max_length=600)] = None,
                        position: Annotated[int | None, Form(ge=0, le=10_000)] = None) -> BannerRead:
    """Change a banner; every field is optional."""
    link = clean_link(link_url) if link_url is not None else None
    image = None
    if file is not None and (file.filename or file.size):
        limits = limits_of(request)
        image = check_image(await read_upload(file, limits.max_bytes), limits)
    return await banners.update_banner(service.uow(), storage, banner_id, image=image, link_url=link,
                                       position=position)


@router.delete("/banners/{banner_id}", status_code=204)
async def delete_banner(banner_id: IdPath, admin: AdminOnly, service: ServiceDep) -> Response:
    """Soft-delete a banner."""
    await banners.delete_banner(service.uow(), banner_id)
    return Response(status_code=204)
