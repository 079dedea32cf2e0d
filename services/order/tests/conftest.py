"""Fixtures of the order service's tests: the app on a real database with an in-memory bus, and helpers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from gluta_contracts import IntegrationEvent, MemberRegistered, ProductChanged, StockRejected, StockReserved
from gluta_contracts.events import OrderLine, ShortLine
from gluta_kit.http import Instances, ServiceClient
from gluta_kit.models import OutboxMessage
from gluta_kit.testing import TestKeys, make_settings, running, server_url, temp_database
from gluta_order.app import create_app
from gluta_order.bootstrap import OrderContext
from gluta_order.settings import OrderSettings
from gluta_order.snapshot.reader import ProductReader
from gluta_order.wallet.models import CHARGE, PAYMENT, REFUND, LedgerEntry, Wallet

RECEIVER = {"name": "Kim Gluta", "phoneNumber": "010-1234-5678", "postNumber": "06236",
            "address": "Seoul, Gangnam-gu, Teheran-ro 1", "addressDetail": "101"}


class CatalogStandIn:
    """A stand-in of the product service's `GET /products/{id}` (the order service's read-through asks it).

    It knows what the test put in it; `calls` counts the questions; `answer_status` forces another answer.
    """

    def __init__(self) -> None:
        self.products: dict[int, dict[str, Any]] = {}
        self.calls: list[int] = []
        self.answer_status: int | None = None
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def detail(request: Request) -> JSONResponse:
            product_id = int(request.path_params["product_id"])
            self.calls.append(product_id)
            if self.answer_status is not None:
                return JSONResponse({"code": "BROKEN"}, status_code=self.answer_status)
            product = self.products.get(product_id)
            if product is None:
                return JSONResponse({"status": 404, "code": "PRODUCT_NOT_FOUND", "title": "No such product"},
                                    status_code=404, media_type="application/problem+json")
            return JSONResponse(product)

        self.app = Starlette(routes=[Route("/products/{product_id:int}", detail)])

    def put(self, product_id: int, *, name: str, unit_price: int, quantity: int,
            thumbnail_url: str | None = None) -> None:
        """Let the stand-in answer this product (a ProductDetail's fields the order service reads)."""
        self.products[product_id] = {"productId": product_id, "name": name, "unitPrice": unit_price,
                                     "quantity": quantity, "thumbnailUrl": thumbnail_url, "soldOut": quantity <= 0}

    def reader(self) -> ProductReader:
        """A reader whose kit client (instances, retries, breaker) talks to this stand-in in process."""
        import httpx

        client = ServiceClient("product", Instances(None, {"product": ["http://product.test"]}), timeout=2.0,
                               retries=1, client=httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app)))
        return ProductReader(lambda: client)


