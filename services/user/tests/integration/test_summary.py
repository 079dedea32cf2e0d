"""/members/me/summary composes order- and product-service answers; a service that is down is named, not fatal."""

import asyncio
import socket
import time
from contextlib import asynccontextmanager

import pytest
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens there any more


@asynccontextmanager
async def serving(app: FastAPI):
    """Serve an app on a free port of 127.0.0.1 with uvicorn; yield its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = server.force_exit = True  # do not wait for the slow stand-in's requests
        await task
        sock.close()


def order_stand_in(seen: list) -> FastAPI:
    """An order service that answers the member's wallet and orders, if the bearer token is forwarded."""
    app = FastAPI()

    @app.get("/wallet")
    async def wallet(request: Request):
        seen.append(("wallet", request.headers.get("authorization"), dict(request.query_params)))
        if not request.headers.get("authorization", "").startswith("Bearer "):
            return JSONResponse({"code": "UNAUTHORIZED"}, status_code=401)
        return {"balance": 12_300}

    @app.get("/orders")
    async def orders(request: Request):
        seen.append(("orders", request.headers.get("authorization"), dict(request.query_params)))
        items = [{"orderId": 7, "status": "CONFIRMED", "payAmount": 5_000}, {"orderId": 6, "status": "CANCELLED"}]
        return {"items": items, "page": 1, "size": 5, "total": 2}

    return app


def slow_stand_in(delay: float) -> FastAPI:
    app = FastAPI()

    @app.get("/{path:path}")
    async def anything(path: str):
        await asyncio.sleep(delay)
        return {"balance": 1, "items": []}

    return app


async def test_both_services_down_still_answers_with_both_named(start, signup, login, auth) -> None:
    instances = {"order": [closed_port_url()], "product": [closed_port_url()]}
    async with start(static_instances=instances) as (_, client):
        member = await signup(client, "alice")
        response = await client.get("/members/me/summary", headers=auth(await login(client, "alice")))
    assert response.status_code == 200
    summary = response.json()
    assert summary["member"] == member
    assert summary["payMoney"] == {"balance": None}
    assert (summary["recentOrders"], summary["recentLikes"]) == ([], [])
    assert sorted(summary["unavailable"]) == ["order", "product"]


async def test_no_known_instance_at_all_counts_as_down(client, signup, login, auth) -> None:
    await signup(client, "alice")
    response = await client.get("/members/me/summary", headers=auth(await login(client, "alice")))
    assert response.status_code == 200
    assert sorted(response.json()["unavailable"]) == ["order", "product"]


# the composition does not depend on the database: these two run on one dialect
@pytest.mark.dialects("sqlite")
async def test_a_live_order_service_is_composed_with_the_callers_token(start, signup, login, auth) -> None:
    seen: list = []
    async with serving(order_stand_in(seen)) as order_url:
        instances = {"order": [order_url], "product": [closed_port_url()]}
        async with start(static_instances=instances) as (_, client):
            await signup(client, "alice")
            tokens = await login(client, "alice")
            response = await client.get("/members/me/summary", headers=auth(tokens))
    assert response.status_code == 200
    summary = response.json()
    assert summary["payMoney"] == {"balance": 12_300}
    assert [order["orderId"] for order in summary["recentOrders"]] == [7, 6]
    assert summary["recentLikes"] == []
    assert summary["unavailable"] == ["product"]
    assert {(name, header) for name, header, _ in seen} == {("wallet", f"Bearer {tokens['accessToken']}"),
                                                            ("orders", f"Bearer {tokens['accessToken']}")}
    [order_query] = [query for name, _, query in seen if name == "orders"]
    assert order_query == {"page": "1", "size": "5"}


@pytest.mark.dialects("sqlite")
async def test_slow_services_are_cut_short_and_asked_at_the_same_time(start, signup, login, auth) -> None:
    async with serving(slow_stand_in(3.0)) as slow_url:
        async with start(static_instances={"order": [slow_url], "product": [slow_url]},
                         summary_timeout_seconds=0.5) as (_, client):
            await signup(client, "alice")
            headers = auth(await login(client, "alice"))
            started = time.perf_counter()
            response = await client.get("/members/me/summary", headers=headers)
            elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert sorted(response.json()["unavailable"]) == ["order", "product"]
    # three calls of 0.5 s each one after the other would take 1.5 s
    assert elapsed < 1.3, elapsed


async def test_summary_needs_a_member(client) -> None:
    assert (await client.get("/members/me/summary")).status_code == 401
