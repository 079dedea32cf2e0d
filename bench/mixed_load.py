"""Mixed load through the gateway: the highest rate the system holds with p99 under 1 s, then `gluta check`.

The mix (issue 13): browse 70 % (home 20: best sellers; search 25: a keyword; detail 25: one product),
cart 15 % (half `GET /cart`, half adding a unit of a product), checkout 10 % (one unit, its own
Idempotency-Key), coupon 5 % (a member claims a coupon it does not hold yet: first-come ones of 100
copies, which run out — 410 SOLD_OUT is a normal answer — and unlimited ones). Members browse with their
token; a fifth of the browsing is by guests.

Open loop: requests are sent at the target rate whatever the answers, each on a free keep-alive connection
(opened on demand, at most `--connections`), and latency is measured from the moment a request was due,
so a system that falls behind shows it. As browsers do, a request written on a reused connection that the
server had just closed (its keep-alive timeout) is sent once more on a new one; every POST carries an
Idempotency-Key, so that is safe. Phases:

1. ramp: `--step-seconds` (15) at `--start-rate` (20/s), then ×1.4 per step while p99 < 1 s and less than
   0.5 % of answers are errors, up to `--max-rate`; then once halfway between the last rate held and the
   first one missed;
2. hold: `--seconds` (300) at the highest rate held (`--rate` skips the ramp);
3. every order ends (no PENDING left), then `gluta check` runs and its report is printed.

Errors are transport failures and answers outside each operation's expected ones (5xx, 429, 4xx but
410 on a first-come coupon). Results go to `bench/results/mixed_load.json`.

Self-contained (default): NATS, discovery, user, product, order and gateway on free ports in a temporary
folder (local mode, SQLite; `--database mysql` gives each service its own MariaDB database on
`$GLUTA_TEST_MYSQL_URL`; `--redis-url` turns on the Redis coupon gate). All the load comes from one
address, so the gateway's per-address guest limit is raised for the run (a real shop's guests come from
many). Against a running system: `--gateway URL --admin-login-id ID --admin-password PW`, and
`--check-arg` options are handed to `gluta check` (e.g. `--check-arg=--data-dir=var`).

    .venv/bin/python bench/mixed_load.py --seconds 60              # a short try
    .venv/bin/python bench/mixed_load.py                           # ramp, then 5 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, deque
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlparse

import httpx

SCRIPT = Path(__file__).resolve()
BENCH = SCRIPT.parent
sys.path.insert(0, str(BENCH))

from checkout import System, percentile, top_up  # noqa: E402  (the bench folder is not a package)
from coupon_storm import (  # noqa: E402
    HOST,
    Process,
    _use_uvloop,
    build_request,
    free_port,
    nats_binary,
    read_response,
    wait_ready,
    wait_tcp,
)

ROOT = BENCH.parent
RESULTS = BENCH / "results"
UNIT_PRICE = 1_000
PRODUCTS = 40
WORDS = ["wool", "linen", "denim", "knit", "cardigan", "coat", "shirt", "니트", "가디건", "셔츠"]
RECEIVER = {"name": "Bench Receiver", "phoneNumber": "010-0000-0000", "postNumber": "06236",
            "address": "Seoul, Gangnam-gu, Teheran-ro 1", "addressDetail": "bench"}
# operation -> (share of all requests in %, the answers that are not errors)
MIX: dict[str, tuple[float, set[int]]] = {
    "home": (20, {200}), "search": (25, {200}), "detail": (25, {200}),
    "cart": (15, {200, 201}), "checkout": (10, {202}), "coupon": (5, {201, 410}),
}


# ============================================================================ the shop the load runs against
@dataclass
class Shop:
    """Where the gateway is, who may call it, and what there is to browse, buy and claim."""

    gateway: str
    admin: str
    members: list[str]
    product_ids: list[int]
    coupon_ids: list[int]
    check_args: list[str] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)


async def patient(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send a set-up request, waiting out the gateway's rate limit (429 + Retry-After) instead of failing."""
    while True:
        response = await client.request(method, url, **kwargs)
        if response.status_code != 429:
            return response
        await asyncio.sleep(float(response.headers.get("retry-after", "1")))


