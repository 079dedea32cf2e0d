"""The order service's figures for `gluta check`: a saga's worth of activity adds up; damage does not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, update

from gluta_order.coupon.models import Coupon
from gluta_order.wallet.models import REFUND, LedgerEntry, Wallet


async def figures(env: Any) -> dict[str, Any]:
    response = await env.client.get("/internal/check")
    assert response.status_code == 200, response.text
    return response.json()["invariants"]


async def damage(env: Any, statement: Any) -> None:
    async with env.db.write_sessions() as session:
        await session.execute(statement)
        await session.commit()


async def some_activity(env: Any) -> dict[str, int]:
    """Orders confirmed, cancelled for lack of stock, cancelled by the member; a coupon used; a coupon returned."""
    await env.product(1, unit_price=10_000, quantity=50)
    await env.product(2, unit_price=3_000, quantity=50)
    await env.charge(7, 100_000)
    coupon = await env.give_coupon(7, discountValue=1_000, quantity=10)
    confirmed = (await env.place(7, [{"productId": 1, "quantity": 2, "memberCouponId": coupon},
                                     {"productId": 2, "quantity": 1}])).json()["orderId"]
    await env.stock_reserved(confirmed)
    rejected = (await env.place(7, [{"productId": 2, "quantity": 3}])).json()["orderId"]
    await env.stock_rejected(rejected)
    returned = await env.give_coupon(7, discountValue=500)
    by_member = (await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": returned}])).json()["orderId"]
    assert (await env.client.post(f"/orders/{by_member}/cancel", headers=env.member(7))).status_code == 202
    pending = (await env.place(7, [{"productId": 2, "quantity": 1}])).json()["orderId"]
    return {"confirmed": confirmed, "rejected": rejected, "by_member": by_member, "pending": pending}


async def test_a_saga_s_worth_of_activity_adds_up(env) -> None:
    orders = await some_activity(env)
    found = await figures(env)
    for name in ("wallets", "coupons", "orders"):
        assert found[name]["ok"], found[name]
    assert found["orders"]["figures"] == {"orders": 4, "confirmed": 1, "cancelled": 2, "pending": 1,
                                               "stalePending": 0}
    assert found["coupons"]["figures"]["issued"] == 2 and found["coupons"]["figures"]["used"] == 1
    assert found["confirmedUnits"] == {"1": 2, "2": 1}
    assert found["orderIds"] == {"confirmed": [orders["confirmed"]], "pending": [orders["pending"]]}


async def test_damage_to_money_coupons_or_orders_is_reported(env) -> None:
    orders = await some_activity(env)
    await damage(env, update(Wallet).where(Wallet.member_id == 7).values(balance=Wallet.balance + 1))
    await damage(env, update(Coupon).values(issued=Coupon.issued + 1))
    await damage(env, delete(LedgerEntry).where(LedgerEntry.order_id == orders["rejected"],
                                                LedgerEntry.type == REFUND))
    found = await figures(env)
    wallets, coupons, saga = found["wallets"], found["coupons"], found["orders"]
    assert not wallets["ok"] and "member 7: balance" in wallets["problems"][0]
    assert not coupons["ok"] and coupons["problemCount"] == 2  # both coupons now say one more than is held
    assert not saga["ok"]
    assert f"order {orders['rejected']} (CANCELLED): 0 refund(s) of 0 for 9000" in saga["problems"]


async def test_an_order_left_pending_past_the_timeout_is_reported(order_app) -> None:
    async with order_app(checkout_timeout_seconds=0.1, sweeper_interval_seconds=3600) as env:
        await env.product(1, unit_price=1_000)
        await env.charge(7, 1_000)
        order_id = (await env.place(7, [{"productId": 1, "quantity": 1}])).json()["orderId"]
        assert (await figures(env))["orders"]["ok"]  # within the timeout and the sweeper's round + margin
        env.ctx.clock = lambda: datetime.now(UTC) + timedelta(seconds=3600 * 1.2 + 10)  # past that margin
        saga = (await figures(env))["orders"]
        assert not saga["ok"] and saga["figures"]["stalePending"] == 1
        assert saga["problems"][0].startswith(f"order {order_id}: PENDING for ")


async def test_the_redis_gate_s_counters_must_agree(order_app, redis_prefix) -> None:
    url, prefix = redis_prefix
    async with order_app(coupon_gate="redis", redis_url=url, redis_key_prefix=prefix) as env:
        coupon_id = await env.create_coupon(quantity=5)
        for member in (1, 2, 3):
            assert (await env.claim(coupon_id, member)).status_code == 201
        for _ in range(100):  # the copies are persisted from CouponClaimed, a moment later
            if (await figures(env))["coupons"]["figures"]["issued"] == 3:
                break
            await asyncio.sleep(0.02)
        coupons = (await figures(env))["coupons"]
        assert coupons["ok"] and "Redis counters agree" in coupons["summary"], coupons
        await env.ctx.gate.redis.incr(env.ctx.gate.keys(coupon_id)[1])  # a place taken that nobody holds
        coupons = (await figures(env))["coupons"]
        assert not coupons["ok"]
        assert coupons["problems"] == [f"coupon {coupon_id}: Redis counter 4 and 3 members, database 3"]
