"""The product service: catalog, search, images, likes, inquiries, banners and stock."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from gluta_kit.errors import problem
from gluta_kit.service import Service
from gluta_product.banner.router import router as banner_router
from gluta_product.catalog.router import router as catalog_router
from gluta_product.events import register_handlers
from gluta_product.image.router import router as image_router
from gluta_product.image.storage import storage_from_url
from gluta_product.inquiry.router import router as inquiry_router
from gluta_product.janitor.router import router as janitor_router
from gluta_product.like.router import router as like_router
from gluta_product.settings import ProductSettings

MIGRATIONS = Path(__file__).parent / "migrations"
MULTIPART_OVERHEAD = 64 * 1024
JSON_LIMIT = 1024 * 1024


class BodyLimit:
    """Refuse a request whose declared body is larger than an upload may be, before reading it."""

    def __init__(self, app: ASGIApp, max_bytes: int, json_bytes: int = JSON_LIMIT) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.json_bytes = json_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = dict(scope.get("headers", []))
            limit = self.json_bytes if b"json" in headers.get(b"content-type", b"") else self.max_bytes
            try:
                too_big = int(headers.get(b"content-length", b"0")) > limit
            except ValueError:
                too_big = False
            if too_big:
                response = problem(413, "PAYLOAD_TOO_LARGE", "Payload too large",
                                   f"this request body is limited to {limit} bytes")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _seed_demo_in_subprocess(settings: ProductSettings) -> None:
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "gluta_product.demo",
                                                   stdin=asyncio.subprocess.PIPE)
    await process.communicate(settings.model_dump_json().encode())
    if process.returncode != 0:
        raise RuntimeError(f"demo data failed (exit {process.returncode})")


def create_app(settings: ProductSettings) -> FastAPI:
    """Build the product app."""
    service = Service(settings, migrations=MIGRATIONS)
    register_handlers(service)
    storage = storage_from_url(settings.image_storage_url, settings.data_dir)
    if settings.demo:
        async def demo() -> None:
            if settings.migrate_in_subprocess:  # like the migrations: Pillow & co. stay out of this process
                await _seed_demo_in_subprocess(settings)
                return
            from gluta_product.demo.service import seed_demo_data

            await seed_demo_data(service, storage)

        service.on_start.append(demo)
    app = service.create_app([catalog_router, image_router, like_router, inquiry_router, banner_router,
                              janitor_router], title="gluta product-service")
    app.state.storage = storage
    app.add_middleware(BodyLimit, max_bytes=settings.max_image_bytes + MULTIPART_OVERHEAD)
    return app
