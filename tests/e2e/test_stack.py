"""The shop through the public API on each stack (local, production): what it runs on, a first-come coupon
burst through every gateway, the checkout saga's outcomes, and the admin dashboard's numbers.

The same tests run on `local` (NATS, SQLite, one instance each) and `production` (MariaDB with a database
and a user per service, Redis, Kafka protocol through Tansu, two instances of gateway, product and order);
`make e2e-production` runs the production one alone.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]  # the first test also waits for its stack to start

RECEIVER = {"name": "김지수", "phoneNumber": "010-1234-5678", "postNumber": "04524", "address": "서울시 중구",
            "addressDetail": "1층"}
BURST_MEMBERS = 100  # each asks twice at once, through both gateways
BURST_COPIES = 30
SIGNUPS_AT_ONCE = 8  # sign-up and login hash passwords (Argon2id, 19 MiB each): the user service queues them


def accounts(system: dict[str, Any]) -> dict[str, dict[str, str]]:
    """The demo accounts `gluta up` created, by role."""
    listed = json.loads((Path(system["data_dir"]) / "demo-accounts.json").read_text(encoding="utf-8"))
    return {a["role"]: a for a in listed}


class Api:
    """One caller of the public API, through one gateway (or taking the gateways in turn)."""

    def __init__(self, gateways: list[str], token: str | None = None) -> None:
        self.gateways = gateways
        self.turn = 0
        # idle connections are dropped before the servers' own 5 s keep-alive ends: never reuse one being closed
        self.http = httpx.AsyncClient(timeout=30, trust_env=False, limits=httpx.Limits(keepalive_expiry=2))
        self.token = token

    async def call(self, method: str, path: str, gateway: int | None = None, keyed: bool = True,
                   **kwargs: Any) -> httpx.Response:
        if gateway is None:
            gateway, self.turn = self.turn, self.turn + 1
        headers = dict(kwargs.pop("headers", {}))
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if method == "POST" and keyed:
            headers.setdefault("Idempotency-Key", uuid.uuid4().hex)
        base = self.gateways[gateway % len(self.gateways)]
        return await self.http.request(method, base + path, headers=headers, **kwargs)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response.json() if response.content else None

    async def login(self, path: str, login_id: str, password: str) -> Api:
        tokens = await self.ok("POST", f"/api/user-service/{path}", json={"loginId": login_id, "password": password})
        self.token = tokens["accessToken"]
        return self

    async def aclose(self) -> None:
        await self.http.aclose()


async def new_member(gateways: list[str], index: int = 0) -> Api:
    """Sign up a new member (through gateway `index`) and return it logged in."""
    api = Api(gateways)
    api.turn = index
    login_id = f"s{uuid.uuid4().hex[:12]}"
    await api.ok("POST", "/api/user-service/members", json={
        "loginId": login_id, "password": "secret-pass-1", "memberName": "김지수", "phoneNumber": "010-1234-5678",
        "email": f"{login_id}@example.com"})
    return await api.login("login", login_id, "secret-pass-1")


async def admin(system: dict[str, Any]) -> Api:
    account = accounts(system)["admin"]
    return await Api(system["gateways"]).login("admin/login", account["loginId"], account["password"])


async def wait_for(check: Any, patience: float = 40.0) -> Any:
    """Await `check()` until it returns something true (a saga ends within seconds; this is the test's patience)."""
    deadline = asyncio.get_running_loop().time() + patience
    while True:
        value = await check()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.3)


async def new_product(operator: Api, quantity: int, price: int = 10_000) -> int:
    types = await operator.ok("GET", "/api/product-service/types")
    product = await operator.ok("POST", "/api/product-service/products", json={
        "name": f"스택 점검 니트 {uuid.uuid4().hex[:4]}", "description": "e2e", "content": "<p>e2e</p>",
        "productTypeId": types[0]["productTypeId"], "productStyles": ["캐주얼"], "unitPrice": price,
        "quantity": quantity, "imageIds": []})
    return int(product["productId"])


async def known_to_orders(member: Api, product_id: int) -> None:
    """Wait until the order service learnt the product (ProductChanged over the bus)."""
    async def known() -> bool:
        response = await member.call("POST", "/api/order-service/cart/items", json={"productId": product_id,
                                                                                    "quantity": 1})
        return response.status_code == 201
    await wait_for(known)


async def place(member: Api, product_id: int, quantity: int, coupon: int | None = None) -> httpx.Response:
    item: dict[str, Any] = {"productId": product_id, "quantity": quantity}
    if coupon is not None:
        item["memberCouponId"] = coupon
    return await member.call("POST", "/api/order-service/orders", json={"items": [item], "receiver": RECEIVER})


