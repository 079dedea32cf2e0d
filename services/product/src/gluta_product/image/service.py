"""Check uploads by their content, store them through the storage port, find them again."""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.models import utcnow
from gluta_kit.uow import UnitOfWork
from gluta_product.image.exceptions import ImageStorageUnavailable, ImageTooLarge, UnsupportedMedia
from gluta_product.image.models import Image
from gluta_product.image.schemas import ImageRead
from gluta_product.image.storage import ImageStorage
from gluta_product.schemas import image_url

FORMATS = {"JPEG": ("image/jpeg", "jpg"), "PNG": ("image/png", "png"), "WEBP": ("image/webp", "webp"),
           "GIF": ("image/gif", "gif")}


@dataclass(frozen=True)
class ImageLimits:
    """How big an upload may be, in bytes and in pixels."""

    max_bytes: int = 10 * 1024 * 1024
    max_pixels: int = 40_000_000


@dataclass(frozen=True)
class CheckedImage:
    """An upload whose content is a supported image."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    sha256: str


def check_image(data: bytes, limits: ImageLimits) -> CheckedImage:
    """Identify the image by its bytes (never its name); refuse anything but JPEG, PNG, WebP and GIF."""
    if len(data) > limits.max_bytes:
        raise ImageTooLarge(f"images are limited to {limits.max_bytes} bytes")
    if not data:
        raise UnsupportedMedia("the file is empty")
    from PIL import Image as PILImage  # Pillow only once an image is uploaded (idle memory)
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data), formats=list(FORMATS)) as probe:
                fmt = probe.format
                width, height = probe.size
                if width * height > limits.max_pixels:
                    raise ImageTooLarge(f"images are limited to {limits.max_pixels} pixels")
                probe.verify()
    except ImageTooLarge:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning) as exc:
        raise ImageTooLarge("the image has too many pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise UnsupportedMedia("the file is not a JPEG, PNG, WebP or GIF image") from exc
    if fmt not in FORMATS:
        raise UnsupportedMedia("the file is not a JPEG, PNG, WebP or GIF image")
    content_type, extension = FORMATS[fmt]
    return CheckedImage(data, content_type, extension, width, height, hashlib.sha256(data).hexdigest())


async def store_image(session: AsyncSession, storage: ImageStorage, checked: CheckedImage) -> Image:
    """Write the file, then add its row to the session (the caller commits)."""
    name = uuid.uuid4().hex  # one file per upload: a file is never shared, so removing it is always safe
    key = f"{name[:2]}/{name}.{checked.extension}"
    try:
        await storage.put(key, checked.data)
    except OSError as exc:  # unreachable bucket, full disk...: the caller may retry later
        raise ImageStorageUnavailable("the image could not be stored, try again later") from exc
    image = Image(storage_key=key, content_type=checked.content_type, byte_size=len(checked.data),
                  sha256=checked.sha256, width=checked.width, height=checked.height, created_at=utcnow())
    session.add(image)
    await session.flush()
    return image


async def upload_image(uow: UnitOfWork, storage: ImageStorage, data: bytes, limits: ImageLimits) -> ImageRead:
    """Check and store one uploaded image; return its id and public URL (the caller's uow commits)."""
    checked = check_image(data, limits)
    image = await store_image(uow.session, storage, checked)
    return ImageRead(image_id=image.id, url=image_url(image.id) or "")


async def find_live_image(session: AsyncSession, image_id: int) -> Image | None:
    """Return an image that is not deleted."""
    return await session.scalar(select(Image).where(Image.id == image_id, Image.deleted_at.is_(None)))
