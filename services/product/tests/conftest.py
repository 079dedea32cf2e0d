"""Fixtures of the product service's tests: the app on SQLite (and MariaDB/PostgreSQL when set), tokens, helpers."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from gluta_kit.models import OutboxMessage
from gluta_kit.testing import TestKeys, make_settings, running, server_url, temp_database
from gluta_product.app import create_app
from gluta_product.settings import ProductSettings

DIALECTS = ["sqlite", "mysql", "postgres"]
ADMIN_ID = 1


def png_bytes(colour: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (8, 8), fmt: str = "PNG") -> bytes:
    """Return a small real image."""
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


@asynccontextmanager
async def database_url(dialect: str) -> AsyncIterator[str | None]:
    """Yield a fresh database URL for a dialect (None = the service's own SQLite file); skip when unset."""
    if dialect == "sqlite":
        yield None
        return
    url = server_url(dialect)
    if not url:
        pytest.skip(f"GLUTA_TEST_{dialect.upper()}_URL is not set: no {dialect} server to test against")
    async with temp_database(url) as db_url:
        yield db_url


class Api:
    """A client of the running app with the calls tests repeat."""

    def __init__(self, client: httpx.AsyncClient, app: Any, keys: TestKeys) -> None:
        self.client = client
        self.app = app
        self.keys = keys
        self.service = app.state.service
        self.admin = keys.bearer(ADMIN_ID, "admin")

    def member(self, member_id: int) -> dict[str, str]:
        return self.keys.bearer(member_id, "member")

    async def create_type(self, name: str) -> int:
        response = await self.client.post("/types", json={"type": name}, headers=self.admin)
        assert response.status_code == 201, response.text
        return response.json()["productTypeId"]

    async def upload(self, data: bytes | None = None, filename: str = "a.png") -> int:
        response = await self.client.post("/images", files={"file": (filename, data or png_bytes())},
                                          headers=self.admin)
        assert response.status_code == 201, response.text
        return response.json()["imageId"]

    async def create_product(self, type_id: int, name: str = "울 니트 가디건", **fields: Any) -> dict[str, Any]:
        body = {"name": name, "description": fields.pop("description", ""), "content": fields.pop("content", ""),
                "productTypeId": type_id, "productStyles": fields.pop("styles", []),
                "unitPrice": fields.pop("price", 10_000), "quantity": fields.pop("quantity", 10),
                "imageIds": fields.pop("image_ids", [])}
        body.update(fields)
        response = await self.client.post("/products", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return response.json()

    async def outbox(self, topic: str) -> list[str]:
        async with self.service.db.read_sessions() as session:
            return list((await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == topic)
                                               .order_by(OutboxMessage.id))).all())


@asynccontextmanager
async def start_api(data_dir: Path, database: str | None = None, **overrides: Any) -> AsyncIterator[Api]:
    """Start the product app on a database and yield an Api around it."""
    if database:
        overrides["database_url"] = database
    settings = make_settings(ProductSettings, data_dir, **overrides)
    keys = TestKeys()
    app = create_app(settings)
    async with running(app, keys=keys) as client:
        yield Api(client, app, keys)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    """The app on its own SQLite database."""
    async with start_api(tmp_path) as started:
        yield started


@pytest.fixture
def png() -> Callable[..., bytes]:
    """Make small real images."""
    return png_bytes


@pytest.fixture(scope="session")
def start_app() -> Callable[..., Any]:
    """Return `start_api(data_dir, database_url, **settings)` for tests that start the app themselves."""
    return start_api


@pytest.fixture(scope="session")
def fresh_database() -> Callable[[str], Any]:
    """Return `database_url(dialect)`: a fresh database of that dialect (skips when its server is unset)."""
    return database_url
