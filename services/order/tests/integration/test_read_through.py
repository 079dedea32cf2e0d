"""A product the local copy does not know yet is read through from the product service, never called missing.

The copy is filled by ProductChanged events; between a product's creation and its event (or while the broker
is down) only the product service knows it. These tests create products in the stand-in product service
*without* any event: checkout and the cart must ask it, keep what it said, and answer 404 only when it
says so, and a clear 503 (nothing charged, nothing written) when it cannot answer.
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from gluta_contracts import ProductChanged
from gluta_kit.testing import free_port, serving
from gluta_order.checkout.models import Order
from gluta_order.snapshot.models import ProductSnapshot

NEW = 501  # a product the product service has and the order service has never heard of


async def orders_written(env) -> int:
    async with env.db.read_sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def snapshot(env, product_id: int) -> ProductSnapshot | None:
    async with env.db.read_sessions() as session:
        return await session.get(ProductSnapshot, product_id)


async def test_a_product_created_a_moment_ago_can_be_ordered_at_once(env) -> None:
    env.catalog.put(NEW, name="wool cardigan", unit_price=12_000, quantity=3, thumbnail_url="/images/9")
    await env.charge(7, 50_000)
    placed = await env.place(7, [{"productId": NEW, "quantity": 2}])
    assert placed.status_code == 202, placed.text
    order = placed.json()
    assert order["status"] == "PENDING"
    assert (order["items"][0]["name"], order["items"][0]["unitPrice"], order["payAmount"]) == \
        ("wool cardigan", 12_000, 24_000)
    assert await env.balance(7) == 26_000
    # what the product service said is kept: the next order asks nothing
    kept = await snapshot(env, NEW)
    assert (kept.name, kept.unit_price, kept.quantity, kept.thumbnail_url) == ("wool cardigan", 12_000, 3, "/images/9")
    assert (await env.place(7, [{"productId": NEW, "quantity": 1}])).status_code == 202
    assert env.catalog.calls == [NEW]


async def test_the_cart_reads_through_too(env) -> None:
    env.catalog.put(NEW, name="linen shirt", unit_price=8_000, quantity=2)
    member = env.member(7)
    added = await env.client.post("/cart/items", json={"productId": NEW, "quantity": 2}, headers=member)
    assert added.status_code == 201, added.text
    assert (added.json()["name"], added.json()["available"]) == ("linen shirt", True)
    # the stock it read is the cart's hint, as an event's would be
    over = await env.client.post("/cart/items", json={"productId": NEW, "quantity": 1}, headers=member)
    assert over.status_code == 409 and over.json()["code"] == "OUT_OF_STOCK"
    await env.charge(7, 50_000)
    placed = await env.place(7, fromCart=True)
    assert placed.status_code == 202 and placed.json()["payAmount"] == 16_000, placed.text
    assert env.catalog.calls == [NEW]


async def test_only_the_product_service_can_say_a_product_does_not_exist(env) -> None:
    await env.charge(7, 50_000)
    missing = await env.place(7, [{"productId": 404_404, "quantity": 1}])
    assert missing.status_code == 404 and missing.json()["code"] == "PRODUCT_NOT_FOUND"
    cart = await env.client.post("/cart/items", json={"productId": 404_404, "quantity": 1}, headers=env.member(7))
    assert cart.status_code == 404 and cart.json()["code"] == "PRODUCT_NOT_FOUND"
    assert env.catalog.calls == [404_404, 404_404]
    assert await snapshot(env, 404_404) is None
    assert await orders_written(env) == 0 and await env.balance(7) == 50_000


async def test_a_product_service_that_fails_gives_a_503_and_changes_nothing(env) -> None:
    env.catalog.put(NEW, name="wool cardigan", unit_price=12_000, quantity=3)
    env.catalog.answer_status = 500
    await env.charge(7, 50_000)
    placed = await env.place(7, [{"productId": NEW, "quantity": 1}])
    assert placed.status_code == 503, placed.text
    assert placed.headers["content-type"].startswith("application/problem+json")
    assert placed.json()["code"] == "SERVICE_UNAVAILABLE" and "try again" in placed.json()["detail"]
    assert await orders_written(env) == 0 and await env.balance(7) == 50_000
    assert await snapshot(env, NEW) is None
    # once it answers again, the same order goes through
    env.catalog.answer_status = None
    assert (await env.place(7, [{"productId": NEW, "quantity": 1}])).status_code == 202


async def test_concurrent_orders_of_one_new_product_share_one_question(env) -> None:
    env.catalog.put(NEW, name="wool cardigan", unit_price=1_000, quantity=100)
    for member in range(1, 11):
        await env.charge(member, 10_000)
    answers = await asyncio.gather(*(env.place(m, [{"productId": NEW, "quantity": 1}]) for m in range(1, 11)))
    assert [a.status_code for a in answers] == [202] * 10
    assert env.catalog.calls == [NEW]


async def test_events_newer_than_the_read_still_apply_and_older_ones_do_not(env) -> None:
    env.catalog.put(NEW, name="wool cardigan", unit_price=12_000, quantity=3)
    before = datetime.now(UTC) - timedelta(seconds=5)
    member = env.member(7)
    assert (await env.client.post("/cart/items", json={"productId": NEW, "quantity": 1}, headers=member)) \
        .status_code == 201
    # the creation's event, emitted before the read, arrives late: it must not undo what was read after it
    await env.publish(ProductChanged(product_id=NEW, name="wool cardigan", unit_price=9_999, on_sale=True,
                                     quantity=3, occurred_at=before))
    assert (await snapshot(env, NEW)).unit_price == 12_000
    # an admin's edit after the read is newer: it applies
    await env.publish(ProductChanged(product_id=NEW, name="wool cardigan", unit_price=15_000, on_sale=True,
                                     quantity=3, occurred_at=datetime.now(UTC) + timedelta(seconds=1)))
    assert (await snapshot(env, NEW)).unit_price == 15_000


@pytest.mark.parametrize("trouble", ["nothing listens", "too slow"])
async def test_an_unreachable_product_service_is_a_503_within_the_timeout(order_app, trouble: str) -> None:
    """Over real HTTP through the kit's client (static instance, timeout, retry on the next attempt)."""
    released = asyncio.Event()

    async def slow(_request) -> JSONResponse:
        await asyncio.wait_for(released.wait(), timeout=10)  # answers only after the test has its 503
        return JSONResponse({})

    port = free_port()
    slow_app = Starlette(routes=[Route("/products/{product_id:int}", slow)])
    settings = {"static_instances": {"product": [f"http://127.0.0.1:{port}"]}, "product_lookup_timeout_seconds": 0.3,
                "product_lookup_retries": 1}
    async with order_app(catalog=False, **settings) as env:
        await env.charge(7, 50_000)

        async def attempt() -> None:
            started = time.monotonic()
            placed = await env.place(7, [{"productId": NEW, "quantity": 1}])
            assert placed.status_code == 503 and placed.json()["code"] == "SERVICE_UNAVAILABLE", placed.text
            assert time.monotonic() - started < 3.0  # two attempts of 0.3 s, not the slow answer's wait

        if trouble == "too slow":
            async with serving(slow_app, port=port):
                try:
                    await attempt()
                finally:
                    released.set()
        else:
            await attempt()
        assert await orders_written(env) == 0 and await env.balance(7) == 50_000