async def final(member: Api, order_id: int) -> dict[str, Any]:
    async def done() -> dict[str, Any] | None:
        order = await member.ok("GET", f"/api/order-service/orders/{order_id}")
        return None if order["status"] == "PENDING" else order
    return await wait_for(done)


async def stock(api: Api, product_id: int) -> int:
    return int((await api.ok("GET", f"/api/product-service/products/{product_id}"))["quantity"])


async def balance(member: Api) -> int:
    return int((await member.ok("GET", "/api/order-service/wallet"))["balance"])


def served(system: dict[str, Any], label: str, needle: str) -> int:
    """How many requests whose path contains `needle` one process logged (`order`, `order-1`, ...)."""
    path = Path(system["data_dir"]) / "log" / f"{label}.log"
    count = 0
    for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
        if needle in line and '"http.request"' in line:
            count += 1
    return count


def test_the_stack_runs_on_what_it_says(system: dict[str, Any]) -> None:
    if not system["processes"]:
        pytest.skip("a system given by URLs: its processes are not known here")
    instances = Counter(r["name"] for r in system["processes"])
    summary = system["summary"]
    if system["stack"] == "local":
        assert all(count == 1 for count in instances.values()), instances
        assert summary["bus"].startswith("NATS") and "SQLite" in summary["database"]
        assert sorted(p.name for p in (Path(system["data_dir"]) / "db").glob("*.db")) == [
            "admin.db", "order.db", "product.db", "storefront.db", "user.db"]
        return
    assert {name: instances[name] for name in ("gateway", "product", "order")} == {
        "gateway": 2, "product": 2, "order": 2}
    assert all(instances[name] == 1 for name in ("discovery", "config", "user", "storefront", "admin"))
    assert summary["bus"].startswith("Kafka protocol") and "Tansu" in summary["bus"]
    assert summary["database"].startswith(("MariaDB", "MySQL")) and "one database and one user per service" in \
        summary["database"]
    assert summary["cache"].startswith("Redis")
    assert not (Path(system["data_dir"]) / "db").exists(), "no SQLite file in production"


async def test_first_come_coupon_burst_through_every_gateway(system: dict[str, Any]) -> None:
    gateways = system["gateways"]
    operator = await admin(system)
    coupon = await operator.ok("POST", "/api/order-service/coupons", json={
        "name": f"선착순 {uuid.uuid4().hex[:4]}", "description": "e2e burst", "discountType": "FIXED",
        "discountValue": 1000, "quantity": BURST_COPIES})
    coupon_id = coupon["couponId"]
    gate = asyncio.Semaphore(SIGNUPS_AT_ONCE)

    async def signed_up(index: int) -> Api:
        async with gate:
            return await new_member(gateways, index)

    members = await asyncio.gather(*(signed_up(i) for i in range(BURST_MEMBERS)))
    try:
        async def claim(index: int, member: Api, gateway: int) -> tuple[int, int]:
            # no Idempotency-Key: with one, a member who holds the coupon is answered 201 as a retry would be
            response = await member.call("POST", f"/api/order-service/coupons/{coupon_id}/issue", gateway=gateway,
                                         keyed=False)
            return index, response.status_code

        # every member asks twice at the same time, once through each gateway
        results = await asyncio.gather(*(claim(i, m, i + twice) for i, m in enumerate(members) for twice in (0, 1)))
        statuses = Counter(status for _, status in results)
        assert set(statuses) <= {201, 409, 410}, statuses  # issued, already issued, sold out: never a 5xx or 429
        winners = [i for i, status in results if status == 201]
        assert len(winners) == BURST_COPIES, statuses
        assert len(set(winners)) == BURST_COPIES, "a member got the coupon twice"

        # every winner's copy is stored by the time it is told ISSUED, on either stack (no waiting for an event)
        listed = {c["couponId"]: c for c in await operator.ok("GET", "/api/order-service/admin/coupons")}
        assert (listed[coupon_id]["issuedCount"], listed[coupon_id]["remaining"]) == (BURST_COPIES, 0)
        reads = asyncio.Semaphore(SIGNUPS_AT_ONCE)  # the check, not the burst: no need to crowd the database

        async def coupons_of(member: Api) -> Any:
            async with reads:
                return await member.ok("GET", "/api/order-service/members/me/coupons")

        held = await asyncio.gather(*(coupons_of(m) for m in members))
        for index, coupons in enumerate(held):
            mine = [c for c in coupons if c["couponId"] == coupon_id]
            assert len(mine) == (1 if index in winners else 0), (index, mine)
    finally:
        await asyncio.gather(*(m.aclose() for m in members))
        await operator.aclose()
    if len(gateways) > 1:  # the claims went through both gateways to both order instances
        path = f"/coupons/{coupon_id}/issue"
        for label in ("gateway", "gateway-1", "order", "order-1"):
            assert served(system, label, path) > 0, f"{label} served no claim"