async def prepare_shop(client: httpx.AsyncClient, gateway: str, admin_login: tuple[str, str], members: int,
                       coupons: int) -> Shop:
    """Create products, coupons and members (signed up, logged in, with pay money) through the gateway."""
    admin_answer = await client.post(f"{gateway}/api/user-service/admin/login",
                                     json={"loginId": admin_login[0], "password": admin_login[1]})
    if admin_answer.status_code != 200:
        raise RuntimeError(f"admin login failed: {admin_answer.status_code} {admin_answer.text[:200]}")
    admin = admin_answer.json()["accessToken"]
    as_admin = {"Authorization": f"Bearer {admin}"}
    tag = uuid.uuid4().hex[:6]
    kind = await client.post(f"{gateway}/api/product-service/types", json={"type": f"mixed-{tag}"}, headers=as_admin)
    if kind.status_code != 201:
        raise RuntimeError(f"could not create a product type: {kind.status_code} {kind.text[:200]}")
    product_ids = []
    for i in range(PRODUCTS):
        word = WORDS[i % len(WORDS)]
        answer = await patient(client, "POST", f"{gateway}/api/product-service/products", headers=as_admin, json={
            "name": f"{word} {tag} {i}", "description": f"mixed load {word}", "content": f"<p>{word}</p>",
            "productTypeId": kind.json()["productTypeId"], "productStyles": [], "unitPrice": UNIT_PRICE,
            "quantity": 1_000_000, "imageIds": []})
        if answer.status_code != 201:
            raise RuntimeError(f"could not create a product: {answer.status_code} {answer.text[:200]}")
        product_ids.append(int(answer.json()["productId"]))
    coupon_ids = []
    for i in range(coupons):
        answer = await patient(client, "POST", f"{gateway}/api/order-service/coupons", headers=as_admin, json={
            "name": f"mixed {tag} {i}", "description": "mixed load", "discountType": "FIXED", "discountValue": 100,
            "quantity": 100 if i % 2 == 0 else None})
        if answer.status_code != 201:
            raise RuntimeError(f"could not create a coupon: {answer.status_code} {answer.text[:200]}")
        coupon_ids.append(int(answer.json()["couponId"]))
    semaphore = asyncio.Semaphore(8)

    async def member(index: int) -> str:
        login_id, password = f"mx{tag}{index}", "bench-Passw0rd"
        async with semaphore:  # two Argon2 hashes each: a handful at a time
            signup = await patient(client, "POST", f"{gateway}/api/user-service/members", json={
                "loginId": login_id, "password": password, "memberName": f"Bench {index}",
                "phoneNumber": "010-0000-0000", "email": f"{login_id}@example.com"})
            if signup.status_code != 201:
                raise RuntimeError(f"sign-up failed: {signup.status_code} {signup.text[:200]}")
            login = await patient(client, "POST", f"{gateway}/api/user-service/login",
                                  json={"loginId": login_id, "password": password})
        if login.status_code != 200:
            raise RuntimeError(f"login failed: {login.status_code} {login.text[:200]}")
        return str(login.json()["accessToken"])

    started = time.perf_counter()
    tokens = await asyncio.gather(*[member(i) for i in range(members)])
    await top_up(client, System(order_url=f"{gateway}/api/order-service", admin_headers=as_admin,
                                member_headers=[{"Authorization": f"Bearer {t}"} for t in tokens], product_id=0),
                 orders_per_member=2_000)
    print(f"  {members} members signed up, logged in and topped up in {time.perf_counter() - started:.0f} s; "
          f"{PRODUCTS} products, {coupons} coupons", flush=True)
    return Shop(gateway=gateway, admin=admin, members=list(tokens), product_ids=product_ids, coupon_ids=coupon_ids)


