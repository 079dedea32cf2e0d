"""Rate limits shared by two gateway instances through a real Redis: a client spreading its requests over
both gets the budget once, not twice; a reload reaches both; with Redis down, each instance falls back to
its own buckets (limits still apply, nothing fails)."""

from __future__ import annotations

import uuid

import pytest

from gluta_kit.testing import free_port, server_url

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.connected]

PRODUCT = "/api/product-service"
ORDER = "/api/order-service"


@pytest.fixture
def redis_url() -> str:
    url = server_url("redis")
    if not url:
        pytest.skip("GLUTA_TEST_REDIS_URL is not set: no real Redis server")
    return url


async def two_gateways(gateway, redis_url: str, **limits):  # type: ignore[no-untyped-def]
    prefix = f"gluta-test:{uuid.uuid4().hex[:10]}:"  # this test's own keys
    return [await gateway(redis_url=redis_url, redis_key_prefix=prefix, **limits) for _ in range(2)]


async def test_a_guest_gets_one_budget_across_two_gateways(shared, gateway, redis_url: str) -> None:
    first, second = await two_gateways(gateway, redis_url, rate_limit_guest_per_second=0.2,
                                       rate_limit_guest_burst=4)
    async with first.client() as a, second.client() as b:
        answers = [await (a if n % 2 == 0 else b).get(f"{PRODUCT}/types") for n in range(6)]
    assert [r.status_code for r in answers] == [200, 200, 200, 200, 429, 429]
    assert answers[-1].json()["code"] == "TOO_MANY_REQUESTS"
    assert answers[-1].headers["retry-after"] == "5"  # one request every five seconds, from Redis' clock


async def test_a_member_gets_one_budget_across_two_gateways(shared, gateway, redis_url: str) -> None:
    first, second = await two_gateways(gateway, redis_url, rate_limit_member_per_second=0.1,
                                       rate_limit_member_burst=3)
    keys = shared.keys
    async with first.client() as a, second.client() as b:
        one = [await (a if n % 2 == 0 else b).get(f"{ORDER}/cart", headers=keys.bearer(1)) for n in range(4)]
        other = [await b.get(f"{ORDER}/cart", headers=keys.bearer(2)) for _ in range(3)]
    assert [r.status_code for r in one] == [200, 200, 200, 429]
    assert [r.status_code for r in other] == [200, 200, 200]  # each member has a budget of its own


async def test_a_reload_changes_the_shared_limit_on_every_instance(shared, gateway, redis_url: str) -> None:
    first, second = await two_gateways(gateway, redis_url, rate_limit_guest_per_second=0.1,
                                       rate_limit_guest_burst=1)
    for gw in (first, second):  # what a configuration refresh applies on each instance
        object.__setattr__(gw.settings, "rate_limit_guest_burst", 3)
        await gw.app.state.gateway.reload({"rate_limit_guest_burst": 3})
    async with first.client() as a, second.client() as b:
        answers = [await (a if n % 2 == 0 else b).get(f"{PRODUCT}/types") for n in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]


async def test_with_redis_down_each_gateway_limits_on_its_own(shared, gateway) -> None:
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    gw = await gateway(redis_url=down, rate_limit_guest_per_second=0.1, rate_limit_guest_burst=2)
    async with gw.client() as client:
        answers = [await client.get(f"{PRODUCT}/types") for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 429]  # never a 500, never unlimited
