"""The gateway's own routes: /health, /ready, /docs; and settings reloaded through the config refresh event."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import FastAPI

from gluta_contracts import ConfigRefreshed


async def _eventually(check) -> None:
    async with asyncio.timeout(5.0):
        for _ in range(1000):
            if await check():
                return
            await asyncio.sleep(0.05)


async def test_ready_names_the_services_without_a_live_instance(system) -> None:
    await system.stand_in("user")
    await system.stand_in("product")
    gw = await system.gateway()
    async with gw.client() as client:
        health = await client.get("/health")
        missing = await client.get("/ready")
        await system.stand_in("order")

        async def ready() -> bool:
            return (await client.get("/ready")).status_code == 200

        await _eventually(ready)
        complete = await client.get("/ready")
    assert health.status_code == 200
    assert missing.status_code == 503
    assert missing.json()["missing"] == ["order"]
    assert missing.json()["checks"]["user"] == "1 instance"
    assert complete.json() == {"status": "ok", "missing": [],
                               "checks": {"user": "1 instance", "product": "1 instance", "order": "1 instance"}}


async def test_docs_show_every_services_public_api(system, services) -> None:
    gw = await system.gateway()
    async with gw.client() as client:
        page = await client.get("/docs")
        product = await client.get("/docs/openapi/product.json")
        unknown = await client.get("/docs/openapi/nope.json")
        own = await client.get("/openapi.json")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for name in ("user", "product", "order"):
        assert f'id="{name}-service"' in html
        assert f'href="/docs/openapi/{name}.json"' in html
    assert "/api/product-service/types" in html
    assert "List the product types" in html  # the summary from the service's own document
    assert "/api/order-service/admin/dashboard/vip" in html  # every route of the table is listed
    assert "http" not in html.split("<body>")[0]  # no script or style loaded from elsewhere
    assert "<script" not in html
    doc = product.json()
    assert doc["servers"] == [{"url": "/api/product-service"}]
    assert doc["paths"]["/types"]["get"]["x-access"] == "guest"
    assert "/internal/stock/{product_id}" not in doc["paths"]
    assert unknown.status_code == 404
    assert own.status_code == 404  # the gateway documents the services, not itself


async def test_docs_of_a_service_that_is_down(system) -> None:
    await system.stand_in("user")
    gw = await system.gateway()
    async with gw.client() as client:
        page = await client.get("/docs")
        order = await client.get("/docs/openapi/order.json")
    assert page.status_code == 200
    assert "order-service" in page.text and "unavailable" in page.text
    assert "/api/order-service/cart" in page.text  # still listed from the gateway's table
    assert order.status_code == 503


async def test_rate_limits_change_when_the_configuration_is_refreshed(system, services) -> None:
    values: dict[str, Any] = {"version": "v1", "values": {}}
    config = FastAPI()

    @config.get("/config/{service}/{profile}")
    async def read(service: str, profile: str) -> dict[str, Any]:
        return {"service": service, "profile": profile, **values}

    config_url = await system.serve(config)
    gw = await system.gateway(bus=True)
    gw.settings.config_url = config_url  # read on refresh (at start the config service is not asked)
    async with gw.client() as client:
        before = [(await client.get("/api/product-service/types")).status_code for _ in range(3)]
        values.update(version="v2", values={"rate_limit_guest_per_second": 0.1, "rate_limit_guest_burst": 1})
        event = ConfigRefreshed(version="v2")
        await gw.service.bus.publish_broadcast(event.topic, event.to_json(), {"eventId": event.event_id})

        async def reloaded() -> bool:
            return gw.settings.config_version == "v2"

        await _eventually(reloaded)
        after = [await client.get("/api/product-service/types") for _ in range(2)]
    assert before == [200, 200, 200]
    assert gw.settings.rate_limit_guest_burst == 1
    assert [a.status_code for a in after] == [200, 429]
    assert after[1].headers["retry-after"] == "10"
