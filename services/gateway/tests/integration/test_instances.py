"""Instances from discovery: round-robin, dead ones skipped, none at all."""

from __future__ import annotations

API = "/api/product-service"


async def test_requests_are_balanced_round_robin_across_instances(system, services) -> None:
    second = await system.stand_in("product")
    gateway = await system.gateway()
    async with gateway.client() as client:
        ports = [(await client.get(f"{API}/types")).json()["port"] for _ in range(6)]
    assert set(ports) == {services["product"].server.port, second.server.port}
    assert all(a != b for a, b in zip(ports, ports[1:], strict=False))  # they alternate


async def test_an_instance_that_refuses_connections_is_skipped(system, services) -> None:
    dead = f"http://127.0.0.1:{_closed_port()}"
    await system.register("product", dead)
    gateway = await system.gateway()
    async with gateway.client() as client:
        gets = [await client.get(f"{API}/types") for _ in range(4)]
        post = await client.post(f"{API}/types", json={"type": "x"}, headers=system.keys.bearer(1, "admin"))
    assert [r.status_code for r in gets] == [200, 200, 200, 200]
    assert post.status_code == 200  # refused connections sent nothing: safe to retry a POST elsewhere
    assert all(r.json()["port"] == services["product"].server.port for r in [*gets, post])


async def test_no_live_instance_answers_503(system) -> None:
    await system.stand_in("user")
    gateway = await system.gateway()
    async with gateway.client() as client:
        response = await client.get("/api/order-service/coupons")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"
    assert response.headers["x-trace-id"]


async def test_only_dead_instances_answer_503(system) -> None:
    await system.register("order", f"http://127.0.0.1:{_closed_port()}")
    gateway = await system.gateway()
    async with gateway.client() as client:
        response = await client.get("/api/order-service/coupons")
    assert response.status_code == 503
    assert response.json()["code"] == "SERVICE_UNAVAILABLE"


def _closed_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])



async def test_without_the_signing_keys_member_routes_answer_503_and_guest_routes_still_work(system) -> None:
    await system.stand_in("product")  # the user service (the JWKS) is down
    gw = await system.gateway()
    token = system.keys.bearer(3)
    async with gw.client() as client:
        member_route = await client.get(f"{API}/members/me/likes", headers=token)
        guest_route = await client.get(f"{API}/products/1", headers=token)
    assert member_route.status_code == 503
    assert member_route.json()["code"] == "SERVICE_UNAVAILABLE"
    assert guest_route.status_code == 200
