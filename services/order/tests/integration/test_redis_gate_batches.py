"""The Redis gate decides the claims that arrive together in one script call, each as if alone."""

import asyncio

import pytest

from gluta_order.coupon.gate import MAX_BATCH, RedisGate

pytestmark = pytest.mark.connected


async def test_claims_of_one_batch_are_decided_in_arrival_order(redis_prefix) -> None:
    url, prefix = redis_prefix
    gate = RedisGate(url, prefix, db=None, bus=None)  # type: ignore[arg-type]
    try:
        members, count = gate.keys(1)
        await gate.redis.set(count, 0)
        results = await asyncio.gather(*[gate._take(1, 2, m) for m in (5, 5, 6, 7, 5)])
        assert results == [1, -1, 2, -2, -1]  # the second 5 holds it already; 7 finds it sold out
        assert sorted(int(m) for m in await gate.redis.smembers(members)) == [5, 6]
        assert int(await gate.redis.get(count)) == 2
        # a storm larger than one batch: every member once, exactly `quantity` places
        many = await asyncio.gather(*[gate._take(2, 300, m) for m in range(MAX_BATCH * 3)])
        assert many == [-3] * (MAX_BATCH * 3)  # no counter yet: every claim is told to initialise it
        await gate.redis.set(gate.keys(2)[1], 0)
        many = await asyncio.gather(*[gate._take(2, 300, m) for m in range(MAX_BATCH * 3)])
        assert sorted(r for r in many if r > 0) == list(range(1, 301)) and many.count(-2) == MAX_BATCH * 3 - 300
    finally:
        await gate.stop()


async def test_an_abandoned_claim_gives_its_place_back(redis_prefix) -> None:
    url, prefix = redis_prefix
    gate = RedisGate(url, prefix, db=None, bus=None)  # type: ignore[arg-type]
    try:
        members, count = gate.keys(3)
        await gate.redis.set(count, 0)
        kept, dropped = gate._take(3, 10, 1), gate._take(3, 10, 2)
        dropped.cancel()  # the client went away while its claim waited for Redis
        assert await kept == 1
        for _ in range(100):
            if int(await gate.redis.get(count)) == 1:
                break
            await asyncio.sleep(0.01)
        assert [int(m) for m in await gate.redis.smembers(members)] == [1]
        assert int(await gate.redis.get(count)) == 1
    finally:
        await gate.stop()
