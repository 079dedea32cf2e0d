"""`gluta check` against real processes: a clean system passes; each invariant, damaged on purpose straight
in the owning service's database (or the broker), is caught — and only that one — and passes again once
the damage is undone."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gluta_contracts import ProductChanged

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def activity(cluster: Any, shopper: Any) -> dict[str, Any]:
    """Some of everything: orders confirmed, cancelled by the member and for lack of stock, coupons used and
    returned, a first-come coupon claimed; every saga ended."""
    member = shopper.new_member()
    shopper.charge(member, 200_000)
    shirt, cap = shopper.create_product(quantity=20), shopper.create_product(quantity=1, price=5_000)
    first_come = shopper.create_coupon(quantity=3)
    assert shopper.call("POST", f"/api/order-service/coupons/{first_come}/issue", member).status_code == 201
    coupon = shopper.member_coupon(member, first_come)
    confirmed = shopper.place(member, [{"productId": shirt, "quantity": 2, "memberCouponId": coupon},
                                       {"productId": cap, "quantity": 1}]).json()["orderId"]
    rejected = shopper.place(member, [{"productId": cap, "quantity": 1}]).json()["orderId"]
    welcome = shopper.create_coupon(quantity=None, value=500)
    assert shopper.call("POST", f"/api/order-service/coupons/{welcome}/issue", member).status_code == 201
    cancelled = shopper.place(member, [{"productId": shirt, "quantity": 1,
                                        "memberCouponId": shopper.member_coupon(member, welcome)}]).json()["orderId"]
    assert shopper.wait_final(member, confirmed)["status"] == "CONFIRMED"
    assert shopper.wait_final(member, rejected)["cancelReason"] == "OUT_OF_STOCK"
    assert shopper.wait_final(member, cancelled)["status"] == "CONFIRMED"
    assert shopper.call("POST", f"/api/order-service/orders/{cancelled}/cancel", member).status_code == 202
    code, report = cluster.check("--settle", "15")  # the cancellation's release and sales reversal settle
    assert code == 0, report
    return {"shirt": shirt, "confirmed": confirmed, "rejected": rejected, "cancelled": cancelled}


def verdicts(report: dict[str, Any]) -> dict[str, str]:
    return {line["name"]: line["status"] for line in report["invariants"]}


def test_a_clean_system_passes(cluster: Any, activity: Any) -> None:
    code, report = cluster.check("--settle", "0")
    assert code == 0 and report["ok"], report
    assert verdicts(report) == dict.fromkeys(("stock", "sales", "reservations", "wallets", "coupons", "orders",
                                              "outbox", "inbox", "dead letters"), "OK")
    stock = next(line for line in report["invariants"] if line["name"] == "stock")
    assert "products: on shelf" in stock["summary"]
    assert set(report["services"]) == {"user", "product", "order"}


@contextmanager
def damaged(cluster: Any, service: str, do: str, undo: str, **values: Any) -> Iterator[None]:
    """Change a service's SQLite database behind its back (the service keeps running), and put it back."""
    with sqlite3.connect(cluster.database(service), timeout=30) as db:
        db.execute(do, values)
    try:
        yield
    finally:
        with sqlite3.connect(cluster.database(service), timeout=30) as db:
            db.execute(undo, values)


def reservation_of(cluster: Any, order_id: int) -> None:
    with sqlite3.connect(cluster.database("product")) as db:
        assert db.execute("SELECT status, sales_state FROM stock_reservation WHERE order_id = ?",
                          (order_id,)).fetchone() == ("RESERVED", "COUNTED")


def _ago(**delta: float) -> str:
    return (datetime.now(UTC) + timedelta(**delta)).strftime("%Y-%m-%d %H:%M:%S")


