"""Fixtures of the product service's tests: the app on SQLite (and MariaDB/PostgreSQL when set), tokens, helpers."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from sqlalchemy import select

from gluta_kit.models import OutboxMessage
from gluta_kit.testing import TestKeys, free_port, make_settings, running, server_url, temp_database
from gluta_product.app import create_app
from gluta_product.settings import ProductSettings

DIALECTS = ["sqlite", "mysql", "postgres"]
ADMIN_ID = 1
STORAGES = ["local", "s3"]
S3_KEY_ID, S3_SECRET = "gluta-test-key", "gluta-test-secret"  # moto accepts any; passed as settings, as in production


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


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print the relevance set's figures (tests/integration/test_relevance.py) at the end of the run."""
    lines = getattr(terminalreporter.config, "gluta_relevance_lines", [])
    if lines:
        terminalreporter.section("product search relevance (issue 15)")
        for line in lines:
            terminalreporter.write_line(line)


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


class S3Server:
    """moto's standalone S3 server in its own process on a free 127.0.0.1 port (real HTTP, real S3 protocol)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("moto's S3 server exited at start (is the dev group installed?)")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto's S3 server did not start")

    def client(self) -> Any:
        """Return a boto3 client of the server: the tests look into the bucket with another client than the app's."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id=S3_KEY_ID, aws_secret_access_key=S3_SECRET)

    def stop(self) -> None:
        """Stop the server process this object started."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


class S3Bucket:
    """A fresh bucket of the test's own on the S3 server, with the settings that point the app at it."""

    def __init__(self, server: S3Server, prefix: str = "images") -> None:
        self.server = server
        self.name = f"gluta-{uuid.uuid4().hex[:16]}"
        self.prefix = prefix
        self.s3 = server.client()
        self.s3.create_bucket(Bucket=self.name)

    @property
    def url(self) -> str:
        return f"s3://{self.name}/{self.prefix}?endpoint={self.server.endpoint}&region=us-east-1"

    def settings(self) -> dict[str, Any]:
        return {"image_storage_url": self.url, "image_storage_access_key_id": S3_KEY_ID,
                "image_storage_secret_access_key": S3_SECRET}

    def keys(self) -> set[str]:
        """Return the storage keys in the bucket (relative to the prefix, like the local folder's paths)."""
        listed = self.s3.list_objects_v2(Bucket=self.name, Prefix=f"{self.prefix}/").get("Contents", [])
        return {item["Key"].removeprefix(f"{self.prefix}/") for item in listed}

    def get(self, key: str) -> bytes:
        return self.s3.get_object(Bucket=self.name, Key=f"{self.prefix}/{key}")["Body"].read()


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3-compatible server for the session (each test makes its own bucket)."""
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_bucket(s3_server: S3Server) -> S3Bucket:
    """A fresh bucket on the test S3 server."""
    return S3Bucket(s3_server)


@pytest.fixture
def own_s3_server() -> Iterator[S3Server]:
    """An S3 server of the test's own, which the test may stop (an outage); stopped at the end in any case."""
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def bucket_on() -> Callable[[S3Server], S3Bucket]:
    """Return `bucket_on(server)`: a fresh bucket on that server."""
    return S3Bucket


@pytest.fixture(params=STORAGES)
async def storage_api(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Api]:
    """The app on its own SQLite database, once with the local folder and once with an S3 bucket.

    `api.bucket` is the S3Bucket in the S3 run, None in the local one.
    """
    bucket = S3Bucket(request.getfixturevalue("s3_server")) if request.param == "s3" else None
    async with start_api(tmp_path, **(bucket.settings() if bucket else {})) as started:
        started.bucket = bucket  # type: ignore[attr-defined]
        yield started
