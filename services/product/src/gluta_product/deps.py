"""Route dependencies as names: the service, the image storage, the clock, upload reading."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Request, UploadFile

from gluta_kit.models import utcnow
from gluta_kit.service import Service
from gluta_product.image.exceptions import ImageTooLarge
from gluta_product.image.service import ImageLimits
from gluta_product.image.storage import ImageStorage


def get_service(request: Request) -> Service:
    """Return the running service."""
    return request.app.state.service


def get_storage(request: Request) -> ImageStorage:
    """Return the image storage adapter."""
    return request.app.state.storage


def get_clock(request: Request) -> Callable[[], datetime]:
    """Return the clock (tests replace `app.state.clock`)."""
    return getattr(request.app.state, "clock", utcnow)


def limits_of(request: Request) -> ImageLimits:
    """Return the upload limits from the settings."""
    settings = request.app.state.service.settings
    return ImageLimits(max_bytes=settings.max_image_bytes, max_pixels=settings.max_image_pixels)


async def read_upload(file: UploadFile, max_bytes: int) -> bytes:
    """Read an uploaded file, refusing it with 413 as soon as it passes `max_bytes`."""
    chunks: list[bytes] = []
    total = 0
    while chunk := await file.read(1024 * 1024):
        total += len(chunk)
        if total > max_bytes:
            raise ImageTooLarge(f"images are limited to {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


ServiceDep = Annotated[Service, Depends(get_service)]
StorageDep = Annotated[ImageStorage, Depends(get_storage)]
ClockDep = Annotated[Callable[[], datetime], Depends(get_clock)]