class OrderEnv:
    """A running order service and the moves tests make against it."""

    def __init__(self, client: Any, app: Any, keys: TestKeys, catalog: CatalogStandIn | None = None) -> None:
        self.client = client
        self.app = app
        self.keys = keys
        self.catalog = catalog or CatalogStandIn()
        self.ctx: OrderContext = app.state.order
        self.service = self.ctx.service
        self.bus = self.service.bus
        self.db = self.ctx.db

    # --- callers --------------------------------------------------------------------------------
    def member(self, member_id: int) -> dict[str, str]:
        return self.keys.bearer(member_id, "member")

    def admin(self, admin_id: int = 1) -> dict[str, str]:
        return self.keys.bearer(admin_id, "admin")

    # --- the other services, through the bus ----------------------------------------------------
    async def publish(self, event: IntegrationEvent) -> None:
        await self.bus.publish_event(event)

    async def product(self, product_id: int, unit_price: int = 10_000, quantity: int = 100, *, on_sale: bool = True,
                      name: str | None = None, occurred_at: datetime | None = None) -> None:
        extra = {"occurred_at": occurred_at} if occurred_at else {}
        if on_sale:  # the product service itself knows what its events said
            self.catalog.put(product_id, name=name or f"product {product_id}", unit_price=unit_price,
                             quantity=quantity, thumbnail_url=f"/images/{product_id}")
        else:
            self.catalog.products.pop(product_id, None)
        await self.publish(ProductChanged(product_id=product_id, name=name or f"product {product_id}",
                                          unit_price=unit_price, thumbnail_url=f"/images/{product_id}",
                                          on_sale=on_sale, quantity=quantity, **extra))

    async def registered(self, member_id: int, login_id: str | None = None, name: str | None = None) -> None:
        await self.publish(MemberRegistered(member_id=member_id, login_id=login_id or f"member{member_id}",
                                            member_name=name or f"Member {member_id}",
                                            email=f"m{member_id}@gluta.test"))

    async def stock_reserved(self, order_id: int, **kwargs: Any) -> StockReserved:
        event = StockReserved(order_id=order_id, lines=[OrderLine(product_id=1, quantity=1)], **kwargs)
        await self.publish(event)
        return event

    async def stock_rejected(self, order_id: int, **kwargs: Any) -> StockRejected:
        event = StockRejected(order_id=order_id,
                              short_lines=[ShortLine(product_id=1, requested=1, available=0)], **kwargs)
        await self.publish(event)
        return event

    # --- the API ----------------------------------------------------------------------------------
    async def charge(self, member_id: int, amount: int, **body: Any) -> Any:
        response = await self.client.post("/wallet/charge", json={"amount": amount, **body},
                                          headers={**self.member(member_id), "Idempotency-Key": uuid.uuid4().hex})
        assert response.status_code == 200, response.text
        return response.json()

    async def balance(self, member_id: int) -> int:
        response = await self.client.get("/wallet", headers=self.member(member_id))
        assert response.status_code == 200, response.text
        return int(response.json()["balance"])

    async def place(self, member_id: int, items: list[dict[str, Any]] | None = None, *, key: str | None = None,
                    **body: Any) -> Any:
        payload: dict[str, Any] = {"receiver": RECEIVER, **body}
        if items is not None:
            payload["items"] = items
        return await self.client.post("/orders", json=payload,
                                      headers={**self.member(member_id), "Idempotency-Key": key or uuid.uuid4().hex})

    async def order(self, member_id: int, order_id: int) -> dict[str, Any]:
        response = await self.client.get(f"/orders/{order_id}", headers=self.member(member_id))
        assert response.status_code == 200, response.text
        return response.json()  # type: ignore[no-any-return]

    async def create_coupon(self, **body: Any) -> int:
        payload = {"name": "coupon", "discountType": "FIXED", "discountValue": 1_000, **body}
        response = await self.client.post("/coupons", json=payload, headers=self.admin())
        assert response.status_code == 201, response.text
        return int(response.json()["couponId"])

    async def claim(self, coupon_id: int, member_id: int) -> Any:
        return await self.client.post(f"/coupons/{coupon_id}/issue", headers=self.member(member_id))

    async def member_coupon_id(self, member_id: int, coupon_id: int) -> int:
        response = await self.client.get("/members/me/coupons", headers=self.member(member_id))
        held = [c for c in response.json() if c["couponId"] == coupon_id]
        assert held, f"member {member_id} holds no coupon {coupon_id}"
        return int(held[0]["memberCouponId"])

    async def give_coupon(self, member_id: int, **body: Any) -> int:
        coupon_id = await self.create_coupon(**body)
        assert (await self.claim(coupon_id, member_id)).status_code == 201
        return await self.member_coupon_id(member_id, coupon_id)

    # --- looking inside -----------------------------------------------------------------------------
    async def outbox(self, event_type: type[IntegrationEvent]) -> list[dict[str, Any]]:
        async with self.db.read_sessions() as session:
            rows = (await session.scalars(select(OutboxMessage.payload).where(OutboxMessage.topic == event_type.topic)
                                          .order_by(OutboxMessage.id))).all()
        return [orjson.loads(r) for r in rows]

    async def ledger_consistent(self, member_id: int) -> int:
        """Assert that the ledger explains the balance; return the balance."""
        async with self.db.read_sessions() as session:
            balance = int(await session.scalar(select(Wallet.balance).where(Wallet.member_id == member_id)) or 0)
            rows = (await session.execute(select(LedgerEntry.type, func.sum(LedgerEntry.amount))
                                          .where(LedgerEntry.member_id == member_id)
                                          .group_by(LedgerEntry.type))).all()
            last = await session.scalar(select(LedgerEntry.balance_after).where(LedgerEntry.member_id == member_id)
                                        .order_by(LedgerEntry.id.desc()).limit(1))
        sums = {t: int(s) for t, s in rows}
        assert balance >= 0
        assert sums.get(CHARGE, 0) + sums.get(REFUND, 0) - sums.get(PAYMENT, 0) == balance
        assert last is None or last == balance
        return balance


AppFactory = Callable[..., AbstractAsyncContextManager[OrderEnv]]


@pytest.fixture
def keys() -> TestKeys:
    return TestKeys()


@pytest.fixture
def order_app(tmp_path: Path, keys: TestKeys) -> AppFactory:
    """Return a factory: `async with order_app(**settings) as env:` runs the service (SQLite unless
    `database_url` is given) with an in-memory bus."""

    @asynccontextmanager
    async def start(prepare: Callable[[Any], None] | None = None, catalog: bool = True,
                    **overrides: Any) -> AsyncIterator[OrderEnv]:
        """`catalog=False` leaves the product service's reads to the settings (`static_instances`...)."""
        settings = make_settings(OrderSettings, tmp_path, **{"sweeper_interval_seconds": 3600, **overrides})
        app = create_app(settings)
        stand_in = CatalogStandIn()
        if catalog:
            app.state.order.products = stand_in.reader()
        if prepare is not None:
            prepare(app)  # e.g. subscribe a stand-in of the product service before the bus starts
        async with running(app, keys=keys) as client:
            yield OrderEnv(client, app, keys, stand_in)

    return start


@pytest.fixture
async def env(order_app: AppFactory) -> AsyncIterator[OrderEnv]:
    async with order_app() as running_env:
        yield running_env


def database_params() -> list[Any]:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("mysql", id="mariadb", marks=pytest.mark.connected),
        pytest.param("postgres", id="postgresql", marks=pytest.mark.connected),
    ]


@pytest.fixture(params=database_params())
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str | None]:
    """None for SQLite (the default file under tmp_path), else a fresh MariaDB/PostgreSQL database."""
    kind = request.param
    if kind == "sqlite":
        yield None
        return
    url = server_url(kind)
    if not url:
        pytest.skip(f"GLUTA_TEST_{kind.upper()}_URL is not set: no real {kind} server")
    async with temp_database(url) as fresh:
        yield fresh


@pytest.fixture
async def redis_prefix() -> AsyncIterator[tuple[str, str]]:
    """Yield (redis url, a unique key prefix); delete the prefix's keys after the test."""
    url = server_url("redis")
    if not url:
        pytest.skip("GLUTA_TEST_REDIS_URL is not set: no real Redis server")
    prefix = f"gluta-test:{uuid.uuid4().hex[:10]}:"
    yield url, prefix
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()
