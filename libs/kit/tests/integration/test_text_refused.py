"""Text a database cannot store is the client's fault: PostgreSQL refuses a NUL character (SQLSTATE 22021)
and the kit answers 422 problem+json, not 500. SQLite and MariaDB store such text as it is."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from gluta_kit.db import Database
from gluta_kit.errors import install_error_handlers
from gluta_kit.testing import server_url


async def test_a_nul_character_postgresql_refuses_is_a_422_problem() -> None:
    url = server_url("postgres")
    if not url:
        pytest.skip("GLUTA_TEST_POSTGRES_URL is not set: no real PostgreSQL server")
    db = Database(url)
    app = FastAPI()

    @app.get("/things")
    async def things(name: str) -> dict[str, int]:
        async with db.read_sessions() as session:
            found = await session.scalar(text("SELECT count(*) FROM pg_class WHERE relname = :name"), {"name": name})
        return {"found": int(found or 0)}

    @app.get("/broken")
    async def broken() -> dict[str, int]:
        async with db.read_sessions() as session:
            await session.execute(text("SELECT 1 / 0"))  # another driver error: still the 500 it is
        return {}

    install_error_handlers(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            refused = await client.get("/things", params={"name": "a\x00b"})
            fine = await client.get("/things", params={"name": "pg_class"})
            other = await client.get("/broken")
    finally:
        await db.dispose()
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    assert body["code"] == "VALIDATION_ERROR" and "NUL" in body["errors"][0]["msg"]
    assert fine.status_code == 200 and fine.json() == {"found": 1}
    assert other.status_code == 500 and other.json()["code"] == "INTERNAL_ERROR"
