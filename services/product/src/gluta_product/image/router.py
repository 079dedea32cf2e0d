"""Image routes: admins upload, anyone downloads (with ETag and long caching)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from gluta_kit.auth import AdminOnly
from gluta_product.deps import ServiceDep, StorageDep, limits_of, read_upload
from gluta_product.idempotency import run_once
from gluta_product.image.exceptions import ImageNotFound, ImageStorageUnavailable
from gluta_product.image.schemas import ImageRead
from gluta_product.image.service import find_live_image, upload_image
from gluta_product.schemas import IdempotencyKey, IdPath

router = APIRouter(tags=["images"])

CACHE_CONTROL = "public, max-age=31536000, immutable"


@router.post("/images", status_code=201, response_model=ImageRead)
async def post_image(request: Request, admin: AdminOnly, service: ServiceDep, storage: StorageDep,
                     file: Annotated[UploadFile, File()], idempotency_key: IdempotencyKey = None) -> ImageRead:
    """Upload an image (JPEG, PNG, WebP or GIF, checked by content)."""
    limits = limits_of(request)
    data = await read_upload(file, limits.max_bytes)
    return await run_once(service.uow, scope="product.image", caller=admin.subject_id, key=idempotency_key,
                          model=ImageRead, action=lambda uow: upload_image(uow, storage, data, limits))


IMAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The image's bytes, with its own content type",
          "content": {media: {"schema": {"type": "string", "format": "binary"}}
                      for media in ("image/jpeg", "image/png", "image/webp", "image/gif")}},
    304: {"description": "The caller's copy (If-None-Match) is current"},
}


@router.get("/images/{image_id}", response_class=Response, responses=IMAGE_RESPONSES)
async def get_image(image_id: IdPath, request: Request, service: ServiceDep, storage: StorageDep) -> Response:
    """Serve an image's bytes; 304 when the caller's copy is current."""
    async with service.db.read_sessions() as session:
        image = await find_live_image(session, image_id)
    if image is None:
        raise ImageNotFound()
    etag = f'"{image.sha256}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL, "X-Content-Type-Options": "nosniff"}
    if_none_match = request.headers.get("if-none-match", "")
    if etag in {tag.strip() for tag in if_none_match.split(",")} or if_none_match.strip() == "*":
        return Response(status_code=304, headers=headers)
    try:
        data = await storage.read(image.storage_key)
    except OSError as exc:
        raise ImageStorageUnavailable("the image could not be read, try again later") from exc
    if data is None:
        raise ImageNotFound("the image file is missing")
    return Response(content=data, media_type=image.content_type, headers=headers)