async def start_system(stack: AsyncExitStack, workdir: Path, args: argparse.Namespace) -> tuple[str, dict[str, str]]:
    """Start NATS and the services on free ports; return the gateway URL and the services' URLs."""
    nats_port = free_port()
    nats = Process("nats", [nats_binary(), "-a", HOST, "-p", str(nats_port), "-js", "-sd", str(workdir / "nats")],
                   log_path=workdir / "nats.log")
    stack.callback(nats.stop)
    wait_tcp(nats_port)
    ports = {name: free_port() for name in ("discovery", "user", "product", "order", "gateway")}
    common = {"GLUTA_DATA_DIR": str(workdir), "GLUTA_BUS_URL": f"nats://{HOST}:{nats_port}",
              "GLUTA_DISCOVERY_URL": f"http://{HOST}:{ports['discovery']}", "GLUTA_CONFIG_URL": "",
              "GLUTA_DEMO": "false", "GLUTA_LOG_LEVEL": args.log_level, "GLUTA_ADMIN_LOGIN_ID": args.admin_login_id,
              "GLUTA_ADMIN_PASSWORD": args.admin_password or "bench-Admin-passw0rd",
              # the launcher's malloc settings (see tools/gluta launcher), as `make run` has them
              "MALLOC_ARENA_MAX": "2", "MALLOC_MMAP_THRESHOLD_": "131072"}
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_")}
    extra: dict[str, dict[str, str]] = {
        "gateway": {"GLUTA_RATE_LIMIT_GUEST_PER_SECOND": "100000", "GLUTA_RATE_LIMIT_GUEST_BURST": "100000"}}
    if args.redis_url:
        extra["order"] = {"GLUTA_REDIS_URL": args.redis_url, "GLUTA_REDIS_KEY_PREFIX": f"mixed{uuid.uuid4().hex[:8]}:"}
    if args.database == "mysql":
        from gluta_kit.testing import temp_database

        server = args.mysql_url or os.environ.get("GLUTA_TEST_MYSQL_URL")
        if not server:
            raise RuntimeError("--database mysql needs --mysql-url or $GLUTA_TEST_MYSQL_URL")
        for name in ("user", "product", "order"):
            url = await stack.enter_async_context(temp_database(server))
            extra.setdefault(name, {})["GLUTA_DATABASE_URL"] = url
    urls = {name: f"http://{HOST}:{port}" for name, port in ports.items()}
    for name in ("discovery", "user", "product", "order", "gateway"):
        env = {**base_env, **common, **extra.get(name, {}), "GLUTA_PORT": str(ports[name])}
        process = Process(name, [sys.executable, "-m", f"gluta_{name}"], env, log_path=workdir / f"{name}.log")
        stack.callback(process.stop)
        await wait_ready(urls[name], process, within=120)
    async with httpx.AsyncClient(timeout=2.0) as client:  # ready: every service has a live instance
        deadline = time.monotonic() + 60
        while (await client.get(f"{urls['gateway']}/ready")).status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError("the gateway never saw every service")
            await asyncio.sleep(0.3)
    return urls["gateway"], urls


# ============================================================================ the open-loop load generator
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Connections:
    """Keep-alive connections to one address: an idle one is reused, a new one opened when none is free.

    A connection idle for `max_idle` seconds is closed rather than reused: the server closes idle ones
    after its keep-alive timeout (uvicorn: 5 s), and a request written just as it does would fail.
    """

    def __init__(self, host: str, port: int, limit: int, max_idle: float = 2.0) -> None:
        self.address = (host, port)
        self.idle: deque[tuple[float, Conn]] = deque()
        self.free = asyncio.Semaphore(limit)
        self.max_idle = max_idle
        self.opened = 0

    async def take(self, fresh: bool = False) -> tuple[Conn, bool]:
        """Return a connection and whether it was reused (`fresh`: never reuse)."""
        await self.free.acquire()
        now = time.monotonic()
        while self.idle and not fresh:
            since, conn = self.idle.pop()
            if now - since < self.max_idle:
                return conn, True
            conn[1].close()
        try:
            reader, writer = await asyncio.open_connection(*self.address, limit=1 << 20)
        except BaseException:
            self.free.release()
            raise
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.opened += 1
        return (reader, writer), False

    def give_back(self, conn: Conn | None) -> None:
        if conn is not None:
            self.idle.append((time.monotonic(), conn))
        self.free.release()

    def close(self) -> None:
        while self.idle:
            self.idle.pop()[1][1].close()


