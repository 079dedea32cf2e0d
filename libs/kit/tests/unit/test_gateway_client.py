"""The web front-ends' gateway client with several gateways: calls take turns, a refused connection moves on."""

from __future__ import annotations

import httpx
import pytest

from gluta_kit.web.gateway import GatewayClient, GatewayUnavailable


def recording_transport(down: set[str]) -> tuple[httpx.MockTransport, list[str]]:
    seen: list[str] = []

    def handle(request: httpx.Request) -> httpx.Response:
        host = f"{request.url.host}:{request.url.port}"
        if host in down:
            raise httpx.ConnectError("connection refused", request=request)
        seen.append(host)
        return httpx.Response(200, json={"host": host})

    return httpx.MockTransport(handle), seen


async def test_calls_take_turns_over_every_listed_gateway() -> None:
    transport, seen = recording_transport(down=set())
    client = GatewayClient("http://gw:8000, http://gw:8001/", transport=transport)
    for _ in range(4):
        await client.get(None, "/api/product-service/types", auth="none")
    await client.aclose()
    assert seen == ["gw:8000", "gw:8001", "gw:8000", "gw:8001"]


async def test_a_gateway_that_refuses_the_connection_is_skipped() -> None:
    transport, seen = recording_transport(down={"gw:8000"})
    client = GatewayClient("http://gw:8000,http://gw:8001", transport=transport)
    for _ in range(3):
        response = await client.call(None, "POST", "/api/user-service/members", json={}, auth="none")
        assert response.json() == {"host": "gw:8001"}
    await client.aclose()
    assert seen == ["gw:8001"] * 3


async def test_every_gateway_down_is_a_503_problem_not_a_crash() -> None:
    transport, _ = recording_transport(down={"gw:8000", "gw:8001"})
    client = GatewayClient("http://gw:8000,http://gw:8001", transport=transport)
    with pytest.raises(GatewayUnavailable) as caught:
        await client.get(None, "/api/product-service/types", auth="none")
    await client.aclose()
    assert caught.value.status == 503


def test_one_url_still_works_and_an_empty_one_is_refused() -> None:
    assert GatewayClient("http://127.0.0.1:8000/").base_urls == ["http://127.0.0.1:8000"]
    with pytest.raises(ValueError):
        GatewayClient(" , ")
