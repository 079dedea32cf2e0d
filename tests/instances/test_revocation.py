"""Ending tokens early, seen by every instance: the real user service, two gateways and two order-service
instances on one real bus. A logout, a reused refresh token and a withdrawal make the tokens they end
refused by every gateway and every service instance within seconds (not after their 15 minutes); an
instance started afterwards refuses them from its start; one that missed the broadcast catches up."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from gluta_gateway.app import create_app as create_gateway
from gluta_gateway.settings import GatewaySettings
from gluta_kit.testing import free_port, kafka_for_tests, make_settings, server_url, serving
from gluta_order.app import MIGRATIONS as ORDER_MIGRATIONS
from gluta_order.app import create_app as create_order
from gluta_order.settings import OrderSettings
from gluta_user.app import create_app as create_user
from gluta_user.settings import UserSettings

pytestmark = pytest.mark.connected

SECONDS = 5.0  # "within seconds", with room for a busy machine
PASSWORD = "secret123"


@pytest.fixture(params=["nats", "kafka"])
def bus_url(request: pytest.FixtureRequest) -> Iterator[str]:
    if request.param == "nats":
        url = server_url("nats")
        if not url:
            pytest.skip("GLUTA_TEST_NATS_URL is not set: no real NATS server")
        yield url
        return
    with kafka_for_tests() as url:
        yield url


class Mall:
    """The processes of one test, on free ports of 127.0.0.1, stopped when it ends."""

    def __init__(self, tmp_path: Path, bus_url: str) -> None:
        self.tmp_path = tmp_path
        self.common = {"bus_url": bus_url, "bus_namespace": f"t{uuid.uuid4().hex[:10]}",
                       "kafka_session_timeout_ms": 6000, "revocation_sync_seconds": 600}
        self.stack = AsyncExitStack()
        self.user = ""
        self.orders: list[str] = []
        self.gateways: list[str] = []
        self.http = httpx.AsyncClient(timeout=10.0)
        self._migrating = asyncio.Lock()

    async def start_user(self) -> None:
        settings = make_settings(UserSettings, self.tmp_path / "user", **self.common, argon2_time_cost=1,
                                 argon2_memory_kib=64, key_encryption_secret="test-key-secret")
        self.user = await self.stack.enter_async_context(serving(create_user(settings)))

    def _reaching_user(self) -> dict[str, Any]:
        return {"jwks_url": f"{self.user}/.well-known/jwks.json", "static_instances": {"user": [self.user]}}

    async def start_order(self, name: str, port: int, **overrides: Any) -> str:
        settings = make_settings(OrderSettings, self.tmp_path / name, **{**self.common, **self._reaching_user(),
                                                                         **overrides})
        app = create_order(settings)
        async with self._migrating:  # two in-process Alembic runs at once trip over its module-level context
            await app.state.service.db.migrate(ORDER_MIGRATIONS)
        app.state.service.migrations = None
        return await self.stack.enter_async_context(serving(app, port=port))

    async def start_gateway(self, name: str, orders: list[str]) -> str:
        reaching = self._reaching_user()
        reaching["static_instances"] = {"user": [self.user], "order": orders, "product": []}
        settings = make_settings(GatewaySettings, self.tmp_path / name, **self.common, **reaching)
        return await self.stack.enter_async_context(serving(create_gateway(settings)))

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.stack.aclose()

    # --- what a member does ---------------------------------------------------------------------
    async def sign_up(self, login_id: str) -> None:
        response = await self.http.post(f"{self.user}/members", json={
            "loginId": login_id, "password": PASSWORD, "memberName": "Kim", "phoneNumber": "010-1234-5678",
            "email": f"{login_id}@example.com"})
        assert response.status_code == 201, response.text

    async def log_in(self, login_id: str) -> dict[str, Any]:
        response = await self.http.post(f"{self.user}/login", json={"loginId": login_id, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def doors(self, access: str, extra: list[str] = ()) -> list[int]:  # type: ignore[assignment]
        """The wallet through each gateway, and at each order instance directly: the status codes."""
        headers = {"Authorization": f"Bearer {access}"}
        urls = [f"{gw}/api/order-service/wallet" for gw in self.gateways]
        urls += [f"{order}/wallet" for order in [*self.orders, *extra]]
        answers = await asyncio.gather(*(self.http.get(url, headers=headers) for url in urls))
        return [a.status_code for a in answers]


@asynccontextmanager
async def mall(tmp_path: Path, bus_url: str) -> AsyncIterator[Mall]:
    system = Mall(tmp_path, bus_url)
    try:
        await system.start_user()
        ports = [free_port(), free_port()]
        system.orders = [f"http://127.0.0.1:{port}" for port in ports]
        await asyncio.gather(*(system.start_order(f"order{i}", port) for i, port in enumerate(ports)))
        system.gateways = list(await asyncio.gather(*(system.start_gateway(f"gw{i}", system.orders)
                                                     for i in range(2))))
        yield system
    finally:
        await system.aclose()


async def within(seconds: float, check: Callable[[], Awaitable[bool]]) -> float:
    """Poll `check` until it holds; return how long it took (fail after `seconds`)."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        await asyncio.sleep(0.1)
    return time.monotonic() - start


