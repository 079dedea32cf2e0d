"""First-come coupons: whatever the gate (Redis, SQL, lock) and database, N copies go to N members, each once."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from gluta_kit.testing import running, server_url, temp_database
from gluta_order.coupon.models import Coupon, MemberCoupon

GATES = [
    pytest.param(("sql", "sqlite"), id="sql-sqlite"),
    pytest.param(("sql", "mysql"), id="sql-mariadb", marks=pytest.mark.connected),
    pytest.param(("sql", "postgres"), id="sql-postgresql", marks=pytest.mark.connected),
    pytest.param(("lock", "sqlite"), id="lock-sqlite"),
    pytest.param(("lock", "mysql"), id="lock-mariadb", marks=pytest.mark.connected),
    pytest.param(("lock", "postgres"), id="lock-postgresql", marks=pytest.mark.connected),
    pytest.param(("redis", "sqlite"), id="redis-sqlite", marks=pytest.mark.connected),
    pytest.param(("redis", "postgres"), id="redis-postgresql", marks=pytest.mark.connected),
]


@pytest.fixture(params=GATES)
async def gate_settings(request: pytest.FixtureRequest) -> AsyncIterator[dict[str, Any]]:
    """Settings for one gate on one database (fresh database, own Redis key prefix)."""
    gate, database = request.param
    async with AsyncExitStack() as stack:
        overrides: dict[str, Any] = {"coupon_gate": gate}
        if database != "sqlite":
            url = server_url(database)
            if not url:
                pytest.skip(f"GLUTA_TEST_{database.upper()}_URL is not set: no real {database} server")
            overrides["database_url"] = await stack.enter_async_context(temp_database(url))
        if gate == "redis":
            redis_url = server_url("redis")
            if not redis_url:
                pytest.skip("GLUTA_TEST_REDIS_URL is not set: no real Redis server")
            prefix = f"gluta-test:{uuid.uuid4().hex[:10]}:"
            overrides.update(redis_url=redis_url, redis_key_prefix=prefix)
            stack.push_async_callback(_drop_keys, redis_url, prefix)
        yield overrides


async def _drop_keys(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def persisted(env, coupon_id: int) -> tuple[int, int, int]:
    """Return (rows, distinct members, the coupon's issued counter) in the database."""
    async with env.db.read_sessions() as session:
        rows, members = (await session.execute(
            select(func.count(), func.count(func.distinct(MemberCoupon.member_id)))
            .where(MemberCoupon.coupon_id == coupon_id))).one()
        issued = await session.scalar(select(Coupon.issued).where(Coupon.id == coupon_id))
    return int(rows), int(members), int(issued)


@pytest.mark.timeout(180)
async def test_300_concurrent_claims_of_50_copies_issue_exactly_50(order_app, gate_settings) -> None:
    async with order_app(**gate_settings) as env:
        coupon_id = await env.create_coupon(name="first 50", quantity=50)
        members = list(range(1, 151)) * 2  # 150 members, each asking twice, all at once
        responses = await asyncio.gather(*[env.claim(coupon_id, m) for m in members])
        codes = Counter(r.status_code for r in responses)
        winners = [m for m, r in zip(members, responses, strict=True) if r.status_code == 201]
        assert codes[201] == 50, codes
        assert len(set(winners)) == 50  # nobody twice
        assert set(codes) <= {201, 409, 410}, codes
        assert all(r.json()["code"] in {"ALREADY_ISSUED", "SOLD_OUT"} for r in responses if r.status_code != 201)
        assert await persisted(env, coupon_id) == (50, 50, 50)
        listed = {c["couponId"]: c for c in (await env.client.get("/coupons")).json()}
        assert listed[coupon_id]["remaining"] == 0
        admin = {c["couponId"]: c for c in (await env.client.get("/admin/coupons", headers=env.admin())).json()}
        assert admin[coupon_id]["issuedCount"] == 50 and admin[coupon_id]["usedCount"] == 0


async def test_claim_answers(order_app, gate_settings) -> None:
    async with order_app(**gate_settings) as env:
        now = datetime.now(UTC)
        coupon_id = await env.create_coupon(name="two only", quantity=2, discountType="PERCENT", discountValue=10,
                                            maxDiscount=5_000)
        first = await env.claim(coupon_id, 1)
        assert first.status_code == 201 and first.json() == {"couponId": coupon_id, "status": "ISSUED"}
        twice = await env.claim(coupon_id, 1)
        assert twice.status_code == 409 and twice.json()["code"] == "ALREADY_ISSUED"
        assert (await env.claim(coupon_id, 2)).status_code == 201
        sold_out = await env.claim(coupon_id, 3)
        assert sold_out.status_code == 410 and sold_out.json()["code"] == "SOLD_OUT"
        assert (await env.claim(coupon_id, 1)).json()["code"] == "ALREADY_ISSUED"  # holding beats sold out

        held = (await env.client.get("/members/me/coupons", headers=env.member(1))).json()
        assert [(c["couponId"], c["discountType"], c["discountValue"], c["maxDiscount"], c["used"]) for c in held] \
            == [(coupon_id, "PERCENT", 10, 5_000, False)]
        assert (await env.client.get("/members/me/coupons", headers=env.member(3))).json() == []

        unknown = await env.claim(987_654, 1)
        assert unknown.status_code == 404
        later = await env.create_coupon(startsAt=(now + timedelta(hours=1)).isoformat())
        over = await env.create_coupon(startsAt=(now - timedelta(hours=2)).isoformat(),
                                       endsAt=(now - timedelta(hours=1)).isoformat())
        for coupon in (later, over):
            refused = await env.claim(coupon, 1)
            assert refused.status_code == 409 and refused.json()["code"] == "COUPON_NOT_ACTIVE"
        unlimited = await env.create_coupon(name="for all")
        assert (await env.client.delete(f"/coupons/{unlimited}", headers=env.admin())).status_code == 204
        disabled = await env.claim(unlimited, 1)
        assert disabled.status_code == 409 and disabled.json()["code"] == "COUPON_NOT_ACTIVE"
        claimable = {c["couponId"] for c in (await env.client.get("/coupons")).json()}
        assert claimable == {coupon_id}


async def test_coupon_administration(env) -> None:
    admin = env.admin()
    body = {"name": "Autumn", "description": "10% off", "discountType": "PERCENT", "discountValue": 10,
            "maxDiscount": 10_000, "minOrderAmount": 20_000, "productId": 5, "quantity": 100,
            "startsAt": "2026-01-01T00:00:00+09:00", "endsAt": "2099-01-01T00:00:00+09:00"}
    created = await env.client.post("/coupons", json=body, headers=admin)
    assert created.status_code == 201
    coupon = created.json()
    assert coupon["remaining"] == 100 and coupon["productId"] == 5 and coupon["minOrderAmount"] == 20_000
    assert coupon["startsAt"] == "2025-12-31T15:00:00Z"
    unlimited = (await env.client.post("/coupons", json={"name": "any", "discountType": "FIXED",
                                                         "discountValue": 3_000}, headers=admin)).json()
    assert unlimited["remaining"] is None and unlimited["quantity"] is None

    bad = [
        {**body, "discountValue": 101},
        {**body, "discountType": "BOGO"},
        {**body, "endsAt": "2025-01-01T00:00:00+09:00"},
        {**body, "startsAt": "2026-01-01T00:00:00"},   # no zone
        {**body, "quantity": 0},
        {**body, "name": "   "},
        {**body, "discountValue": 10**30},
        {"name": "x"},
    ]
    for payload in bad:
        assert (await env.client.post("/coupons", json=payload, headers=admin)).status_code == 422, payload
    assert (await env.client.post("/coupons", json=body, headers=env.member(1))).status_code == 403
    assert (await env.client.post("/coupons", json=body)).status_code == 401
    assert (await env.client.delete(f"/coupons/{coupon['couponId']}", headers=env.member(1))).status_code == 403
    assert (await env.client.delete("/coupons/424242", headers=admin)).status_code == 404
    assert (await env.client.delete(f"/coupons/{coupon['couponId']}", headers=admin)).status_code == 204
    listed = (await env.client.get("/admin/coupons", headers=admin)).json()
    assert {(c["couponId"], c["disabled"]) for c in listed} == {(coupon["couponId"], True),
                                                                 (unlimited["couponId"], False)}
    assert (await env.client.get("/admin/coupons", headers=env.member(1))).status_code == 403


async def test_redis_gate_gives_the_place_back_when_the_database_and_the_publish_fail(order_app,
                                                                                      redis_prefix) -> None:
    url, prefix = redis_prefix
    async with order_app(coupon_gate="redis", redis_url=url, redis_key_prefix=prefix) as env:
        coupon_id = await env.create_coupon(quantity=1)
        real_publish, real_persist = env.bus.publish_event, env.ctx.gate.persist

        async def broken(*args: Any, **kwargs: Any) -> None:
            raise ConnectionError("down")

        env.bus.publish_event = env.ctx.gate.persist = broken
        failed = await env.claim(coupon_id, 1)
        assert failed.status_code == 503
        env.bus.publish_event, env.ctx.gate.persist = real_publish, real_persist
        # the one place is free again, and member 1 is not marked as holding it
        assert (await env.claim(coupon_id, 1)).status_code == 201
        assert (await env.claim(coupon_id, 2)).status_code == 410
        assert await persisted(env, coupon_id) == (1, 1, 1)


async def test_redis_gate_rebuilds_its_counter_from_the_database_after_a_flush(order_app, redis_prefix) -> None:
    url, prefix = redis_prefix
    async with order_app(coupon_gate="redis", redis_url=url, redis_key_prefix=prefix) as env:
        coupon_id = await env.create_coupon(quantity=3)
        assert (await env.claim(coupon_id, 1)).status_code == 201
        assert (await env.claim(coupon_id, 2)).status_code == 201
        await env.ctx.gate.forget(coupon_id)  # Redis lost the keys
        assert (await env.claim(coupon_id, 1)).json()["code"] == "ALREADY_ISSUED"  # holders come back from the DB
        assert (await env.claim(coupon_id, 3)).status_code == 201
        assert (await env.claim(coupon_id, 4)).status_code == 410
        assert await persisted(env, coupon_id) == (3, 3, 3)


async def test_a_redis_gate_winner_holds_the_coupon_when_told_so(order_app, redis_prefix) -> None:
    """The winner's copy is written in the claim's request: "my coupons" shows it in the very next request,
    with no event on the bus (the broker is only the fallback, below)."""
    url, prefix = redis_prefix
    async with order_app(coupon_gate="redis", redis_url=url, redis_key_prefix=prefix) as env:
        coupon_id = await env.create_coupon(quantity=5)
        published: list[Any] = []
        real_publish = env.bus.publish_event

        async def counting(event: Any, *args: Any, **kwargs: Any) -> None:
            published.append(event)
            await real_publish(event, *args, **kwargs)

        env.bus.publish_event = counting
        for member in range(1, 21):
            answer = await env.claim(coupon_id, member)
            held = (await env.client.get("/members/me/coupons", headers=env.member(member))).json()
            assert [c["couponId"] for c in held] == ([coupon_id] if answer.status_code == 201 else []), member
        assert not [e for e in published if type(e).__name__ == "CouponClaimed"]
        assert await persisted(env, coupon_id) == (5, 5, 5)


@pytest.mark.connected
async def test_redis_gate_persists_through_a_real_broker_when_the_database_write_fails(order_app, redis_prefix,
                                                                                      tmp_path) -> None:
    """When the winner's database write fails, `CouponClaimed` goes through NATS JetStream to the persisting
    consumer instead: the member is told ISSUED and the coupon shows up within a second."""
    nats = server_url("nats")
    if not nats:
        pytest.skip("GLUTA_TEST_NATS_URL is not set: no real NATS server")
    url, prefix = redis_prefix
    from gluta_kit.testing import TestKeys, make_settings
    from gluta_order.app import create_app
    from gluta_order.settings import OrderSettings

    keys = TestKeys()
    settings = make_settings(OrderSettings, tmp_path, coupon_gate="redis", redis_url=url, redis_key_prefix=prefix,
                             bus_url=nats, bus_namespace=f"t{uuid.uuid4().hex[:10]}")
    app = create_app(settings)
    async with running(app, in_memory_bus=False, keys=keys) as client:
        created = await client.post("/coupons", json={"name": "c", "discountType": "FIXED", "discountValue": 500,
                                                      "quantity": 10}, headers=keys.bearer(1, "admin"))
        coupon_id = created.json()["couponId"]
        gate = app.state.order.gate

        async def database_down(event: Any) -> bool:
            raise ConnectionError("database down")

        gate.persist = database_down
        claimed = await client.post(f"/coupons/{coupon_id}/issue", headers=keys.bearer(5))
        assert claimed.status_code == 201
        started = asyncio.get_running_loop().time()
        held: list[Any] = []
        while asyncio.get_running_loop().time() - started < 1.0:
            held = (await client.get("/members/me/coupons", headers=keys.bearer(5))).json()
            if held:
                break
            await asyncio.sleep(0.02)
        assert [c["couponId"] for c in held] == [coupon_id]


async def test_idempotency_keys_on_claim_and_create(env) -> None:
    admin = {**env.admin(), "Idempotency-Key": "create-1"}
    body = {"name": "once", "discountType": "FIXED", "discountValue": 500, "quantity": 5}
    first = await env.client.post("/coupons", json=body, headers=admin)
    again = await env.client.post("/coupons", json=body, headers=admin)
    assert first.status_code == again.status_code == 201 and first.json() == again.json()
    assert len((await env.client.get("/admin/coupons", headers=env.admin())).json()) == 1
    coupon_id = first.json()["couponId"]
    keyed = {**env.member(3), "Idempotency-Key": "claim-1"}
    assert (await env.client.post(f"/coupons/{coupon_id}/issue", headers=keyed)).status_code == 201
    retried = await env.client.post(f"/coupons/{coupon_id}/issue", headers=keyed)
    assert retried.status_code == 201 and retried.json() == {"couponId": coupon_id, "status": "ISSUED"}
    assert (await env.claim(coupon_id, 3)).status_code == 409  # without a key: already issued
    assert await persisted(env, coupon_id) == (1, 1, 1)