class Mix:
    """Build the next request of the mix (seeded, so two runs send the same sequence)."""

    def __init__(self, shop: Shop, seed: int) -> None:
        self.shop = shop
        self.rng = random.Random(seed)
        parsed = urlparse(shop.gateway)
        self.host = parsed.netloc
        self.prefix = parsed.path.rstrip("/")
        self.kinds = list(MIX)
        self.weights = [MIX[k][0] for k in self.kinds]
        self.claimed: dict[int, int] = Counter()  # member -> coupons claimed so far (each claims each at most once)

    def next(self) -> tuple[str, bytes]:
        """Return (operation, request bytes)."""
        kind = self.rng.choices(self.kinds, self.weights)[0]
        member = self.rng.randrange(len(self.shop.members))
        auth = {"Authorization": f"Bearer {self.shop.members[member]}"}
        product = self.rng.choice(self.shop.product_ids)
        p = self.prefix
        if kind in ("home", "search", "detail"):
            headers = auth if self.rng.random() >= 0.2 else {}  # a fifth of the browsing by guests
            path = {"home": f"{p}/api/product-service/products/best?size=10",
                    "search": f"{p}/api/product-service/products/search?keyword={quote(self.rng.choice(WORDS))}"
                              "&size=20",
                    "detail": f"{p}/api/product-service/products/{product}"}[kind]
            return kind, build_request("GET", self.host, path, headers)
        if kind == "cart":
            if self.rng.random() < 0.5:
                return kind, build_request("GET", self.host, f"{p}/api/order-service/cart", auth)
            body = json.dumps({"productId": product, "quantity": 1}).encode()
            return kind, build_request("POST", self.host, f"{p}/api/order-service/cart/items",
                                       {**auth, "Content-Type": "application/json",
                                        "Idempotency-Key": uuid.uuid4().hex}, body)
        if kind == "checkout":
            body = json.dumps({"items": [{"productId": product, "quantity": 1}], "receiver": RECEIVER}).encode()
            return kind, build_request("POST", self.host, f"{p}/api/order-service/orders",
                                       {**auth, "Content-Type": "application/json",
                                        "Idempotency-Key": uuid.uuid4().hex}, body)
        index = self.claimed[member]
        if index >= len(self.shop.coupon_ids):  # this member holds every coupon: browse instead
            return "detail", build_request("GET", self.host, f"{p}/api/product-service/products/{product}", auth)
        self.claimed[member] += 1
        return kind, build_request("POST", self.host,
                                   f"{p}/api/order-service/coupons/{self.shop.coupon_ids[index]}/issue",
                                   {**auth, "Idempotency-Key": uuid.uuid4().hex})


@dataclass
class Sample:
    operation: str
    status: int        # 0: no answer (connection failed, reset, timed out)
    latency: float     # seconds from when it was due to the end of the answer


def summarise(label: str, rate: float, seconds: float, samples: list[Sample], sent_span: float) -> dict[str, Any]:
    """Figures of one phase: achieved rate, latency percentiles, answers and errors by operation."""
    latencies = [s.latency for s in samples]
    errors = Counter(f"{s.operation} {s.status or 'no answer'}" for s in samples if s.status not in MIX[s.operation][1])
    by_operation = {}
    for operation in MIX:
        mine = [s for s in samples if s.operation == operation]
        by_operation[operation] = {
            "requests": len(mine), "p50_ms": round(percentile([s.latency for s in mine], 50) * 1000, 1),
            "p99_ms": round(percentile([s.latency for s in mine], 99) * 1000, 1),
            "answers": dict(sorted(Counter(str(s.status) for s in mine).items()))}
    return {"phase": label, "target_rate": round(rate, 1), "seconds": seconds, "requests": len(samples),
            "achieved_rate": round(len(samples) / sent_span, 1) if sent_span else 0.0,
            "p50_ms": round(percentile(latencies, 50) * 1000, 1), "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "max_ms": round(max(latencies, default=0.0) * 1000, 1), "errors": sum(errors.values()),
            "error_rate": round(sum(errors.values()) / max(1, len(samples)), 5),
            "errors_by_kind": dict(errors.most_common()), "by_operation": by_operation}