async def test_ended_tokens_are_refused_by_every_instance_within_seconds(tmp_path: Path, bus_url: str) -> None:
    async with mall(tmp_path, bus_url) as system:
        await system.sign_up("kim01")
        first, second = await system.log_in("kim01"), await system.log_in("kim01")  # two sessions (devices)
        assert await system.doors(first["accessToken"]) == [200] * 4

        # an instance cut off from the broadcasts (another namespace) that asks the user service every 0.5 s
        cut_off = await system.start_order("order-cut-off", free_port(), bus_namespace="elsewhere",
                                           revocation_sync_seconds=0.5)

        # logout ends the first session everywhere; the second one lives on
        response = await system.http.post(f"{system.user}/logout", json={"refreshToken": first["refreshToken"]},
                                          headers={"Authorization": f"Bearer {first['accessToken']}"})
        assert response.status_code == 204
        await within(SECONDS, lambda: _all(system.doors(first["accessToken"], [cut_off]), 401))
        assert await system.doors(second["accessToken"], [cut_off]) == [200] * 5

        # a refresh token used twice (stolen): the whole second session ends, its newest access token too
        renewed = (await system.http.post(f"{system.user}/token/refresh",
                                          json={"refreshToken": second["refreshToken"]})).json()
        assert await system.doors(renewed["accessToken"]) == [200] * 4
        reused = await system.http.post(f"{system.user}/token/refresh", json={"refreshToken": second["refreshToken"]})
        assert reused.status_code == 401
        for access in (second["accessToken"], renewed["accessToken"]):
            await within(SECONDS, lambda access=access: _all(system.doors(access), 401))

        # withdrawal ends every token of the member
        third = await system.log_in("kim01")
        assert await system.doors(third["accessToken"]) == [200] * 4
        response = await system.http.request("DELETE", f"{system.user}/members/me", json={"password": PASSWORD},
                                             headers={"Authorization": f"Bearer {third['accessToken']}"})
        assert response.status_code == 204
        await within(SECONDS, lambda: _all(system.doors(third["accessToken"]), 401))
        problem = (await system.http.get(f"{system.gateways[0]}/api/order-service/wallet",
                                         headers={"Authorization": f"Bearer {third['accessToken']}"})).json()
        assert problem["code"] == "INVALID_TOKEN"

        # an instance started now, long after the broadcasts, refuses them from its start (its own bus
        # namespace: on Kafka, joining the others' consumer groups would only add a rebalance to wait for)
        late = await system.start_order("order-late", free_port(), bus_namespace="late")
        assert await system.doors(third["accessToken"], [late]) == [401] * 5
        assert await system.doors(first["accessToken"], [late]) == [401] * 5


async def _all(codes: Awaitable[list[int]], status: int) -> bool:
    return set(await codes) == {status}
