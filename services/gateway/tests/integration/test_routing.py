"""Routing through discovery: prefix stripped, bodies and headers passed on, instances balanced and skipped."""

from __future__ import annotations

import hashlib
import os

import pytest
import structlog
from structlog.testing import capture_logs

from gluta_kit.tracing import current_ids

pytestmark = pytest.mark.asyncio(loop_scope="module")

API = "/api/product-service"


def _headers(record: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for name, value in record["headers"]:
        found.setdefault(name, []).append(value)
    return found


async def test_a_guest_route_reaches_the_service_with_the_prefix_stripped(shared, gateway) -> None:
    gw = await gateway()
    async with gw.client() as client:
        response = await client.get(f"{API}/types", params={"a": "1"})
    assert response.status_code == 200
    record = response.json()
    assert record["service"] == "product"
    assert record["path"] == "/types"
    assert record["query"] == "a=1"
    assert response.headers["x-trace-id"]
    assert response.headers["x-stand-in"] == "product"  # the service's own headers come back
    assert response.headers["set-cookie"].startswith("stand=in")
    assert len(response.headers.get_list("date")) == 1
    assert len(response.headers.get_list("x-trace-id")) == 1


async def test_status_and_raw_paths_pass_through(shared, gateway) -> None:
    gw = await gateway()
    token = shared.keys.bearer(1, "admin")
    async with gw.client() as client:
        created = await client.post(f"{API}/types", json={"type": "serum"}, params={"status": 201}, headers=token)
        styled = await client.delete(f"{API}/products/7/styles/%EB%B3%B4%EC%8A%B5", headers=token)
        search = await client.get(f"{API}/products/search?keyword=%ED%95%9C%EA%B8%80&sort=priceAsc")
    assert created.status_code == 201
    assert created.json()["method"] == "POST"
    assert created.json()["bodyBytes"] == len(b'{"type":"serum"}')
    assert styled.json()["path"] == "/products/7/styles/보습"
    assert styled.json()["rawPath"] == "/products/7/styles/%EB%B3%B4%EC%8A%B5"
    assert search.json()["query"] == "keyword=%ED%95%9C%EA%B8%80&sort=priceAsc"


async def test_forwarding_headers_are_set_and_hop_by_hop_ones_dropped(shared, gateway) -> None:
    gw = await gateway()
    async with gw.client() as client:
        response = await client.get(f"{API}/types", headers={
            "connection": "keep-alive, x-private", "x-private": "secret", "x-internal-token": "guess",
            "x-kept": "yes", "te": "trailers"})
    sent = _headers(response.json())
    assert sent["x-forwarded-for"] == ["127.0.0.1"]
    assert sent["x-forwarded-proto"] == ["http"]
    assert sent["x-forwarded-prefix"] == [API]
    assert sent["x-forwarded-host"] == [gw.url.removeprefix("http://")]
    assert sent["x-kept"] == ["yes"]
    for dropped in ("x-private", "x-internal-token", "te"):
        assert dropped not in sent
    assert sent["host"] != [gw.url.removeprefix("http://")]  # the service is asked under its own name


async def test_behind_a_trusted_proxy_the_client_is_the_forwarded_address(shared, gateway) -> None:
    gw = await gateway()  # 127.0.0.1 (the web front-ends) is a trusted proxy by default
    async with gw.client() as client:
        response = await client.get(f"{API}/types", headers={"x-forwarded-for": "203.0.113.9"})
    assert _headers(response.json())["x-forwarded-for"] == ["203.0.113.9"]


async def test_a_multipart_upload_streams_through_byte_for_byte(shared, gateway) -> None:
    gw = await gateway()
    payload = os.urandom(3 * 1024 * 1024)
    async with gw.client() as client:
        response = await client.post(f"{API}/images", files={"file": ("a.png", payload, "image/png")},
                                     headers=shared.keys.bearer(1, "admin"))
    assert response.status_code == 200
    request = response.request
    body = request.read()
    assert response.json()["bodyBytes"] == len(body)
    assert response.json()["bodySha256"] == hashlib.sha256(body).hexdigest()


async def test_an_unsized_body_streams_through_chunked(shared, gateway) -> None:
    gw = await gateway()
    chunks = [os.urandom(64 * 1024) for _ in range(8)]

    async def body():
        for chunk in chunks:
            yield chunk

    async with gw.client() as client:
        response = await client.post(f"{API}/images", content=body(),
                                     headers={**shared.keys.bearer(1, "admin"),
                                              "content-type": "multipart/form-data; boundary=x"})
    assert response.status_code == 200
    assert response.json()["bodySha256"] == hashlib.sha256(b"".join(chunks)).hexdigest()


async def test_a_large_answer_streams_back_whole(shared, gateway) -> None:
    gw = await gateway()
    size = 3 * 1024 * 1024 + 17
    async with gw.client() as client:
        response = await client.get(f"{API}/images/1", params={"size": size})
    assert response.status_code == 200
    assert len(response.content) == size
    assert response.headers["etag"] == '"big"'


async def test_an_answer_without_a_length_streams_back(shared, gateway) -> None:
    gw = await gateway()
    async with gw.client() as client:
        response = await client.get(f"{API}/images/1", params={"chunks": 2000})
    assert response.status_code == 200
    assert response.text == "".join(f"{n}," for n in range(2000))
    assert "content-length" not in response.headers


async def test_a_slow_service_answers_504(shared, gateway) -> None:
    gw = await gateway(upstream_timeout_seconds=0.2)
    async with gw.client() as client:
        slow = await client.get(f"{API}/types", params={"sleep": 1.0})
        fast = await client.get(f"{API}/types")
    assert slow.status_code == 504
    assert slow.json()["code"] == "UPSTREAM_TIMEOUT"
    assert fast.status_code == 200


async def test_the_service_sees_the_gateways_trace(shared, gateway) -> None:
    gw = await gateway()

    def with_trace(_: object, __: str, event: dict) -> dict:
        event["traceId"] = current_ids()[0]  # what the kit's log processor adds to every line
        return event

    async with gw.client() as client:
        with capture_logs(processors=[with_trace]) as logs:
            response = await client.get(f"{API}/types")
        given = "4bf92f3577b34da6a3ce929d0e0e4736"
        continued = await client.get(f"{API}/types", headers={"traceparent": f"00-{given}-00f067aa0ba902b7-01"})
    trace_id = response.headers["x-trace-id"]
    record = response.json()
    traceparent = _headers(record)["traceparent"][0]
    assert traceparent.split("-")[1] == trace_id  # what the gateway sent on
    assert record["traceId"] == trace_id  # what the service's logs carry
    logged = [e["traceId"] for e in logs if e["event"] == "http.request" and e.get("path") == f"{API}/types"]
    if not structlog.get_config()["cache_logger_on_first_use"]:  # else another test configured logging for good
        assert logged == [trace_id]  # what the gateway's access log carries
    assert continued.headers["x-trace-id"] == given  # a caller's trace is continued end to end
    assert continued.json()["traceId"] == given


async def test_every_answer_carries_a_trace_id(shared, gateway) -> None:
    gw = await gateway(rate_limit_guest_burst=3, rate_limit_guest_per_second=0.01)
    async with gw.client() as client:
        answers = [
            await client.get(f"{API}/types"),
            await client.get("/api/user-service/members/me"),
            await client.get(f"{API}/nowhere"),
            await client.get("/health"),
            await client.get(f"{API}/types"),  # the fourth guest request: 429
        ]
    assert [a.status_code for a in answers] == [200, 401, 404, 200, 429]
    assert all(len(a.headers["x-trace-id"]) == 32 for a in answers)
