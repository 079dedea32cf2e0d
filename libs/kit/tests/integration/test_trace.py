"""One request that crosses HTTP and the bus keeps one traceId: in the response header, in the
consumer's context and in the log lines of both sides."""

import asyncio
import json
import uuid
from pathlib import Path
from typing import ClassVar

import httpx
from fastapi import APIRouter, Request

from gluta_contracts import OrderLine, OrderPlaced
from gluta_kit.logging import get_logger, setup_logging
from gluta_kit.service import Service
from gluta_kit.settings import ServiceSettings
from gluta_kit.testing import make_settings, serving
from gluta_kit.tracing import current_ids

MIGRATIONS = Path(__file__).parent / "empty_migrations"


class SenderSettings(ServiceSettings):
    service_name: ClassVar[str] = "order"


class ReceiverSettings(ServiceSettings):
    service_name: ClassVar[str] = "product"


async def test_trace_id_crosses_http_and_the_bus(tmp_path: Path, nats_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    setup_logging("kit-test", "INFO")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    sender = Service(make_settings(SenderSettings, tmp_path / "a", bus_url=nats_url, bus_namespace=namespace),
                     migrations=MIGRATIONS)
    receiver = Service(make_settings(ReceiverSettings, tmp_path / "b", bus_url=nats_url, bus_namespace=namespace),
                       migrations=MIGRATIONS)
    seen: dict[str, str | None] = {}
    router = APIRouter()

    @router.post("/orders")
    async def place(request: Request) -> dict[str, str | None]:
        async with sender.uow() as uow:
            uow.outbox.add(OrderPlaced(order_id=1, member_id=2, lines=[OrderLine(product_id=3, quantity=1)]))
            await uow.commit()
        get_logger("test").info("order.placed")
        return {"traceId": current_ids()[0]}

    @receiver.bus.on(OrderPlaced, "product-trace-test")
    async def on_placed(event: OrderPlaced) -> None:
        seen["traceId"] = current_ids()[0]
        seen["eventTraceparent"] = event.traceparent
        get_logger("test").info("stock.reserving")

    async with serving(sender.create_app([router])) as url, serving(receiver.create_app()):
        async with httpx.AsyncClient() as client:
            traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            response = await client.post(f"{url}/orders", headers={"traceparent": traceparent})
        for _ in range(200):
            if "traceId" in seen:
                break
            await asyncio.sleep(0.05)
    trace_id = "0af7651916cd43dd8448eb211c80319c"
    assert response.headers["x-trace-id"] == trace_id
    assert response.json()["traceId"] == trace_id
    assert seen["traceId"] == trace_id
    assert seen["eventTraceparent"] and trace_id in seen["eventTraceparent"]
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    events = {line["event"]: line.get("traceId") for line in lines}
    assert events["order.placed"] == trace_id
    assert events["stock.reserving"] == trace_id
