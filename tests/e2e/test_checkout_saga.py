"""The checkout saga across real order and product processes: it ends CONFIRMED or CANCELLED with
everything returned, also when the product service or the broker was down for a while, and one
checkout shows one traceId in the gateway's, the order service's and the product service's logs."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def api(client: httpx.Client, method: str, path: str, token: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return client.request(method, path, headers=headers, **kwargs)


def login(client: httpx.Client, path: str, login_id: str, password: str) -> str:
    response = client.post(path, json={"loginId": login_id, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["accessToken"]


def new_member(client: httpx.Client) -> str:
    login_id = f"m{uuid.uuid4().hex[:10]}"
    body = {"loginId": login_id, "password": "secret-pass-1", "memberName": "김지수", "phoneNumber": "010-1234-5678",
            "email": f"{login_id}@example.com", "postNumber": "04524", "address": "서울시 중구", "addressDetail": "1층"}
    response = client.post("/api/user-service/members", json=body)
    assert response.status_code == 201, response.text
    return login(client, "/api/user-service/login", login_id, "secret-pass-1")


def create_product(client: httpx.Client, admin: str, quantity: int, price: int = 10_000) -> int:
    types = api(client, "GET", "/api/product-service/types").json()
    if types:
        type_id = types[0]["productTypeId"]
    else:
        created = api(client, "POST", "/api/product-service/types", admin, json={"type": "상의"})
        assert created.status_code == 201, created.text
        type_id = created.json()["productTypeId"]
    body = {"name": f"울 니트 가디건 {uuid.uuid4().hex[:4]}", "description": "따뜻한 가디건",
            "content": "<p>울 100%</p>",
            "productTypeId": type_id, "productStyles": ["캐주얼"], "unitPrice": price, "quantity": quantity,
            "imageIds": []}
    response = api(client, "POST", "/api/product-service/products", admin, json=body)
    assert response.status_code == 201, response.text
    return response.json()["productId"]


def wait_for(predicate: Any, timeout: float = 30, interval: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError("condition not met in time")


def add_to_cart_when_known(client: httpx.Client, member: str, product_id: int) -> None:
    """The order service learns products from ProductChanged events: wait until it knows this one."""
    def added() -> bool:
        response = api(client, "POST", "/api/order-service/cart/items", member,
                       json={"productId": product_id, "quantity": 1})
        return response.status_code == 201
    wait_for(added)


def place_order(client: httpx.Client, member: str, product_id: int, quantity: int) -> httpx.Response:
    body = {"items": [{"productId": product_id, "quantity": quantity}],
            "receiver": {"name": "김지수", "phoneNumber": "010-1234-5678", "postNumber": "04524",
                         "address": "서울시 중구", "addressDetail": "1층"}}
    return api(client, "POST", "/api/order-service/orders", member, json=body,
               headers={"Idempotency-Key": uuid.uuid4().hex})


def order_status(client: httpx.Client, member: str, order_id: int) -> dict[str, Any]:
    response = api(client, "GET", f"/api/order-service/orders/{order_id}", member)
    assert response.status_code == 200, response.text
    return response.json()


def wait_final(client: httpx.Client, member: str, order_id: int, timeout: float = 30) -> dict[str, Any]:
    return wait_for(lambda: (o := order_status(client, member, order_id))["status"] != "PENDING" and o, timeout)


def charge(client: httpx.Client, member: str, amount: int) -> None:
    response = api(client, "POST", "/api/order-service/wallet/charge", member, json={"amount": amount},
                   headers={"Idempotency-Key": uuid.uuid4().hex})
    assert response.status_code == 200, response.text


def stock(client: httpx.Client, product_id: int) -> int:
    return api(client, "GET", f"/api/product-service/products/{product_id}").json()["quantity"]


def balance(client: httpx.Client, member: str) -> int:
    return api(client, "GET", "/api/order-service/wallet", member).json()["balance"]


@pytest.fixture(scope="module")
def shop(cluster: Any) -> Any:
    client = httpx.Client(base_url=cluster.gateway, timeout=15)
    admin = login(client, "/api/user-service/admin/login", *cluster.admin)
    yield client, admin
    client.close()


def test_happy_path_and_one_trace_across_services(cluster: Any, shop: Any) -> None:
    client, admin = shop
    member = new_member(client)
    product_id = create_product(client, admin, quantity=5)
    add_to_cart_when_known(client, member, product_id)
    charge(client, member, 50_000)

    placed = place_order(client, member, product_id, 2)
    assert placed.status_code == 202, placed.text
    assert placed.json()["status"] == "PENDING"
    order = wait_final(client, member, placed.json()["orderId"])
    assert order["status"] == "CONFIRMED"
    assert stock(client, product_id) == 3
    assert balance(client, member) == 30_000

    trace_id = placed.headers["x-trace-id"]
    for service in ("gateway", "order", "product"):
        lines = [line for line in cluster.log_lines(service) if line.get("traceId") == trace_id]
        assert lines, f"no log line of {service} carries the checkout's traceId {trace_id}"


def test_out_of_stock_cancels_with_everything_returned(cluster: Any, shop: Any) -> None:
    client, admin = shop
    member = new_member(client)
    product_id = create_product(client, admin, quantity=1)
    add_to_cart_when_known(client, member, product_id)
    charge(client, member, 50_000)
    placed = place_order(client, member, product_id, 3)
    assert placed.status_code == 202, placed.text
    order = wait_final(client, member, placed.json()["orderId"])
    assert (order["status"], order["cancelReason"]) == ("CANCELLED", "OUT_OF_STOCK")
    assert balance(client, member) == 50_000
    assert stock(client, product_id) == 1


def test_orders_complete_after_the_product_service_comes_back(cluster: Any, shop: Any) -> None:
    client, admin = shop
    member = new_member(client)
    product_id = create_product(client, admin, quantity=10)
    add_to_cart_when_known(client, member, product_id)
    charge(client, member, 100_000)

    cluster.stop("product")
    order_ids = []
    for _ in range(3):
        placed = place_order(client, member, product_id, 1)
        assert placed.status_code == 202, placed.text
        order_ids.append(placed.json()["orderId"])
    time.sleep(2)
    assert all(order_status(client, member, oid)["status"] == "PENDING" for oid in order_ids)

    cluster.start("product")
    for oid in order_ids:
        assert wait_final(client, member, oid, timeout=40)["status"] == "CONFIRMED"
    assert stock(client, product_id) == 7
    assert balance(client, member) == 70_000


def test_nothing_is_lost_while_the_broker_is_down(cluster: Any, shop: Any) -> None:
    client, admin = shop
    member = new_member(client)
    product_id = create_product(client, admin, quantity=10)
    add_to_cart_when_known(client, member, product_id)
    charge(client, member, 100_000)

    cluster.nats.stop()
    order_ids = []
    for _ in range(3):
        placed = place_order(client, member, product_id, 2)
        assert placed.status_code == 202, placed.text
        order_ids.append(placed.json()["orderId"])
    time.sleep(3)
    cluster.nats.start()
    for oid in order_ids:
        assert wait_final(client, member, oid, timeout=60)["status"] == "CONFIRMED"
    assert stock(client, product_id) == 4
    assert balance(client, member) == 40_000


def test_a_product_just_created_can_be_ordered_at_once(cluster: Any, shop: Any) -> None:
    """No waiting for the ProductChanged event: a miss in order-service's copy reads through to product-service."""
    client, admin = shop
    member = new_member(client)
    charge(client, member, 100_000)
    for _ in range(3):  # each product ordered the instant its creation is answered
        product_id = create_product(client, admin, quantity=5)
        placed = place_order(client, member, product_id, 1)
        assert placed.status_code == 202, placed.text
        assert wait_final(client, member, placed.json()["orderId"])["status"] == "CONFIRMED"
    added = api(client, "POST", "/api/order-service/cart/items", member,
                json={"productId": create_product(client, admin, quantity=5), "quantity": 2})
    assert added.status_code == 201, added.text
    missing = place_order(client, member, 987_654_321, 1)
    assert missing.status_code == 404 and missing.json()["code"] == "PRODUCT_NOT_FOUND"


def test_a_product_created_while_the_broker_is_down_can_be_ordered(cluster: Any, shop: Any) -> None:
    client, admin = shop
    member = new_member(client)
    charge(client, member, 100_000)
    cluster.nats.stop()
    try:
        product_id = create_product(client, admin, quantity=5)  # its ProductChanged waits in the outbox
        placed = place_order(client, member, product_id, 2)
        assert placed.status_code == 202, placed.text
        assert placed.json()["payAmount"] == 20_000
    finally:
        cluster.nats.start()
    assert wait_final(client, member, placed.json()["orderId"], timeout=60)["status"] == "CONFIRMED"
    assert stock(client, product_id) == 3