# invariant -> (service, damage, undo, values, a problem gluta check must name)
DAMAGE: dict[str, Callable[[dict[str, Any]], tuple[str, str, str, dict[str, Any], str]]] = {
    "stock": lambda a: (
        "product", "UPDATE product SET quantity = quantity + 1 WHERE id = :p",
        "UPDATE product SET quantity = quantity - 1 WHERE id = :p", {"p": a["shirt"]},
        f"product {a['shirt']}: on shelf"),
    "sales": lambda a: (
        "order", "UPDATE order_line SET quantity = quantity + 1 WHERE order_id = :o AND product_id = :p",
        "UPDATE order_line SET quantity = quantity - 1 WHERE order_id = :o AND product_id = :p",
        {"o": a["confirmed"], "p": a["shirt"]}, f"product {a['shirt']}: 2 sold (product) but 3"),
    "reservations": lambda a: (
        "product", "UPDATE stock_reservation SET order_id = 999999 WHERE order_id = :o",
        "UPDATE stock_reservation SET order_id = :o WHERE order_id = 999999", {"o": a["confirmed"]},
        f"order {a['confirmed']}: CONFIRMED but no stock is taken"),
    "wallets": lambda a: (
        "order", "UPDATE wallet SET balance = balance + 1", "UPDATE wallet SET balance = balance - 1", {},
        "but the ledger adds up to"),
    "coupons": lambda a: (
        "order", "UPDATE coupon SET issued = issued + 1 WHERE quantity = 3",
        "UPDATE coupon SET issued = issued - 1 WHERE quantity = 3", {}, "issued 2 but members hold 1"),
    "orders": lambda a: (  # the refund's money stays in the ledger (wallets hold), it just no longer names the order
        "order", "UPDATE wallet_ledger SET order_id = NULL WHERE order_id = :o AND type = 'REFUND'",
        "UPDATE wallet_ledger SET order_id = :o WHERE order_id IS NULL AND type = 'REFUND'", {"o": a["cancelled"]},
        f"order {a['cancelled']} (CANCELLED): 0 refund(s)"),
    "outbox": lambda a: (  # an event the relay will not try again before tomorrow, written an hour ago
        "user", "INSERT INTO kit_outbox (event_id, topic, payload, headers, created_at, attempts, next_attempt_at) "
        "VALUES ('stuck-1', 'gluta.test.nothing', '{}', '{}', :old, 9, :later)",
        "DELETE FROM kit_outbox WHERE event_id = 'stuck-1'", {"old": _ago(hours=-1), "later": _ago(days=1)},
        "user: 1 events unsent"),
    "dead letters": lambda a: (
        "order", "INSERT INTO kit_dead_letter (id, event_id, topic, consumer, payload, headers, error, attempts, "
        "created_at) VALUES (424242, 'e', 't', 'c', '{}', '{}', 'boom', 5, :old)",
        "DELETE FROM kit_dead_letter WHERE id = 424242", {"old": _ago(hours=-1)}, "order: 1 dead letter(s) waiting"),
}


@pytest.mark.parametrize("invariant", list(DAMAGE))
def test_each_damaged_invariant_is_caught(cluster: Any, activity: Any, invariant: str) -> None:
    if invariant == "reservations":
        reservation_of(cluster, activity["confirmed"])
    service, do, undo, values, problem = DAMAGE[invariant](activity)
    with damaged(cluster, service, do, undo, **values):
        code, report = cluster.check("--settle", "0")
        assert code == 1 and not report["ok"]
        failed = {name for name, status in verdicts(report).items() if status != "OK"}
        assert failed == {invariant}, report
        line = next(line for line in report["invariants"] if line["name"] == invariant)
        assert any(problem in p for p in line["problems"]), line
    code, report = cluster.check("--settle", "0")
    assert code == 0, report


def test_a_consumer_that_stopped_taking_messages_is_caught(cluster: Any, activity: Any) -> None:
    """The inbox: a consumer paused on the broker while messages arrive for it is stuck."""
    durable = f"order-product-snapshot-{ProductChanged.topic}".replace(".", "-")

    async def broker(action: Callable[[Any], Any]) -> None:
        import nats

        connection = await nats.connect(cluster.nats.url)
        try:
            await action(connection.jetstream())
        finally:
            await connection.close()

    async def pause(js: Any) -> None:
        until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
        await js.pause_consumer("GLUTA", durable, until)  # a JetStream context is also its manager
        old = ProductChanged(product_id=activity["shirt"], name="old", unit_price=1, on_sale=True,
                             occurred_at=datetime(2020, 1, 1, tzinfo=UTC))  # harmless when it is delivered
        await js.publish(ProductChanged.topic, old.to_json(), headers={"eventId": old.event_id})

    async def resume(js: Any) -> None:
        await js.resume_consumer("GLUTA", durable)

    asyncio.run(broker(pause))
    try:
        time.sleep(2.5)
        code, report = cluster.check("--settle", "0", "--stuck-after", "2")
        assert code == 1, report
        assert {n for n, s in verdicts(report).items() if s != "OK"} == {"inbox"}, report
        inbox = next(line for line in report["invariants"] if line["name"] == "inbox")
        assert any("order order-product-snapshot" in p and "1 messages waiting" in p for p in inbox["problems"]), inbox
    finally:
        asyncio.run(broker(resume))
    code, report = cluster.check("--settle", "15")
    assert code == 0, report
