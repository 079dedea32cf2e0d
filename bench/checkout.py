"""Checkout: confirmed orders per second end to end, and POST-to-CONFIRMED latency at a fixed arrival rate.

Two phases:
1. throughput — `--orders` orders over `--concurrency` parallel clients as fast as they go; reports
   confirmed orders per second from the first POST to the last confirmation;
2. latency — orders arrive at `--rate` per second for `--duration` seconds whatever the answers
   (open loop); reports p50/p99 of the time from sending the POST to the order turning CONFIRMED.

The confirmation time of an order is its `updatedAt` (the server sets it when the order turns
CONFIRMED), so no polling load is added; the client and the server must share a clock (same machine,
or NTP) — `--poll` measures the client-observed time instead, by polling each order.

Against a running system (through its gateway; needs product-service, user-service, order-service):

    .venv/bin/python bench/checkout.py --base-url http://127.0.0.1:8000 \
        --admin-login-id admin --admin-password '...'

It creates a product type and a product with ample stock as the admin, signs up and logs in
`--members` members, tops up their pay money, waits until order-service knows the product, then runs
both phases. Goal in local mode: >= 100 confirmed orders/s, and p99 <= 1 s at 50 orders/s. The throughput
phase also reports the order service's CPU time per order (user + system, from the process), the figure
that does not depend on what else the machine is doing.

Self-contained (default, no --base-url): the bench starts NATS JetStream, a JWKS server for tokens it
mints, and one order service; a stand-in of the product service lives in the bench process and answers
every OrderPlaced with StockReserved through the real broker. This measures the order service's side of
the saga (outbox, relay, broker, consumers), not the product service's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

SCRIPT = Path(__file__).resolve()
BENCH = SCRIPT.parent
sys.path.insert(0, str(BENCH))

from coupon_storm import (  # noqa: E402  (the bench folder is not a package)
    HOST,
    JwksServer,
    Process,
    free_port,
    load_keys,
    nats_binary,
    service_cpu,
    wait_ready,
    wait_tcp,
)

RESULTS = BENCH / "results"
RECEIVER = {"name": "Bench Receiver", "phoneNumber": "010-0000-0000", "postNumber": "06236",
            "address": "Seoul, Gangnam-gu, Teheran-ro 1", "addressDetail": "bench"}
UNIT_PRICE = 1_000


@dataclass
class System:
    """Where the order API is and who may call it."""

    order_url: str                      # base of the order-service paths (/orders, /wallet/charge...)
    admin_headers: dict[str, str]
    member_headers: list[dict[str, str]]
    product_id: int
    processes: list[Process] = field(default_factory=list)


@dataclass
class Sent:
    """One order as the client saw it."""

    member: int
    sent_at: float                      # wall clock (time.time()) when the POST was sent
    status: int = 0
    order_id: int | None = None
    final: str | None = None
    confirmed_at: float | None = None   # wall clock of CONFIRMED (server updatedAt, or client poll)
    error: str | None = None


def parse_time(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def place(client: httpx.AsyncClient, system: System, member: int, poll: float | None) -> Sent:
    """POST one order of one unit; with `poll`, wait until it is CONFIRMED or CANCELLED."""
    sent = Sent(member=member, sent_at=time.time())
    headers = {**system.member_headers[member], "Idempotency-Key": uuid.uuid4().hex}
    try:
        response = await client.post(f"{system.order_url}/orders", headers=headers, json={
            "items": [{"productId": system.product_id, "quantity": 1}], "receiver": RECEIVER})
    except httpx.HTTPError as exc:
        sent.error = repr(exc)
        return sent
    sent.status = response.status_code
    if response.status_code != 202:
        sent.error = response.text[:200]
        return sent
    sent.order_id = int(response.json()["orderId"])
    if poll:
        while True:
            await asyncio.sleep(poll)
            with suppress(httpx.HTTPError):
                body = (await client.get(f"{system.order_url}/orders/{sent.order_id}",
                                         headers=system.member_headers[member])).json()
                if body["status"] != "PENDING":
                    sent.final = body["status"]
                    sent.confirmed_at = time.time() if body["status"] == "CONFIRMED" else None
                    break
    return sent


async def settle(client: httpx.AsyncClient, system: System, orders: list[Sent], within: float = 120.0) -> None:
    """Wait until no order is PENDING, then read each order's final status and confirmation time."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await client.get(f"{system.order_url}/admin/orders", params={"status": "PENDING", "size": 1},
                                    headers=system.admin_headers)
        if response.status_code == 200 and response.json()["total"] == 0:
            break
        await asyncio.sleep(0.2)
    semaphore = asyncio.Semaphore(32)

    async def read(sent: Sent) -> None:
        if sent.order_id is None or sent.final is not None:
            return
        async with semaphore:
            body = (await client.get(f"{system.order_url}/orders/{sent.order_id}",
                                     headers=system.member_headers[sent.member])).json()
        sent.final = body["status"]
        if body["status"] == "CONFIRMED":
            sent.confirmed_at = parse_time(body["updatedAt"])

    await asyncio.gather(*[read(s) for s in orders])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary(orders: list[Sent], label: str) -> dict[str, Any]:
    confirmed = [s for s in orders if s.final == "CONFIRMED" and s.confirmed_at is not None]
    latencies = [max(0.0, s.confirmed_at - s.sent_at) for s in confirmed]  # type: ignore[operator]
    first = min((s.sent_at for s in orders), default=0.0)
    last = max((s.confirmed_at for s in confirmed), default=first)  # type: ignore[type-var]
    span = max(1e-9, last - first)
    return {
        "phase": label,
        "orders": len(orders),
        "answers": dict(Counter(str(s.status) for s in orders)),
        "final": dict(Counter(s.final or "NONE" for s in orders)),
        "errors": sorted({s.error for s in orders if s.error})[:5],
        "confirmed": len(confirmed),
        "confirmed_per_s": round(len(confirmed) / span, 1),
        "p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies, default=0.0) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1) if latencies else 0.0,
        "span_s": round(span, 3),
    }


