"""The product service: catalog, search, images, likes, inquiries, banners and stock."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import SecretStr

from gluta_kit.service import Service
from gluta_product.banner.router import router as banner_router
from gluta_product.catalog.router import router as catalog_router
from gluta_product.check.service import stock_figures
from gluta_product.events import register_handlers
from gluta_product.image.router import router as image_router
from gluta_product.image.storage import ImageStorage, storage_from_url
from gluta_product.inquiry.router import router as inquiry_router
from gluta_product.janitor.router import router as janitor_router
from gluta_product.like.router import router as like_router
from gluta_product.settings import ProductSettings
from gluta_product.synonym.router import router as synonym_router

MIGRATIONS = Path(__file__).parent / "migrations"
MULTIPART_OVERHEAD = 64 * 1024  # an upload's body is its file plus the multipart framing


def settings_json(settings: ProductSettings) -> bytes:
    """The settings as JSON with their secrets readable (for the demo process, on its stdin only)."""
    def plain(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return value.get_secret_value()
        return str(value)

    return json.dumps(settings.model_dump(), default=plain).encode()


async def _seed_demo_in_subprocess(settings: ProductSettings) -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "gluta_product.demo",
                                                   stdin=asyncio.subprocess.PIPE)
    await process.communicate(settings_json(settings))
    if process.returncode != 0:
        raise RuntimeError(f"demo data failed (exit {process.returncode})")


class ProductService(Service):
    """The kit's service, whose readiness also asks the image storage (when it can be asked: S3)."""

    def __init__(self, settings: ProductSettings, storage: ImageStorage, **kwargs: Any) -> None:
        super().__init__(settings, **kwargs)
        self.storage = storage

    async def readiness(self) -> dict[str, str]:
        """Check the database and broker, and that the image bucket answers."""
        checks = await super().readiness()
        check = getattr(self.storage, "check", None)
        if check is not None:
            try:
                await check()
                checks["imageStorage"] = "ok"
            except OSError as exc:
                checks["imageStorage"] = f"down: {exc}"[:200]
        return checks


def image_storage(settings: ProductSettings) -> ImageStorage:
    """The image storage the settings name (local folder or S3 bucket)."""
    secret = settings.image_storage_secret_access_key
    return storage_from_url(settings.image_storage_url, settings.data_dir,
                            access_key_id=settings.image_storage_access_key_id,
                            secret_access_key=secret.get_secret_value() if secret else None)


def create_app(settings: ProductSettings) -> FastAPI:
    """Build the product app."""
    storage = image_storage(settings)
    service = ProductService(settings, storage, migrations=MIGRATIONS)
    register_handlers(service)
    service.checks.append(lambda: stock_figures(service.db))  # type: ignore[arg-type]
    service.track_revocations()  # a logged-out or withdrawn member's token is refused here within seconds
    if settings.demo:
        async def demo() -> None:
            if settings.migrate_in_subprocess:  # like the migrations: Pillow & co. stay out of this process
                await _seed_demo_in_subprocess(settings)
                return
            from gluta_product.demo.service import seed_demo_data

            await seed_demo_data(service, storage)

        service.on_start.append(demo)
    app = service.create_app([catalog_router, image_router, like_router, inquiry_router, banner_router,
                              janitor_router, synonym_router], title="gluta product-service",
                             max_upload_bytes=settings.max_image_bytes + MULTIPART_OVERHEAD)
    app.state.storage = storage
    return app
