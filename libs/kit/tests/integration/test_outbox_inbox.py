"""The outbox publishes only after commit, survives broker outages and restarts; the inbox drops redeliveries;
failing handlers end in the dead-letter store and can be redriven. Run on every dialect and on real NATS."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from sqlalchemy import func, select

from gluta_contracts import OrderLine, OrderPlaced
from gluta_kit.bus import Bus
from gluta_kit.db import Database
from gluta_kit.deadletter import DeadLetters
from gluta_kit.models import InboxMessage, OutboxMessage
from gluta_kit.relay import OutboxRelay
from gluta_kit.testing import NatsProcess, temp_database
from gluta_kit.uow import UnitOfWork

EMPTY_MIGRATIONS = Path(__file__).parent / "empty_migrations"


@asynccontextmanager
async def database(db_server: str, tmp_path: Path) -> AsyncIterator[Database]:
    if db_server == "sqlite":
        db = Database(f"sqlite:///{tmp_path / 'kit.db'}")
        await db.migrate(EMPTY_MIGRATIONS)
        yield db
        await db.dispose()
        return
    async with temp_database(db_server) as url:
        db = Database(url)
        await db.migrate(EMPTY_MIGRATIONS)
        yield db
        await db.dispose()


def order(order_id: int) -> OrderPlaced:
    return OrderPlaced(order_id=order_id, member_id=7, lines=[OrderLine(product_id=1, quantity=2)])


async def wait_for(predicate, seconds: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + seconds
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_rollback_publishes_nothing_and_commit_publishes(db_server: str, tmp_path: Path, nats_url: str) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    received: list[int] = []
    consumer = Bus(nats_url, "consumer", namespace=namespace)

    @consumer.on(OrderPlaced, "consumer-test")
    async def on_placed(event: OrderPlaced) -> None:
        received.append(event.order_id)

    async with database(db_server, tmp_path) as db:
        producer = Bus(nats_url, "producer", namespace=namespace)
        await producer.start()
        await consumer.start()
        relay = OutboxRelay(db, producer, idle_seconds=0.2)
        relay.start()
        try:
            async with UnitOfWork(db) as uow:
                uow.outbox.add(order(1))
                # leaving without commit rolls back: the event must never be published
            async with UnitOfWork(db) as uow:
                uow.outbox.add(order(2))
                await uow.commit()
            await wait_for(lambda: received == [2])
            await asyncio.sleep(0.3)
            assert received == [2]
        finally:
            await relay.stop()
            await producer.stop()
            await consumer.stop()


async def test_inbox_makes_redelivery_change_nothing(db_server: str, tmp_path: Path) -> None:
    async with database(db_server, tmp_path) as db:
        event = order(5)
        applied = 0
        for _ in range(3):
            async with UnitOfWork(db) as uow:
                if await uow.claim_event(event.event_id, "product-reserve-stock"):
                    applied += 1
                await uow.commit()
        async with UnitOfWork(db) as uow:
            assert await uow.claim_event(event.event_id, "another-consumer")
            await uow.commit()
        assert applied == 1
        async with db.read_sessions() as session:
            assert await session.scalar(select(func.count()).select_from(InboxMessage)) == 2


async def test_idempotency_record_returns_the_first_answer(db_server: str, tmp_path: Path) -> None:
    async with database(db_server, tmp_path) as db:
        async with UnitOfWork(db) as uow:
            assert await uow.recall("checkout", 7, "key-1") is None
            uow.remember("checkout", 7, "key-1", {"orderId": 10})
            await uow.commit()
        async with UnitOfWork(db) as uow:
            assert await uow.recall("checkout", 7, "key-1") == {"orderId": 10}
            assert await uow.recall("checkout", 8, "key-1") is None


async def test_relay_survives_broker_outage_and_process_restart(tmp_path: Path) -> None:
    nats = NatsProcess(tmp_path / "nats")
    nats.start()
    namespace = f"t{uuid.uuid4().hex[:10]}"
    received: list[int] = []
    consumer = Bus(nats.url, "consumer", namespace=namespace)

    @consumer.on(OrderPlaced, "consumer-outage")
    async def on_placed(event: OrderPlaced) -> None:
        received.append(event.order_id)

    db = Database(f"sqlite:///{tmp_path / 'kit.db'}")
    await db.migrate(EMPTY_MIGRATIONS)
    producer = Bus(nats.url, "producer", namespace=namespace)
    try:
        await producer.start()
        await consumer.start()
        nats.stop()  # the broker goes away
        relay = OutboxRelay(db, producer, idle_seconds=0.1, max_backoff=0.5)
        relay.start()
        for order_id in (1, 2, 3):
            async with UnitOfWork(db) as uow:
                uow.outbox.add(order(order_id))
                await uow.commit()
        await asyncio.sleep(1.0)
        assert received == []
        async with db.read_sessions() as session:
            pending = await session.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None)))
        assert pending == 3
        await relay.stop()  # the process "restarts": a new relay picks up the rows left

        nats.start()  # the broker comes back on the same port with the same store
        relay = OutboxRelay(db, producer, idle_seconds=0.1, max_backoff=0.5)
        relay.start()
        await wait_for(lambda: sorted(received) == [1, 2, 3], seconds=20)
        await relay.stop()
        async with db.read_sessions() as session:
            pending = await session.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None)))
        assert pending == 0
        await asyncio.sleep(0.3)
        assert sorted(received) == [1, 2, 3]  # JetStream's Nats-Msg-Id dedupe drops relay retries
    finally:
        await producer.stop()
        await consumer.stop()
        await db.dispose()
        nats.stop()


async def test_failing_handler_goes_to_dead_letters_and_redrives(tmp_path: Path, nats_url: str) -> None:
    namespace = f"t{uuid.uuid4().hex[:10]}"
    db = Database(f"sqlite:///{tmp_path / 'kit.db'}")
    await db.migrate(EMPTY_MIGRATIONS)
    bus = Bus(nats_url, "svc", namespace=namespace, max_attempts=3, retry_base_delay=0.01)
    dead_letters = DeadLetters(db, bus)
    bus.dead_letters = dead_letters.store
    healthy = {"ok": False}
    handled: list[int] = []

    @bus.on(OrderPlaced, "svc-flaky")
    async def flaky(event: OrderPlaced) -> None:
        if not healthy["ok"] and event.order_id == 1:
            raise RuntimeError("poison")
        handled.append(event.order_id)

    await bus.start()
    try:
        await bus.publish_event(order(1))
        await bus.publish_event(order(2))  # the stream is not blocked by the poison message
        await wait_for(lambda: handled == [2])
        letters = []
        for _ in range(100):
            letters = await dead_letters.list()
            if letters:
                break
            await asyncio.sleep(0.05)
        assert len(letters) == 1
        assert "poison" in letters[0]["error"] and letters[0]["attempts"] == 3
        healthy["ok"] = True
        await dead_letters.redrive(letters[0]["id"])
        assert handled == [2, 1]
        assert await dead_letters.list() == []
    finally:
        await bus.stop()
        await db.dispose()


async def test_redis_streams_use_the_same_handlers() -> None:
    from gluta_kit.testing import server_url

    url = server_url("redis")
    if not url:
        pytest.skip("GLUTA_TEST_REDIS_URL is not set: no real Redis server")
    bus = Bus(url, "svc", namespace=f"t{uuid.uuid4().hex[:10]}")
    received: list[int] = []

    @bus.on(OrderPlaced, "svc-redis")
    async def on_placed(event: OrderPlaced) -> None:
        received.append(event.order_id)

    await bus.start()
    try:
        await bus.publish_event(order(4))
        await wait_for(lambda: received == [4])
    finally:
        await bus.stop()


async def test_relay_on_redis_streams_publishes_a_large_batch_at_once_and_in_order(tmp_path: Path) -> None:
    """More publishes than redis-py's connection pool holds, from one relay batch: none refused, each key in order."""
    from gluta_contracts import ProductChanged
    from gluta_kit.testing import server_url

    url = server_url("redis")
    if not url:
        pytest.skip("GLUTA_TEST_REDIS_URL is not set: no real Redis server")
    namespace = f"t{uuid.uuid4().hex[:10]}"
    seen: dict[int, list[int]] = {}
    consumer = Bus(url, "consumer", namespace=namespace)

    @consumer.on(ProductChanged, "consumer-products")
    async def on_changed(event: ProductChanged) -> None:
        seen.setdefault(event.product_id, []).append(event.quantity)

    db = Database(f"sqlite:///{tmp_path / 'kit.db'}")
    await db.migrate(EMPTY_MIGRATIONS)
    producer = Bus(url, "producer", namespace=namespace)
    await producer.start()
    await consumer.start()
    try:
        async with UnitOfWork(db) as uow:
            for seq in range(50):
                for product_id in range(1, 6):  # 250 rows, one batch
                    uow.outbox.add(ProductChanged(product_id=product_id, name="p", unit_price=1, on_sale=True,
                                                  quantity=seq))
            await uow.commit()
        relay = OutboxRelay(db, producer, batch_size=250)
        assert await relay.relay_once() == (250, True)  # every row taken by the broker in the first round
        await wait_for(lambda: sum(len(v) for v in seen.values()) == 250)
        assert seen == {product_id: list(range(50)) for product_id in range(1, 6)}
    finally:
        await producer.stop()
        await consumer.stop()
        await db.dispose()
