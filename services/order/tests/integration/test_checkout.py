"""The checkout saga: one local transaction to place, the stock answer to confirm or cancel, compensations once."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from gluta_contracts import OrderCancelled, OrderConfirmed, OrderPlaced, StockReserved
from gluta_contracts.events import OrderLine
from gluta_order.checkout.models import Order
from gluta_order.coupon.models import MemberCoupon
from gluta_order.wallet.models import LedgerEntry


async def count(env, model) -> int:
    async with env.db.read_sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def coupon_state(env, member_coupon_id: int) -> tuple[bool, int | None]:
    async with env.db.read_sessions() as session:
        row = await session.get(MemberCoupon, member_coupon_id)
        return row.used, row.used_order_id


async def test_place_then_stock_reserved_confirms(env) -> None:
    await env.product(1, unit_price=10_000, quantity=5)
    await env.product(2, unit_price=3_000, quantity=5)
    await env.charge(7, 50_000)
    placed = await env.place(7, [{"productId": 1, "quantity": 2}, {"productId": 2, "quantity": 1}])
    assert placed.status_code == 202
    order = placed.json()
    assert order["status"] == "PENDING" and order["cancelReason"] is None
    assert (order["totalAmount"], order["discountAmount"], order["payAmount"]) == (23_000, 0, 23_000)
    assert order["receiver"]["name"] == "Kim Gluta"
    assert await env.balance(7) == 27_000
    [event] = await env.outbox(OrderPlaced)
    assert event["orderId"] == order["orderId"] and event["memberId"] == 7
    assert [(li["productId"], li["quantity"], li["unitPrice"]) for li in event["lines"]] == [(1, 2, 10_000),
                                                                                           (2, 1, 3_000)]
    await env.stock_reserved(order["orderId"])
    confirmed = await env.order(7, order["orderId"])
    assert confirmed["status"] == "CONFIRMED"
    [done] = await env.outbox(OrderConfirmed)
    assert done["orderId"] == order["orderId"] and done["payAmount"] == 23_000
    assert await env.balance(7) == 27_000
    assert await env.ledger_consistent(7) == 27_000


async def test_out_of_stock_cancels_with_everything_returned(env) -> None:
    await env.product(1, unit_price=30_000, quantity=5)
    await env.charge(7, 100_000)
    member_coupon = await env.give_coupon(7, discountType="PERCENT", discountValue=10, maxDiscount=2_000)
    placed = (await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": member_coupon}])).json()
    assert placed["payAmount"] == 28_000 and placed["items"][0]["discount"] == 2_000
    assert await env.balance(7) == 72_000
    assert await coupon_state(env, member_coupon) == (True, placed["orderId"])

    await env.stock_rejected(placed["orderId"])

    cancelled = await env.order(7, placed["orderId"])
    assert cancelled["status"] == "CANCELLED" and cancelled["cancelReason"] == "OUT_OF_STOCK"
    assert await env.balance(7) == 100_000
    assert await coupon_state(env, member_coupon) == (False, None)
    ledger = (await env.client.get("/wallet/transactions", headers=env.member(7))).json()["items"]
    assert [(t["type"], t["amount"], t["orderId"]) for t in ledger[:2]] == [
        ("REFUND", 28_000, placed["orderId"]), ("PAYMENT", 28_000, placed["orderId"])]
    [event] = await env.outbox(OrderCancelled)
    assert event["reason"] == "OUT_OF_STOCK" and event["wasConfirmed"] is False
    assert await env.ledger_consistent(7) == 100_000
    # the coupon came back usable
    again = await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": member_coupon}])
    assert again.status_code == 202


async def test_too_little_pay_money_is_402_and_changes_nothing(env) -> None:
    await env.product(1, unit_price=30_000)
    await env.charge(7, 29_999)
    member_coupon = await env.give_coupon(7, discountValue=1_000, productId=2)
    await env.product(2, unit_price=2_000)
    before = (await count(env, LedgerEntry), len(await env.outbox(OrderPlaced)))
    short = await env.place(7, [{"productId": 1, "quantity": 1}, {"productId": 2, "quantity": 1,
                                                                   "memberCouponId": member_coupon}], key="k")
    assert short.status_code == 402 and short.json()["code"] == "INSUFFICIENT_PAY_MONEY"
    assert await env.balance(7) == 29_999
    assert await count(env, Order) == 0
    assert (await count(env, LedgerEntry), len(await env.outbox(OrderPlaced))) == before
    assert await coupon_state(env, member_coupon) == (False, None)
    # a refusal is not remembered: after a top-up the same key places the order
    await env.charge(7, 10_000)
    retried = await env.place(7, [{"productId": 1, "quantity": 1}], key="k")
    assert retried.status_code == 202
    none_at_all = await env.place(8, [{"productId": 2, "quantity": 1}])
    assert none_at_all.status_code == 402


async def test_redelivered_stock_answers_change_nothing(env) -> None:
    await env.product(1, unit_price=1_000)
    await env.charge(7, 10_000)
    first = (await env.place(7, [{"productId": 1, "quantity": 1}])).json()["orderId"]
    second = (await env.place(7, [{"productId": 1, "quantity": 1}])).json()["orderId"]

    reserved = await env.stock_reserved(first)
    await env.publish(reserved)  # the same event again (same eventId)
    await env.stock_rejected(first)  # a contradicting answer for a confirmed order
    assert (await env.order(7, first))["status"] == "CONFIRMED"
    assert len(await env.outbox(OrderConfirmed)) == 1

    rejected = await env.stock_rejected(second)
    await env.publish(rejected)
    await env.stock_reserved(second)  # too late: it is cancelled
    assert (await env.order(7, second))["status"] == "CANCELLED"
    assert len(await env.outbox(OrderCancelled)) == 1
    assert len(await env.outbox(OrderConfirmed)) == 1
    assert await env.balance(7) == 9_000  # one refund, not two
    await env.ledger_consistent(7)


@pytest.mark.timeout(180)
async def test_parallel_checkouts_never_overdraw_one_wallet(order_app, database_url) -> None:
    overrides = {"database_url": database_url} if database_url else {}
    async with order_app(**overrides) as env:
        await env.product(1, unit_price=10_000, quantity=1_000)
        await env.charge(7, 70_000)
        responses = await asyncio.gather(*[env.place(7, [{"productId": 1, "quantity": 1}]) for _ in range(20)])
        codes = sorted(r.status_code for r in responses)
        assert codes.count(202) == 7 and codes.count(402) == 13, codes
        assert await env.balance(7) == 0
        assert await env.ledger_consistent(7) == 0
        assert await count(env, Order) == 7
        assert len(await env.outbox(OrderPlaced)) == 7


async def test_coupons_of_others_used_or_for_another_product_are_refused(env) -> None:
    await env.product(1, unit_price=20_000)
    await env.product(2, unit_price=20_000)
    await env.charge(7, 100_000)
    others = await env.give_coupon(8, discountValue=1_000)
    for_product_2 = await env.give_coupon(7, discountValue=1_000, productId=2)
    mine = await env.give_coupon(7, discountValue=1_000)
    future = await env.create_coupon(startsAt=(datetime.now(UTC) - timedelta(days=1)).isoformat(),
                                     endsAt=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    await env.claim(future, 7)
    expiring = await env.member_coupon_id(7, future)

    for member_coupon in (others, for_product_2, 999_999):
        refused = await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": member_coupon}])
        assert refused.status_code == 409 and refused.json()["code"] == "COUPON_NOT_USABLE", member_coupon
    assert (await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": mine}])).status_code == 202
    used = await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": mine}])
    assert used.status_code == 409 and used.json()["code"] == "COUPON_NOT_USABLE"
    # past its end it cannot be used
    env.ctx.clock = lambda: datetime.now(UTC) + timedelta(hours=2)
    expired = await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": expiring}])
    assert expired.status_code == 409
    assert await env.balance(7) == 81_000  # only the one good order was paid (20,000 - 1,000)


async def test_a_disabled_coupon_already_issued_stays_usable(env) -> None:
    await env.product(1, unit_price=20_000)
    await env.charge(7, 50_000)
    coupon_id = await env.create_coupon(discountValue=3_000)
    await env.claim(coupon_id, 7)
    member_coupon = await env.member_coupon_id(7, coupon_id)
    assert (await env.client.delete(f"/coupons/{coupon_id}", headers=env.admin())).status_code == 204
    placed = await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": member_coupon}])
    assert placed.status_code == 202 and placed.json()["payAmount"] == 17_000


async def test_the_sweeper_cancels_only_after_the_timeout_and_a_late_reservation_cannot_confirm(order_app) -> None:
    async with order_app(checkout_timeout_seconds=60) as env:
        placed_at = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
        env.ctx.clock = lambda: placed_at
        await env.product(1, unit_price=5_000)
        await env.charge(7, 20_000)
        member_coupon = await env.give_coupon(7, discountValue=500)
        order_id = (await env.place(7, [{"productId": 1, "quantity": 2, "memberCouponId": member_coupon}])).json()[
            "orderId"]
        sweeper = env.app.state.sweeper
        assert await sweeper.sweep_once(now=placed_at + timedelta(seconds=59)) == 0
        assert (await env.order(7, order_id))["status"] == "PENDING"
        assert await sweeper.sweep_once(now=placed_at + timedelta(seconds=61)) == 1
        cancelled = await env.order(7, order_id)
        assert cancelled["status"] == "CANCELLED" and cancelled["cancelReason"] == "TIMEOUT"
        assert await env.balance(7) == 20_000
        assert await coupon_state(env, member_coupon) == (False, None)
        # The OrderCancelled that makes the product service release stock is committed with the
        # cancellation, so it exists before any late StockReserved can be looked at.
        [event] = await env.outbox(OrderCancelled)
        assert event["orderId"] == order_id and event["reason"] == "TIMEOUT" and event["wasConfirmed"] is False
        assert [(li["productId"], li["quantity"]) for li in event["lines"]] == [(1, 2)]

        await env.publish(StockReserved(order_id=order_id, lines=[OrderLine(product_id=1, quantity=2)]))
        assert (await env.order(7, order_id))["status"] == "CANCELLED"
        assert await env.outbox(OrderConfirmed) == []
        assert await sweeper.sweep_once(now=placed_at + timedelta(hours=1)) == 0  # nothing twice
        assert await env.ledger_consistent(7) == 20_000


async def test_the_sweeper_runs_by_itself(order_app) -> None:
    async with order_app(checkout_timeout_seconds=0.2, sweeper_interval_seconds=0.1) as env:
        await env.product(1, unit_price=1_000)
        await env.charge(7, 1_000)
        order_id = (await env.place(7, [{"productId": 1, "quantity": 1}])).json()["orderId"]
        for _ in range(50):
            if (await env.order(7, order_id))["status"] == "CANCELLED":
                break
            await asyncio.sleep(0.1)
        assert (await env.order(7, order_id))["cancelReason"] == "TIMEOUT"
        assert await env.balance(7) == 1_000


async def test_member_cancels_a_confirmed_order(env) -> None:
    await env.product(1, unit_price=15_000)
    await env.charge(7, 15_000)
    member_coupon = await env.give_coupon(7, discountValue=5_000)
    order_id = (await env.place(7, [{"productId": 1, "quantity": 1, "memberCouponId": member_coupon}])).json()[
        "orderId"]
    await env.stock_reserved(order_id)
    assert await env.balance(7) == 5_000

    assert (await env.client.post(f"/orders/{order_id}/cancel", headers=env.member(8))).status_code == 404
    cancelled = await env.client.post(f"/orders/{order_id}/cancel", headers=env.member(7))
    assert cancelled.status_code == 202
    assert cancelled.json()["status"] == "CANCELLED" and cancelled.json()["cancelReason"] == "CANCELLED_BY_MEMBER"
    assert await env.balance(7) == 15_000
    assert await coupon_state(env, member_coupon) == (False, None)
    [event] = await env.outbox(OrderCancelled)
    assert event["wasConfirmed"] is True and event["reason"] == "CANCELLED_BY_MEMBER"

    again = await env.client.post(f"/orders/{order_id}/cancel", headers=env.member(7))
    assert again.status_code == 409 and again.json()["code"] == "NOT_CANCELLABLE"
    assert await env.balance(7) == 15_000
    assert (await env.client.post("/orders/424242/cancel", headers=env.member(7))).status_code == 404
    await env.ledger_consistent(7)


async def test_member_cancels_a_pending_order_and_the_late_reservation_is_ignored(env) -> None:
    await env.product(1, unit_price=1_000)
    await env.charge(7, 1_000)
    order_id = (await env.place(7, [{"productId": 1, "quantity": 1}])).json()["orderId"]
    headers = {**env.member(7), "Idempotency-Key": "cancel-1"}
    first = await env.client.post(f"/orders/{order_id}/cancel", headers=headers)
    retry = await env.client.post(f"/orders/{order_id}/cancel", headers=headers)
    assert first.status_code == retry.status_code == 202 and first.json() == retry.json()
    [event] = await env.outbox(OrderCancelled)
    assert event["wasConfirmed"] is False
    await env.stock_reserved(order_id)
    assert (await env.order(7, order_id))["status"] == "CANCELLED"
    assert await env.balance(7) == 1_000


async def test_checkout_idempotency(env) -> None:
    await env.product(1, unit_price=1_000)
    await env.charge(7, 10_000)
    responses = await asyncio.gather(*[env.place(7, [{"productId": 1, "quantity": 1}], key="same") for _ in range(5)])
    assert {r.status_code for r in responses} == {202}
    assert len({r.json()["orderId"] for r in responses}) == 1
    assert await env.balance(7) == 9_000
    missing = await env.client.post("/orders", json={"items": [{"productId": 1, "quantity": 1}],
                                                     "receiver": responses[0].json()["receiver"]},
                                    headers=env.member(7))
    assert missing.status_code == 400 and missing.json()["code"] == "IDEMPOTENCY_KEY_REQUIRED"


async def test_checkout_from_the_cart_removes_the_bought_lines_when_confirmed(env) -> None:
    await env.product(1, unit_price=10_000, quantity=10)
    await env.product(2, unit_price=20_000, quantity=10)
    await env.charge(7, 100_000)
    for product_id in (1, 2):
        await env.client.post("/cart/items", json={"productId": product_id, "quantity": 2}, headers=env.member(7))
    member_coupon = await env.give_coupon(7, discountValue=4_000, productId=2)
    stray = await env.place(7, fromCart=True, couponsByProduct={"3": member_coupon})
    assert stray.status_code == 409
    placed = await env.place(7, fromCart=True, couponsByProduct={"2": member_coupon})
    assert placed.status_code == 202
    body = placed.json()
    assert [(i["productId"], i["quantity"], i["discount"]) for i in body["items"]] == [(1, 2, 0), (2, 2, 4_000)]
    assert body["payAmount"] == 56_000
    assert len((await env.client.get("/cart", headers=env.member(7))).json()["items"]) == 2  # until confirmed
    await env.stock_reserved(body["orderId"])
    assert (await env.client.get("/cart", headers=env.member(7))).json()["items"] == []
    empty = await env.place(7, fromCart=True)
    assert empty.status_code == 422 and empty.json()["code"] == "CART_EMPTY"


async def test_orders_are_listed_newest_first_and_private(env) -> None:
    await env.product(1, unit_price=1_000)
    await env.charge(7, 10_000)
    ids = [(await env.place(7, [{"productId": 1, "quantity": 1}])).json()["orderId"] for _ in range(3)]
    await env.stock_reserved(ids[0])
    page = (await env.client.get("/orders?page=1&size=2", headers=env.member(7))).json()
    assert page["total"] == 3 and [o["orderId"] for o in page["items"]] == [ids[2], ids[1]]
    assert (await env.client.get(f"/orders/{ids[0]}", headers=env.member(8))).status_code == 404
    assert (await env.client.get("/orders", headers=env.member(8))).json()["total"] == 0
    admin = (await env.client.get("/admin/orders?status=CONFIRMED", headers=env.admin())).json()
    assert [(o["orderId"], o["memberId"]) for o in admin["items"]] == [(ids[0], 7)]
    assert (await env.client.get("/admin/orders", headers=env.member(7))).status_code == 403
    assert (await env.client.get("/admin/orders?status=LOST", headers=env.admin())).status_code == 422


async def test_unknown_products_and_malformed_orders(env) -> None:
    await env.product(1, unit_price=1_000)
    await env.product(2, unit_price=1_000, on_sale=False)
    await env.charge(7, 10_000)
    for product_id in (99, 2):
        missing = await env.place(7, [{"productId": product_id, "quantity": 1}])
        assert missing.status_code == 404 and missing.json()["code"] == "PRODUCT_NOT_FOUND"
    receiver = {"name": "K", "phoneNumber": "010", "address": "Seoul"}
    bad_bodies = [
        {"items": [], "receiver": receiver},
        {"items": [{"productId": 1, "quantity": 1}]},                                   # no receiver
        {"items": [{"productId": 1, "quantity": 1}], "receiver": {**receiver, "phoneNumber": "call me"}},
        {"items": [{"productId": 1, "quantity": 0}], "receiver": receiver},
        {"items": [{"productId": 1, "quantity": 1}, {"productId": 1, "quantity": 2}], "receiver": receiver},
        {"items": [{"productId": 1, "quantity": 1}], "fromCart": True, "receiver": receiver},
        {"items": [{"productId": 1, "quantity": 10**20}], "receiver": receiver},
        {"items": [{"productId": "one", "quantity": 1}], "receiver": receiver},
        {"items": [{"productId": 1, "quantity": 1, "memberCouponId": -1}], "receiver": receiver},
        {"fromCart": True, "couponsByProduct": {"x": 1}, "receiver": receiver},
        "not an object",
    ]
    for body in bad_bodies:
        response = await env.client.post("/orders", json=body,
                                         headers={**env.member(7), "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 422, (body, response.text)
        assert response.json()["code"] == "VALIDATION_ERROR"
    assert await env.balance(7) == 10_000


async def test_the_choreography_runs_through_the_outbox_relay_and_the_bus(order_app) -> None:
    """A stand-in product service answers OrderPlaced on the bus; the order confirms by itself."""

    def stand_in_product(app) -> None:
        bus = app.state.service.bus

        @bus.on(OrderPlaced, "test-product-reserve")
        async def reserve(event: OrderPlaced) -> None:
            # answer later, as a real broker would: the in-memory one delivers inline, inside the relay's
            # transaction, and SQLite's single writer would wait on itself
            answers.append(asyncio.create_task(
                bus.publish_event(StockReserved(order_id=event.order_id, lines=event.lines))))

    answers: list[asyncio.Task[None]] = []

    async with order_app(prepare=stand_in_product) as env:
        await env.product(1, unit_price=1_000)
        await env.charge(7, 1_000)
        order_id = (await env.place(7, [{"productId": 1, "quantity": 1}])).json()["orderId"]
        for _ in range(100):
            if (await env.order(7, order_id))["status"] == "CONFIRMED":
                break
            await asyncio.sleep(0.02)
        assert (await env.order(7, order_id))["status"] == "CONFIRMED"


@pytest.mark.timeout(180)
async def test_stock_answers_confirmed_together_behave_as_one_by_one(order_app, database_url) -> None:
    """The consumer's group commit: one transaction for many StockReserved, each applied exactly once."""
    from gluta_order.checkout.service import confirm_orders

    overrides = {"database_url": database_url} if database_url else {}
    async with order_app(**overrides) as env:
        await env.product(1, unit_price=1_000)
        await env.charge(7, 10_000)
        ids = [(await env.place(7, [{"productId": 1, "quantity": 1}])).json()["orderId"] for _ in range(4)]
        already = await env.stock_reserved(ids[0])  # confirmed earlier; now redelivered in the batch
        assert (await env.client.post(f"/orders/{ids[3]}/cancel", headers=env.member(7))).status_code == 202
        ctx = env.app.state.order
        again = StockReserved(order_id=ids[2], lines=already.lines)  # a second answer for one order
        one = StockReserved(order_id=ids[1], lines=already.lines)
        batch = [already, one, one, StockReserved(order_id=ids[2], lines=already.lines), again,
                 StockReserved(order_id=ids[3], lines=already.lines), StockReserved(order_id=424242, lines=[])]
        flags = await confirm_orders(uow=ctx.uow(), events=batch, now=ctx.now())
        assert flags == [False, True, False, True, False, False, False]
        statuses = [(await env.order(7, i))["status"] for i in ids]
        assert statuses == ["CONFIRMED", "CONFIRMED", "CONFIRMED", "CANCELLED"]
        confirmed = await env.outbox(OrderConfirmed)
        assert sorted(e["orderId"] for e in confirmed) == sorted(ids[:3])
        assert await confirm_orders(uow=ctx.uow(), events=batch, now=ctx.now()) == [False] * len(batch)
        assert len(await env.outbox(OrderConfirmed)) == 3
        assert await env.balance(7) == 7_000
        await env.ledger_consistent(7)