async def run_phase(mix: Mix, connections: Connections, rate: float, seconds: float, label: str,
                    answer_within: float) -> dict[str, Any]:
    """Send requests at `rate` per second for `seconds` (open loop); return the phase's figures."""
    samples: list[Sample] = []
    tasks: set[asyncio.Task[None]] = set()

    async def attempt(request: bytes, fresh: bool) -> tuple[int, bool]:
        """Send once; return (status, whether a reused connection failed before answering: worth one retry)."""
        conn: Conn | None = None
        reused = False
        try:
            conn, reused = await connections.take(fresh)
            reader, writer = conn
            writer.write(request)
            status, _, close = await asyncio.wait_for(read_response(reader), timeout=answer_within)
            if close:
                writer.close()
                conn = None
            return status, False
        except asyncio.IncompleteReadError as exc:
            if conn is not None:
                conn[1].close()
            conn = None
            return 0, reused and not exc.partial  # closed by the server while idle: nothing was read
        except (OSError, asyncio.LimitOverrunError, ValueError, TimeoutError):
            if conn is not None:
                conn[1].close()
            conn = None
            return 0, False
        finally:
            connections.give_back(conn)

    async def one(operation: str, request: bytes, due: float) -> None:
        # every POST of the mix carries its own Idempotency-Key, so sending the same bytes again is safe
        status, stale = await attempt(request, fresh=False)
        if stale:
            status, _ = await attempt(request, fresh=True)
        samples.append(Sample(operation, status, time.perf_counter() - due))

    total = int(rate * seconds)
    start = time.perf_counter()
    for index in range(total):
        due = start + index / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        operation, request = mix.next()
        task = asyncio.create_task(one(operation, request, due))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    sent_span = max(1e-9, time.perf_counter() - start)
    await asyncio.gather(*tasks)
    result = summarise(label, rate, seconds, samples, sent_span)
    print(f"  {label:<22} target {rate:7.1f}/s sent {result['achieved_rate']:7.1f}/s  p50 {result['p50_ms']:7.1f} ms"
          f"  p99 {result['p99_ms']:7.1f} ms  errors {result['errors']} {result['errors_by_kind'] or ''}", flush=True)
    return result


def held(result: dict[str, Any], args: argparse.Namespace) -> bool:
    """Whether a step held: p99 under the goal, few errors, and the generator kept the rate."""
    return (result["p99_ms"] < args.p99_goal_ms and result["error_rate"] < args.max_error_rate
            and result["achieved_rate"] >= 0.95 * result["target_rate"])


async def ramp(mix: Mix, connections: Connections, args: argparse.Namespace) -> tuple[float, list[dict[str, Any]]]:
    """Raise the rate step by step until a step does not hold; refine once; return the highest rate held."""
    steps = []
    best, missed = 0.0, None
    rate = args.start_rate
    while rate <= args.max_rate:
        result = await run_phase(mix, connections, rate, args.step_seconds, f"ramp {len(steps) + 1}", args.timeout)
        steps.append(result)
        if not held(result, args):
            missed = rate
            break
        best = rate
        rate *= 1.4
        await asyncio.sleep(2)  # let queues drain between steps
    if missed is not None and best:
        middle = (best + missed) / 2
        await asyncio.sleep(5)
        result = await run_phase(mix, connections, middle, args.step_seconds, "ramp (between)", args.timeout)
        steps.append(result)
        if held(result, args):
            best = middle
    return best, steps


async def wait_settled(client: httpx.AsyncClient, shop: Shop, within: float = 180.0) -> int:
    """Wait until no order is PENDING; return how many still are."""
    deadline = time.monotonic() + within
    pending = -1
    while time.monotonic() < deadline:
        with suppress(httpx.HTTPError, ValueError, KeyError):
            answer = await client.get(f"{shop.gateway}/api/order-service/admin/orders",
                                      params={"status": "PENDING", "size": 1},
                                      headers={"Authorization": f"Bearer {shop.admin}"})
            pending = int(answer.json()["total"])
            if pending == 0:
                return 0
        await asyncio.sleep(1.0)
    return pending


