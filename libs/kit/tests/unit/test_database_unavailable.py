"""A database that refuses connections (too many connections, server gone) gives 503 problem+json, never a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import create_async_engine

from gluta_kit.errors import database_unavailable, install_error_handlers
from gluta_kit.testing import free_port


def app_with(route: object) -> FastAPI:
    app = FastAPI()
    app.get("/thing")(route)
    install_error_handlers(app)
    return app


async def call(app: FastAPI) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.get("/thing")


async def test_a_refused_database_connection_is_a_503_problem() -> None:
    engine = create_async_engine(f"mysql+asyncmy://nobody@127.0.0.1:{free_port()}/none", pool_pre_ping=False)

    async def thing() -> dict[str, int]:
        async with engine.connect() as conn:  # nothing listens there: the server "refuses" the connection
            await conn.execute(text("SELECT 1"))
        return {"ok": 1}

    response = await call(app_with(thing))
    await engine.dispose()
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "SERVICE_UNAVAILABLE" and response.headers["retry-after"] == "1"


async def test_a_driver_error_while_the_pool_connects_is_a_503_too() -> None:
    async def creator() -> object:
        raise RuntimeError("Transport does not expose socket instance")  # asyncmy, when MariaDB hangs up at once

    engine = create_async_engine("mysql+asyncmy://x@127.0.0.1/none", async_creator=creator)

    async def thing() -> dict[str, int]:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return {"ok": 1}

    response = await call(app_with(thing))
    await engine.dispose()
    assert response.status_code == 503 and response.json()["code"] == "SERVICE_UNAVAILABLE"


async def test_any_other_failure_is_still_a_500() -> None:
    async def thing() -> dict[str, int]:
        raise RuntimeError("a bug")

    response = await call(app_with(thing))
    assert response.status_code == 500 and response.json()["code"] == "INTERNAL_ERROR"
    assert not database_unavailable(RuntimeError("a bug"))
    assert database_unavailable(OperationalError("SELECT 1", {}, Exception("(1040, 'Too many connections')")))


@pytest.fixture(autouse=True)
def _quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("CRITICAL")