async def test_checkout_saga_outcomes_and_the_dashboard(system: dict[str, Any]) -> None:
    gateways = system["gateways"]
    operator = await admin(system)
    member = await new_member(gateways)
    poor = await new_member(gateways, 1)
    try:
        product_id = await new_product(operator, quantity=5)
        coupon = await operator.ok("POST", "/api/order-service/coupons", json={
            "name": f"상품 쿠폰 {uuid.uuid4().hex[:4]}", "description": "e2e", "discountType": "FIXED",
            "discountValue": 1000, "productId": product_id})
        await member.ok("POST", f"/api/order-service/coupons/{coupon['couponId']}/issue")
        await member.ok("POST", "/api/order-service/wallet/charge", json={"amount": 100_000})
        await poor.ok("POST", "/api/order-service/wallet/charge", json={"amount": 5_000})
        await known_to_orders(member, product_id)
        sales_before = await operator.ok("GET", "/api/order-service/admin/dashboard/sales")

        # success: stock and pay money taken
        placed = await place(member, product_id, 2)
        assert placed.status_code == 202 and placed.json()["status"] == "PENDING", placed.text
        confirmed = await final(member, placed.json()["orderId"])
        assert confirmed["status"] == "CONFIRMED"
        assert await stock(member, product_id) == 3 and await balance(member) == 80_000

        # out of stock: cancelled, nothing kept
        placed = await place(member, product_id, 4)
        assert placed.status_code == 202, placed.text
        order = await final(member, placed.json()["orderId"])
        assert (order["status"], order["cancelReason"]) == ("CANCELLED", "OUT_OF_STOCK")
        assert await stock(member, product_id) == 3 and await balance(member) == 80_000

        # insufficient pay money: refused at once, nothing taken
        refused = await place(poor, product_id, 1)
        assert refused.status_code == 402 and refused.json()["code"] == "INSUFFICIENT_PAY_MONEY", refused.text
        assert await stock(poor, product_id) == 3 and await balance(poor) == 5_000

        # cancel by the member: stock, pay money and the coupon come back
        (held,) = [c for c in await member.ok("GET", "/api/order-service/members/me/coupons")
                   if c["couponId"] == coupon["couponId"]]
        placed = await place(member, product_id, 1, coupon=held["memberCouponId"])
        assert placed.status_code == 202, placed.text
        with_coupon = await final(member, placed.json()["orderId"])
        assert with_coupon["status"] == "CONFIRMED" and with_coupon["payAmount"] == 9_000
        assert await stock(member, product_id) == 2 and await balance(member) == 71_000
        cancelled = await member.call("POST", f"/api/order-service/orders/{with_coupon['orderId']}/cancel")
        assert cancelled.status_code == 202, cancelled.text

        async def returned() -> bool:
            order = await member.ok("GET", f"/api/order-service/orders/{with_coupon['orderId']}")
            coupons = await member.ok("GET", "/api/order-service/members/me/coupons")
            back = [c for c in coupons if c["memberCouponId"] == held["memberCouponId"] and not c["used"]]
            return (order["status"] == "CANCELLED" and await stock(member, product_id) == 3
                    and await balance(member) == 80_000 and bool(back))
        await wait_for(returned)

        # the dashboard counts the confirmed order, net of the cancelled one
        async def counted() -> dict[str, Any] | None:
            sales = await operator.ok("GET", "/api/order-service/admin/dashboard/sales")
            return sales if sales["totalRevenue"] - sales_before["totalRevenue"] == 20_000 else None
        sales = await wait_for(counted)
        assert sales["totalUnits"] - sales_before["totalUnits"] == 2
        best = await operator.ok("GET", "/api/order-service/admin/dashboard/best-products", params={"limit": 100})
        assert any(row["productId"] == product_id and row["units"] == 2 for row in best), best
        vip = await operator.ok("GET", "/api/order-service/admin/dashboard/vip", params={"limit": 100})
        assert any(row["totalPaid"] >= 20_000 for row in vip)
    finally:
        for api in (member, poor, operator):
            await api.aclose()
