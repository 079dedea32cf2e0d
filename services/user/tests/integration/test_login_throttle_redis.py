"""Login throttling counted in a real Redis (`redis_url` set): the same rules as in the database, shared by
instances that share nothing else — here two instances with a database each — and the database taking over
while Redis is down."""

import asyncio
import uuid

import pytest

from gluta_kit.testing import free_port, server_url

pytestmark = [pytest.mark.dialects("sqlite"), pytest.mark.connected]


@pytest.fixture
def redis(tmp_path) -> dict[str, str]:  # type: ignore[no-untyped-def]
    url = server_url("redis")
    if not url:
        pytest.skip("GLUTA_TEST_REDIS_URL is not set: no real Redis server")
    return {"redis_url": url, "redis_key_prefix": f"gluta-test:{uuid.uuid4().hex[:10]}:"}


async def _fail(client, login_id: str, headers: dict | None = None) -> int:  # type: ignore[no-untyped-def]
    response = await client.post("/login", json={"loginId": login_id, "password": "wrong1234"}, headers=headers or {})
    return response.status_code


async def _login(client, login_id: str, headers: dict | None = None):  # type: ignore[no-untyped-def]
    return await client.post("/login", json={"loginId": login_id, "password": "secret123"}, headers=headers or {})


async def test_two_instances_count_one_accounts_attempts_together(start, signup, redis, tmp_path, clock) -> None:
    # a database each: whatever they share, they share through Redis
    async with start(**redis) as (_, first), \
            start(**redis, database_url=f"sqlite:///{tmp_path / 'other.db'}") as (_, second):
        await signup(first, "alice")
        await signup(second, "alice")
        codes = [await _fail(first if n % 2 == 0 else second, "alice") for n in range(5)]
        assert codes == [401] * 5
        for client in (first, second):
            locked = await _login(client, "alice")
            assert locked.status_code == 429, "the right password must not get through a lock, on any instance"
            assert 1 <= int(locked.headers["Retry-After"]) <= 300
        clock.advance(301)
        assert (await _login(second, "alice")).status_code == 200


async def test_an_addresses_failures_are_counted_across_instances(start, signup, redis, tmp_path) -> None:
    attacker = {"X-Forwarded-For": "203.0.113.7"}
    async with start(**redis, login_max_failures_per_address=4) as (_, first), \
            start(**redis, login_max_failures_per_address=4,
                  database_url=f"sqlite:///{tmp_path / 'other.db'}") as (_, second):
        codes = [await _fail(first if n % 2 == 0 else second, f"user{n:02d}", attacker) for n in range(5)]
        assert codes == [401, 401, 401, 401, 429]
        await signup(second, "alice")
        assert (await _login(second, "alice", {"X-Forwarded-For": "198.51.100.1"})).status_code == 200


async def test_a_successful_login_resets_the_count(start, signup, redis) -> None:
    async with start(**redis) as (_, client):
        await signup(client, "alice")
        assert [await _fail(client, "alice") for _ in range(4)] == [401] * 4
        assert (await _login(client, "alice")).status_code == 200
        assert [await _fail(client, "alice") for _ in range(5)] == [401] * 5
        assert await _fail(client, "alice") == 429


async def test_concurrent_guesses_on_two_instances_cannot_exceed_the_limit(start, signup, redis, tmp_path) -> None:
    async with start(**redis) as (_, first), \
            start(**redis, database_url=f"sqlite:///{tmp_path / 'other.db'}") as (_, second):
        codes = await asyncio.gather(*(_fail(first if n % 2 == 0 else second, "alice") for n in range(16)))
        assert sorted(codes) == [401] * 5 + [429] * 11


async def test_with_redis_down_the_database_counts(start, signup) -> None:
    down = {"redis_url": f"redis://127.0.0.1:{free_port()}/0"}  # nothing listens there
    async with start(**down) as (_, client):
        await signup(client, "alice")
        assert [await _fail(client, "alice") for _ in range(5)] == [401] * 5  # never a 500
        assert (await _login(client, "alice")).status_code == 429  # still throttled
