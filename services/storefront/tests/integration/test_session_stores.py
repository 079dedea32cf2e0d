"""Sessions in the storefront's own database on every dialect, and in Redis (when their servers are given)."""

import asyncio
import uuid

import pytest

from gluta_kit.testing import make_settings, running, server_url, temp_database
from gluta_kit.web import RedisSessionStore
from gluta_storefront.app import create_app
from gluta_storefront.settings import StorefrontSettings


async def _login_survives_restart(settings: StorefrontSettings) -> None:
    async with running(create_app(settings)) as client:
        page = await client.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        response = await client.post("/login", data={"loginId": "alice", "password": "secret123", "csrf_token": token})
        assert response.status_code == 303
        cookies = dict(client.cookies)
    async with running(create_app(settings)) as client:  # a new process: the session is in the store
        client.cookies.update(cookies)
        assert (await client.get("/mypage")).status_code == 200


@pytest.mark.connected
@pytest.mark.parametrize("kind", ["mysql", "postgres"])
async def test_sessions_in_a_server_database(kind: str, tmp_path, gateway_url: str) -> None:
    url = server_url(kind)
    if not url:
        pytest.skip(f"GLUTA_TEST_{kind.upper()}_URL is not set")
    async with temp_database(url) as database_url:
        settings = make_settings(StorefrontSettings, tmp_path, gateway_url=gateway_url, database_url=database_url)
        await _login_survives_restart(settings)


async def test_sessions_survive_a_restart_on_sqlite(tmp_path, gateway_url: str) -> None:
    await _login_survives_restart(make_settings(StorefrontSettings, tmp_path, gateway_url=gateway_url))


@pytest.mark.connected
async def test_sessions_in_redis_survive_a_restart(tmp_path, gateway_url: str) -> None:
    url = server_url("redis")
    if not url:
        pytest.skip("GLUTA_TEST_REDIS_URL is not set")
    await _login_survives_restart(make_settings(StorefrontSettings, tmp_path, gateway_url=gateway_url, redis_url=url))


@pytest.mark.connected
async def test_redis_session_store_saves_expires_and_deletes() -> None:
    url = server_url("redis")
    if not url:
        pytest.skip("GLUTA_TEST_REDIS_URL is not set")
    store = RedisSessionStore(url, prefix=f"gluta:test:{uuid.uuid4().hex}:")
    try:
        await store.save("s1", {"csrf": "t", "auth": {"access": "a"}}, 60)
        assert await store.load("s1") == {"csrf": "t", "auth": {"access": "a"}}
        await store.save("s2", {"n": 1}, 1)
        await asyncio.sleep(1.3)
        assert await store.load("s2") is None
        await store.delete("s1")
        assert await store.load("s1") is None
    finally:
        await store.aclose()