def gluta_check(args: list[str]) -> tuple[int, str]:
    """Run `gluta check` (its own process, as an operator would) and return its exit status and report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLUTA_") or k == "GLUTA_INTERNAL_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "gluta_cli", "check", "--settle", "30", *args], env=env,
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    return done.returncode, (done.stdout + done.stderr).strip()


# ============================================================================ main
async def main_async(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="gluta-mixed-"))
    results: dict[str, Any] = {"when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(),
                               "argv": sys.argv[1:], "machine_load_at_start": round(os.getloadavg()[0], 2),
                               "mode": "gateway" if args.gateway else f"self-contained ({args.database})"}
    code = 1
    try:
        async with AsyncExitStack() as stack:
            client = await stack.enter_async_context(httpx.AsyncClient(timeout=30.0))
            if args.gateway:
                gateway, check_args = args.gateway.rstrip("/"), list(args.check_arg or [])
                admin = (args.admin_login_id, args.admin_password)
            else:
                print(f"starting the system in {workdir} ...", flush=True)
                gateway, urls = await start_system(stack, workdir, args)
                check_args = [f"--url={name}={urls[name]}" for name in ("user", "product", "order")]
                admin = (args.admin_login_id, args.admin_password or "bench-Admin-passw0rd")
            shop = await prepare_shop(client, gateway, admin, args.members, args.coupons)
            parsed = urlparse(gateway)
            connections = Connections(parsed.hostname or HOST, parsed.port or 80, args.connections)
            mix = Mix(shop, args.seed)
            if args.rate:
                rate, steps = args.rate, []
            else:
                print("ramp: the highest rate with p99 under "
                      f"{args.p99_goal_ms:g} ms ({args.step_seconds:g} s per step)", flush=True)
                rate, steps = await ramp(mix, connections, args)
                if not rate:
                    raise RuntimeError(f"not even {args.start_rate}/s held; try a lower --start-rate")
                await asyncio.sleep(5)
            results["ramp"] = steps
            print(f"hold: {rate:.1f}/s for {args.seconds:g} s", flush=True)
            results["hold"] = await run_phase(mix, connections, rate, args.seconds, "hold", args.timeout)
            results["connections_opened"] = connections.opened
            results["machine_load_at_end"] = round(os.getloadavg()[0], 2)
            connections.close()
            still_pending = await wait_settled(client, shop)
            results["pending_after_settle"] = still_pending
            check_code, report = gluta_check(check_args)
            results["gluta_check"] = {"exit": check_code, "report": report}
            hold = results["hold"]
            print(f"\nresult: {hold['achieved_rate']}/s for {args.seconds:g} s through the gateway: "
                  f"p50 {hold['p50_ms']} ms, p99 {hold['p99_ms']} ms, max {hold['max_ms']} ms; "
                  f"errors {hold['errors']} {hold['errors_by_kind'] or ''}")
            for operation, figures in hold["by_operation"].items():
                print(f"  {operation:<9} {figures['requests']:>7} requests  p50 {figures['p50_ms']:7.1f} ms"
                      f"  p99 {figures['p99_ms']:7.1f} ms  answers {figures['answers']}")
            print(f"machine load (1 min) {results['machine_load_at_start']} at start, "
                  f"{results['machine_load_at_end']} at the end; {connections.opened} connections opened")
            print(f"\ngluta check (exit {check_code}):\n{report}")
            code = 0 if (check_code == 0 and hold["errors"] == 0 and hold["p99_ms"] < args.p99_goal_ms) else 1
    finally:
        if args.keep:
            print(f"work files kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / "mixed_load.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    print(f"results written to {out}")
    return code


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=300.0, help="how long to hold the rate found (300)")
    parser.add_argument("--rate", type=float, default=None, help="hold this rate; skip the ramp")
    parser.add_argument("--start-rate", type=float, default=20.0)
    parser.add_argument("--max-rate", type=float, default=5_000.0)
    parser.add_argument("--step-seconds", type=float, default=15.0)
    parser.add_argument("--p99-goal-ms", type=float, default=1_000.0)
    parser.add_argument("--max-error-rate", type=float, default=0.005, help="a ramp step with more errors failed")
    parser.add_argument("--members", type=int, default=100)
    parser.add_argument("--coupons", type=int, default=20)
    parser.add_argument("--connections", type=int, default=512, help="at most this many connections at once")
    parser.add_argument("--timeout", type=float, default=30.0, help="a request unanswered after this is an error")
    parser.add_argument("--seed", type=int, default=20261204)
    parser.add_argument("--gateway", default=None, help="a running system's gateway; without it, self-contained")
    parser.add_argument("--admin-login-id", default=os.environ.get("GLUTA_BENCH_ADMIN_LOGIN_ID", "benchadmin"))
    parser.add_argument("--admin-password", default=os.environ.get("GLUTA_BENCH_ADMIN_PASSWORD"))
    parser.add_argument("--check-arg", action="append", help="an argument for gluta check (running system)")
    parser.add_argument("--database", choices=["sqlite", "mysql"], default="sqlite", help="self-contained only")
    parser.add_argument("--mysql-url", default=None, help="default: $GLUTA_TEST_MYSQL_URL")
    parser.add_argument("--redis-url", default=None, help="self-contained: the Redis coupon gate on this server")
    parser.add_argument("--log-level", default="INFO", help="the services' log level (self-contained)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, SQLite files)")
    args = parser.parse_args(argv)
    if args.gateway and not args.admin_password:
        parser.error("--gateway needs --admin-password (or GLUTA_BENCH_ADMIN_PASSWORD)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _use_uvloop()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
