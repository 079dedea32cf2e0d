"""`gluta dlq list` and `gluta dlq redrive` on a service whose bus is Kafka (a real Tansu broker): dead letters
live in the service's database whatever the broker, so the commands work the same."""

from __future__ import annotations

import asyncio
import io
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from gluta_cli import dlq, paths
from gluta_contracts import OrderLine, OrderPlaced
from gluta_kit.bus import Bus
from gluta_kit.service import Service
from gluta_kit.settings import ServiceSettings
from gluta_kit.testing import kafka_for_tests, make_settings, serving

pytestmark = pytest.mark.connected

EMPTY_MIGRATIONS = Path(__file__).resolve().parents[3] / "libs/kit/tests/integration/empty_migrations"


class OrderSettings(ServiceSettings):
    service_name: ClassVar[str] = "order"


@pytest.fixture(scope="module")
def kafka_url() -> Iterator[str]:
    with kafka_for_tests() as url:
        yield url


async def test_dlq_list_and_redrive_on_kafka(kafka_url: str, tmp_path: Path) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(OrderSettings, tmp_path, bus_url=kafka_url, bus_namespace=namespace,
                             consumer_max_attempts=2, kafka_session_timeout_ms=6000)
    service = Service(settings, migrations=EMPTY_MIGRATIONS)
    assert service.bus is not None
    service.bus.retry_base_delay = 0.01
    broken = {"on": True}
    confirmed: list[int] = []

    @service.bus.on(OrderPlaced, "order-confirm")
    async def confirm(event: OrderPlaced) -> None:
        if broken["on"]:
            raise RuntimeError("payment provider unreachable")
        confirmed.append(event.order_id)

    publisher = Bus(kafka_url, "product", namespace=namespace)
    async with serving(service.create_app()) as url:
        paths.write_processes(tmp_path, [paths.ProcessRecord(name="order", instance=0, pid=os.getpid(),
                                                             port=int(url.rsplit(":", 1)[1]), url=url, log="")])
        await publisher.start()
        try:
            await publisher.publish_event(OrderPlaced(order_id=41, member_id=7,
                                                      lines=[OrderLine(product_id=1, quantity=1)]))
            rows: list[dict[str, object]] = []
            for _ in range(300):
                out = io.StringIO()
                assert await asyncio.to_thread(dlq.run_dlq_list, tmp_path, "order", True, out) == 0
                rows = json.loads(out.getvalue())
                if rows:
                    break
                await asyncio.sleep(0.1)
            assert len(rows) == 1
            assert rows[0]["topic"] == OrderPlaced.topic and rows[0]["consumer"] == "order-confirm"
            assert "payment provider unreachable" in str(rows[0]["error"])

            out = io.StringIO()  # still broken: the redrive says so and the letter stays
            assert await asyncio.to_thread(dlq.run_dlq_redrive, tmp_path, str(rows[0]["id"]), "order", out) == 1
            broken["on"] = False
            assert await asyncio.to_thread(dlq.run_dlq_redrive, tmp_path, str(rows[0]["id"]), "order", out) == 0
            assert confirmed == [41]
            out = io.StringIO()
            assert await asyncio.to_thread(dlq.run_dlq_list, tmp_path, "order", False, out) == 0
            assert "no dead letters" in out.getvalue()
        finally:
            await publisher.stop()
