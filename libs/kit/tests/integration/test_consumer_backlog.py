"""What waits on the broker for a consumer (`gluta check`'s inbox line), on JetStream and on Kafka (Tansu)."""

import asyncio
import uuid

import pytest

from gluta_contracts import OrderLine, OrderPlaced
from gluta_kit.bus import Bus

pytestmark = pytest.mark.connected


async def waiting(bus: Bus) -> int:
    backlog = await bus.consumer_backlog()
    assert backlog is not None
    return sum(c["waiting"] + c["unacknowledged"] for c in backlog)


async def until(predicate, seconds: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not await predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("broker", ["nats", "kafka"])
async def test_messages_a_consumer_has_not_handled_are_counted_until_it_has(broker: str, request) -> None:
    url = request.getfixturevalue("nats_url" if broker == "nats" else "kafka_url")
    extra = {"kafka_session_timeout_ms": 6000} if broker == "kafka" else {}
    consumer = Bus(url, "product", namespace=f"t{uuid.uuid4().hex[:10]}", **extra)
    release = asyncio.Event()

    @consumer.on(OrderPlaced, "product-reserve-stock")
    async def stuck(event: OrderPlaced) -> None:
        await release.wait()  # a handler that does not finish: nothing is acknowledged or committed

    await consumer.start()
    try:
        assert await waiting(consumer) == 0
        for order_id in (1, 2, 3):
            await consumer.publish_event(OrderPlaced(order_id=order_id, member_id=7,
                                                     lines=[OrderLine(product_id=1, quantity=1)]))
        await until(lambda: _equals(consumer, 3))
        [only] = await consumer.consumer_backlog() or []
        assert (only["consumer"], only["topic"]) == ("product-reserve-stock", OrderPlaced.topic)
        assert only.get("lagOnly", False) is (broker == "kafka")  # Kafka keeps no time of the last commit
        release.set()
        await until(lambda: _equals(consumer, 0))
    finally:
        release.set()
        await consumer.stop()


async def _equals(bus: Bus, expected: int) -> bool:
    return await waiting(bus) == expected
