"""Two order-service instances behind one load balancer: one database, one Redis, one real bus. A claim storm
spread over both issues a first-come coupon's N copies to exactly N members, nobody twice, and each issuance
is persisted once: instance 0 writes its winners' copies in the request, instance 1 finds its database write
failing and falls back to `CouponClaimed`, which both instances consume (one consumer group, inbox)."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from gluta_kit.testing import TestKeys, kafka_for_tests, make_settings, running, server_url, temp_database
from gluta_order.app import MIGRATIONS, create_app
from gluta_order.coupon.models import Coupon, MemberCoupon
from gluta_order.settings import OrderSettings

pytestmark = [pytest.mark.connected, pytest.mark.timeout(240)]


@pytest.fixture(scope="module")
def tansu() -> Iterator[str]:
    with kafka_for_tests() as url:
        yield url


@pytest.mark.parametrize("bus, database", [("nats", "sqlite"), ("kafka", "mysql")], ids=["nats-sqlite",
                                                                                      "kafka-mariadb"])
async def test_a_claim_storm_over_two_instances_issues_exactly_n(request: pytest.FixtureRequest, tmp_path: Path,
                                                                  bus: str, database: str) -> None:
    redis_url = server_url("redis")
    if not redis_url:
        pytest.skip("GLUTA_TEST_REDIS_URL is not set: no real Redis server")
    bus_url = server_url("nats") if bus == "nats" else request.getfixturevalue("tansu")
    if not bus_url:
        pytest.skip("GLUTA_TEST_NATS_URL is not set: no real NATS server")
    keys = TestKeys()
    async with AsyncExitStack() as stack:
        shared: dict[str, Any] = {
            "coupon_gate": "redis", "redis_url": redis_url, "redis_key_prefix": f"gluta-test:{uuid.uuid4().hex[:10]}:",
            "bus_url": bus_url, "bus_namespace": f"t{uuid.uuid4().hex[:10]}", "kafka_session_timeout_ms": 6000,
            "sweeper_interval_seconds": 3600, "revocation_sync_seconds": 600,
            # one database for both: a server one, or one SQLite file
            "database_url": (await stack.enter_async_context(temp_database(server_url(database) or _skip(database)))
                             if database != "sqlite" else f"sqlite:///{tmp_path / 'order.db'}"),
        }
        apps = [create_app(make_settings(OrderSettings, tmp_path / f"i{n}", **shared)) for n in range(2)]

        # migrated once, before both start (as a deployment does): two in-process Alembic runs at once would
        # trip over Alembic's module-level context
        await apps[0].state.service.db.migrate(MIGRATIONS)
        for app in apps:
            app.state.service.migrations = None

        async def run(app: Any) -> Any:  # on Kafka, starting waits for the consumer groups' join
            return await stack.enter_async_context(running(app, in_memory_bus=False, keys=keys, startup_timeout=60))

        clients = list(await asyncio.gather(run(apps[0]), run(apps[1])))  # together: one join for both

        async def database_write_fails(event: Any) -> bool:
            raise ConnectionError("database down")

        apps[1].state.order.gate.persist = database_write_fails  # its winners go through the bus
        first = clients[0]

        created = await first.post("/coupons", json={"name": "first 40", "discountType": "FIXED",
                                                     "discountValue": 1_000, "quantity": 40},
                                   headers=keys.bearer(1, "admin"))
        assert created.status_code == 201, created.text
        coupon_id = created.json()["couponId"]

        members = list(range(1, 161)) * 2  # 160 members, each asking twice, all at once, over both instances
        slots = asyncio.Semaphore(64)

        async def claim(n: int, member_id: int) -> Any:
            async with slots:
                return await clients[n % 2].post(f"/coupons/{coupon_id}/issue", headers=keys.bearer(member_id))

        answers = await asyncio.gather(*(claim(n, m) for n, m in enumerate(members)))
        codes = Counter(a.status_code for a in answers)
        winners = [m for m, a in zip(members, answers, strict=True) if a.status_code == 201]
        assert codes[201] == 40, codes
        assert len(set(winners)) == 40  # nobody twice
        assert set(codes) <= {201, 409, 410}, codes  # the rest: ALREADY_ISSUED or SOLD_OUT, never a 5xx

        # instance 1's winners were persisted by the consumers of both instances; each issuance once
        db = apps[0].state.order.db
        for _ in range(300):
            async with db.read_sessions() as session:
                rows, holders = (await session.execute(
                    select(func.count(), func.count(func.distinct(MemberCoupon.member_id)))
                    .where(MemberCoupon.coupon_id == coupon_id))).one()
                issued = await session.scalar(select(Coupon.issued).where(Coupon.id == coupon_id))
            if rows >= 40:
                break
            await asyncio.sleep(0.1)
        await asyncio.sleep(0.5)
        async with db.read_sessions() as session:
            rows, holders = (await session.execute(
                select(func.count(), func.count(func.distinct(MemberCoupon.member_id)))
                .where(MemberCoupon.coupon_id == coupon_id))).one()
            issued = await session.scalar(select(Coupon.issued).where(Coupon.id == coupon_id))
            held = set((await session.scalars(select(MemberCoupon.member_id)
                                              .where(MemberCoupon.coupon_id == coupon_id))).all())
        assert (rows, holders, issued) == (40, 40, 40)
        assert held == set(winners)
        for client in clients:  # both instances tell the same story
            listed = {c["couponId"]: c for c in (await client.get("/coupons")).json()}
            assert coupon_id not in listed or listed[coupon_id]["remaining"] == 0


def _skip(database: str) -> str:
    pytest.skip(f"GLUTA_TEST_{database.upper()}_URL is not set: no real {database} server")