async def throughput(client: httpx.AsyncClient, system: System, args: argparse.Namespace) -> dict[str, Any]:
    """Closed loop: `concurrency` clients place `orders` orders as fast as the answers come."""
    orders: list[Sent] = []
    counter = iter(range(args.orders))

    async def worker() -> None:
        for index in counter:
            orders.append(await place(client, system, index % len(system.member_headers), args.poll))

    await asyncio.gather(*[worker() for _ in range(args.concurrency)])
    await settle(client, system, orders)
    return summary(orders, "throughput")


async def fixed_rate(client: httpx.AsyncClient, system: System, args: argparse.Namespace) -> dict[str, Any]:
    """Open loop: one order every 1/rate seconds for `duration` seconds, whatever the answers."""
    total = int(args.rate * args.duration)
    tasks: list[asyncio.Task[Sent]] = []
    start = time.perf_counter()
    for index in range(total):
        delay = start + index / args.rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(place(client, system, index % len(system.member_headers), args.poll)))
    orders = list(await asyncio.gather(*tasks))
    await settle(client, system, orders)
    result = summary(orders, f"fixed rate {args.rate}/s")
    result["offered_rate"] = args.rate
    return result


async def top_up(client: httpx.AsyncClient, system: System, orders_per_member: int) -> None:
    """Give every member enough pay money for their share of the orders."""
    needed = orders_per_member * UNIT_PRICE
    semaphore = asyncio.Semaphore(16)

    async def charge(headers: dict[str, str]) -> None:
        remaining = needed
        while remaining > 0:
            amount = max(1_000, min(2_000_000, remaining))
            async with semaphore:
                response = await client.post(f"{system.order_url}/wallet/charge", json={"amount": amount},
                                             headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
            if response.status_code != 200:
                raise RuntimeError(f"top-up failed: {response.status_code} {response.text[:200]}")
            remaining -= amount

    await asyncio.gather(*[charge(h) for h in system.member_headers])


async def wait_for_snapshot(client: httpx.AsyncClient, system: System, within: float = 60.0) -> None:
    """Wait until the order service knows the product (its ProductChanged arrived)."""
    headers = system.member_headers[0]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = await client.post(f"{system.order_url}/cart/items", headers=headers,
                                     json={"productId": system.product_id, "quantity": 1})
        if response.status_code == 201:
            await client.delete(f"{system.order_url}/cart/items/{response.json()['cartItemId']}", headers=headers)
            return
        await asyncio.sleep(0.2)
    raise RuntimeError("the order service never learned of the product (is product-service emitting events?)")


# ----------------------------------------------------------------------------------- a running system
async def through_gateway(stack: AsyncExitStack, client: httpx.AsyncClient, args: argparse.Namespace) -> System:
    """Prepare a product and members through a running system's gateway."""
    base = args.base_url.rstrip("/")
    users, products = f"{base}/api/user-service", f"{base}/api/product-service"
    admin = await client.post(f"{users}/admin/login", json={"loginId": args.admin_login_id,
                                                            "password": args.admin_password})
    if admin.status_code != 200:
        raise RuntimeError(f"admin login failed: {admin.status_code} {admin.text[:200]}")
    admin_headers = {"Authorization": f"Bearer {admin.json()['accessToken']}"}
    tag = uuid.uuid4().hex[:6]
    kind = await client.post(f"{products}/types", json={"type": f"bench-{tag}"}, headers=admin_headers)
    if kind.status_code != 201:
        raise RuntimeError(f"could not create a product type: {kind.status_code} {kind.text[:200]}")
    product = await client.post(f"{products}/products", headers=admin_headers, json={
        "name": f"Bench product {tag}", "description": "checkout benchmark", "content": "<p>bench</p>",
        "productTypeId": kind.json()["productTypeId"], "productStyles": [], "unitPrice": UNIT_PRICE,
        "quantity": 1_000_000, "imageIds": []})
    if product.status_code != 201:
        raise RuntimeError(f"could not create the product: {product.status_code} {product.text[:200]}")
    semaphore = asyncio.Semaphore(8)

    async def member(index: int) -> dict[str, str]:
        login_id = f"ck{tag}_{index}"
        password = "bench-Passw0rd"
        async with semaphore:
            signup = await client.post(f"{users}/members", json={
                "loginId": login_id, "password": password, "memberName": f"Bench {index}",
                "phoneNumber": "010-0000-0000", "email": f"{login_id}@example.com"})
            if signup.status_code != 201:
                raise RuntimeError(f"sign-up failed: {signup.status_code} {signup.text[:200]}")
            login = await client.post(f"{users}/login", json={"loginId": login_id, "password": password})
        if login.status_code != 200:
            raise RuntimeError(f"login failed: {login.status_code} {login.text[:200]}")
        return {"Authorization": f"Bearer {login.json()['accessToken']}"}

    members = await asyncio.gather(*[member(i) for i in range(args.members)])
    return System(order_url=f"{base}/api/order-service", admin_headers=admin_headers, member_headers=list(members),
                  product_id=int(product.json()["productId"]))


# ----------------------------------------------------------------------------------- self-contained
def serve_stand_in(nats_url: str, namespace: str, reject_every: int) -> None:
    """A stand-in product service in its own process: answers every OrderPlaced through the broker."""
    from gluta_contracts import OrderPlaced, StockRejected, StockReserved
    from gluta_contracts.events import ShortLine
    from gluta_kit.bus import Bus

    bus = Bus(nats_url, "bench-product", namespace=namespace)

    @bus.on(OrderPlaced, "product-reserve-stock")
    async def reserve(event: OrderPlaced) -> None:
        if reject_every and event.order_id % reject_every == 0:
            await bus.publish_event(StockRejected(order_id=event.order_id, short_lines=[
                ShortLine(product_id=li.product_id, requested=li.quantity, available=0) for li in event.lines]))
            return
        await bus.publish_event(StockReserved(order_id=event.order_id, lines=event.lines))

    async def run() -> None:
        await bus.start()
        try:
            await asyncio.Event().wait()
        finally:
            await bus.stop()

    with suppress(KeyboardInterrupt):
        asyncio.run(run())


async def self_contained(stack: AsyncExitStack, client: httpx.AsyncClient, args: argparse.Namespace,
                         workdir: Path) -> System:
    """Start NATS, a JWKS server, the order service and a stand-in product service that reserves everything."""
    from gluta_contracts import ProductChanged
    from gluta_kit.bus import Bus
    from gluta_kit.testing import server_url, temp_database

    nats_port = free_port()
    nats = Process("nats", [nats_binary(), "-a", HOST, "-p", str(nats_port), "-js", "-sd", str(workdir / "nats")],
                   log_path=workdir / "nats.log")
    stack.callback(nats.stop)
    wait_tcp(nats_port)
    nats_url = f"nats://{HOST}:{nats_port}"
    namespace = f"bench{uuid.uuid4().hex[:8]}"
    keys = load_keys(None)
    jwks = JwksServer(keys)
    stack.callback(jwks.stop)

    stand_in = Process("stand-in-product", [sys.executable, str(SCRIPT), "--serve-stand-in",
                                            nats_url, namespace, str(args.reject_every)],
                       log_path=workdir / "stand-in.log")
    stack.callback(stand_in.stop)
    product_bus = Bus(nats_url, "bench-seed", namespace=namespace)
    await product_bus.start()
    stack.push_async_callback(product_bus.stop)

    env = {"GLUTA_BUS_URL": nats_url, "GLUTA_BUS_NAMESPACE": namespace, "GLUTA_DISCOVERY_URL": "",
           "GLUTA_CONFIG_URL": "", "GLUTA_JWKS_URL": jwks.url, "GLUTA_LOG_LEVEL": args.log_level,
           "GLUTA_DEMO": "false", "GLUTA_DATA_DIR": str(workdir / "order")}
    if args.database != "sqlite":
        server = server_url(args.database)
        if not server:
            raise RuntimeError(f"--database {args.database} needs GLUTA_TEST_{args.database.upper()}_URL")
        env["GLUTA_DATABASE_URL"] = await stack.enter_async_context(temp_database(server))
    port = free_port()
    order = Process("order", [sys.executable, "-m", "gluta_order"], {**env, "GLUTA_PORT": str(port)},
                    log_path=workdir / "order.log")
    stack.callback(order.stop)
    base = f"http://{HOST}:{port}"
    await wait_ready(base, order)
    product_id = 1
    await product_bus.publish_event(ProductChanged(product_id=product_id, name="Bench product",
                                                   unit_price=UNIT_PRICE, on_sale=True, quantity=1_000_000))
    members = [{"Authorization": f"Bearer {keys.mint(10_000 + i, 'member', expires_in=7200)}"}
               for i in range(args.members)]
    return System(order_url=base, admin_headers={"Authorization": f"Bearer {keys.mint(1, 'admin')}"},
                  member_headers=members, product_id=product_id, processes=[order])


async def main_async(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="gluta-checkout-"))
    limits = httpx.Limits(max_connections=max(args.concurrency, 64) + 16, max_keepalive_connections=256)
    load_at_start = round(os.getloadavg()[0], 2)
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(),
                               "argv": sys.argv[1:], "mode": "gateway" if args.base_url else "self-contained"}
    try:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=30.0, limits=limits))
            prepare: Callable[[], Awaitable[System]]
            if args.base_url:
                prepare = lambda: through_gateway(stack, client, args)  # noqa: E731
            else:
                prepare = lambda: self_contained(stack, client, args, workdir)  # noqa: E731
            system = await prepare()
            await wait_for_snapshot(client, system)
            per_member = (args.orders + int(args.rate * args.duration)) // len(system.member_headers) + 10
            await top_up(client, system, per_member)
            print(f"{len(system.member_headers)} members ready; throughput phase: {args.orders} orders over "
                  f"{args.concurrency} clients...", flush=True)
            cpu_before = service_cpu(system.processes)
            results["throughput"] = await throughput(client, system, args)
            if system.processes:
                results["throughput"]["service_cpu_ms_per_order"] = round(
                    (service_cpu(system.processes) - cpu_before) / max(1, args.orders) * 1000, 3)
            print(f"latency phase: {args.rate}/s for {args.duration}s...", flush=True)
            results["latency"] = await fixed_rate(client, system, args)
            results["machine_load"] = round(os.getloadavg()[0], 2)
            results["machine_load_at_start"] = load_at_start
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work files kept in {workdir}")
    for phase in ("throughput", "latency"):
        r = results.get(phase)
        if r:
            print(f"{r['phase']:>20}: {r['confirmed']}/{r['orders']} confirmed, {r['confirmed_per_s']} confirmed/s, "
                  f"POST->CONFIRMED p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms; "
                  f"answers {r['answers']}, final {r['final']}"
                  + (f"; order-service CPU {r['service_cpu_ms_per_order']} ms/order"
                     if r.get("service_cpu_ms_per_order") is not None else ""))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / "checkout.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"results written to {out} (machine load {results.get('machine_load_at_start')} at start, "
          f"{results.get('machine_load')} at the end)")
    ok = all(results.get(p, {}).get("confirmed") == results.get(p, {}).get("orders") for p in ("throughput", "latency"))
    return 0 if ok or args.reject_every else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=None, help="a running system's gateway; without it, self-contained")
    parser.add_argument("--admin-login-id", default=os.environ.get("GLUTA_BENCH_ADMIN_LOGIN_ID", "admin"))
    parser.add_argument("--admin-password", default=os.environ.get("GLUTA_BENCH_ADMIN_PASSWORD"))
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--orders", type=int, default=2_000, help="orders of the throughput phase")
    parser.add_argument("--concurrency", type=int, default=32, help="parallel clients of the throughput phase")
    parser.add_argument("--rate", type=float, default=50.0, help="orders per second of the latency phase")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of the latency phase")
    parser.add_argument("--poll", type=float, default=None,
                        help="poll each order every POLL seconds (client-observed latency) instead of updatedAt")
    parser.add_argument("--database", choices=["sqlite", "mysql", "postgres"], default="sqlite",
                        help="self-contained mode: the order service's database")
    parser.add_argument("--reject-every", type=int, default=0,
                        help="self-contained mode: the stand-in rejects every Nth order (0: none)")
    parser.add_argument("--log-level", default="WARNING")
    parser.add_argument("--out", default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--serve-stand-in", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.base_url and not args.admin_password:
        parser.error("--base-url needs --admin-password (or GLUTA_BENCH_ADMIN_PASSWORD)")
    if args.members < 1 or args.orders < 0 or args.rate <= 0 or args.duration <= 0:
        parser.error("members >= 1, orders >= 0, rate > 0, duration > 0")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from gluta_kit.logging import setup_logging

    setup_logging("bench-checkout", "WARNING")  # the stand-in product service logs through the kit
    with suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    if args.serve_stand_in:
        nats_url, namespace, reject_every = args.serve_stand_in
        serve_stand_in(nats_url, namespace, int(reject_every))
        return 0
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
