"""Service clients: round-robin, a dead instance skipped, a circuit breaker that opens and recovers."""

import time

import httpx
import pytest

from gluta_kit.errors import ServiceUnavailable
from gluta_kit.http import CircuitBreaker, Instances, ServiceClient


def test_breaker_opens_after_threshold_and_half_opens() -> None:
    breaker = CircuitBreaker(threshold=3, reset_seconds=0.05)
    for _ in range(3):
        assert breaker.allow()
        breaker.failure()
    assert breaker.state == "open" and not breaker.allow()
    time.sleep(0.06)
    assert breaker.state == "half-open"
    assert breaker.allow() and not breaker.allow()  # one trial only
    breaker.success()
    assert breaker.state == "closed"


async def test_round_robin_over_static_instances() -> None:
    instances = Instances(None, {"product": ["http://a", "http://b", "http://c"]})
    firsts = [(await instances.ordered("product"))[0] for _ in range(6)]
    assert firsts == ["http://a", "http://b", "http://c"] * 2


async def test_idempotent_call_retries_on_another_instance() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.host)
        if request.url.host == "dead":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json={"host": request.url.host})

    transport = httpx.MockTransport(handler)
    instances = Instances(None, {"product": ["http://dead", "http://alive"]})
    client = ServiceClient("product", instances, client=httpx.AsyncClient(transport=transport))
    assert (await client.get_json("/x"))["host"] == "alive"
    # the dead one is now skipped first
    assert (await client.get_json("/x"))["host"] == "alive"
    assert seen == ["dead", "alive", "alive"]


async def test_non_idempotent_call_is_not_retried() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        raise httpx.ConnectError("refused", request=request)

    instances = Instances(None, {"order": ["http://a", "http://b"]})
    client = ServiceClient("order", instances, client=httpx.AsyncClient(transport=httpx.MockTransport(handler)))
    with pytest.raises(ServiceUnavailable):
        await client.request("POST", "/orders", json={})
    assert calls == 1


async def test_no_instance_is_service_unavailable_and_breaker_opens() -> None:
    client = ServiceClient("order", Instances(None, {"order": []}), breaker=CircuitBreaker(threshold=2))
    for _ in range(2):
        with pytest.raises(ServiceUnavailable):
            await client.request("GET", "/wallet")
    assert client.breaker.state == "open"
