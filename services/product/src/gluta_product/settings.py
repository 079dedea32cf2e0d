"""Product service settings."""

from typing import ClassVar

from pydantic import Field

from gluta_kit.settings import ServiceSettings

MIB = 1024 * 1024


class ProductSettings(ServiceSettings):
    """Settings of the product service."""

    service_name: ClassVar[str] = "product"
    port: int = 8102
    # Where image files live: unset = `<data_dir>/images`; `file:///abs/path` = that folder.
    # `s3://bucket/prefix?endpoint=...` is reserved for the S3-compatible adapter (not built yet: see README).
    image_storage_url: str | None = None
    max_image_bytes: int = Field(default=10 * MIB, ge=1024, le=100 * MIB)
    max_image_pixels: int = Field(default=40_000_000, ge=10_000)
