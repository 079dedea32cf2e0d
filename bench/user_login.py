"""User-service login throughput (Argon2id dominates) and the cost of verifying an access token.

    .venv/bin/python bench/user_login.py [--clients 1,4,16] [--seconds 8] [--members 32]
                                         [--time-cost 2] [--memory-kib 19456] [--parallelism 1]
                                         [--database-server mysql://root@127.0.0.1:3306/test] [--json out.json]

Starts on free ports of 127.0.0.1: a NATS JetStream server (the service needs its bus) and the user service
as a real process (`python -m gluta_user`; SQLite in a temp dir, or a temporary database made on the
MariaDB/PostgreSQL server given by --database-server and dropped afterwards; Argon2id with the given cost).
Signs up `--members` members, then for each client count logs them in round-robin from that many
concurrent clients for `--seconds` and prints logins/s, p50 and p99, and the service's CPU. Also prints
one Argon2id hash's time on this machine with those parameters (the floor of a login).

Then token verification with `gluta_kit.auth.TokenVerifier` (keys from the service's JWKS): µs per verify
uncached (every token seen for the first time: EdDSA signature + claims) and cached (the same token again).
Everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import psutil

HOST = "127.0.0.1"
PYTHON = sys.executable


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def find_nats_server() -> str:
    """Return the nats-server binary (the pip-installed one in the venv, else PATH)."""
    local = Path(PYTHON).parent / "nats-server"
    found = str(local) if local.exists() else shutil.which("nats-server")
    if not found:
        raise SystemExit("nats-server not found (it comes with the workspace's venv)")
    return found


def wait_until(url: str, process: subprocess.Popen[bytes], log: Path, seconds: float = 60.0) -> None:
    """Wait until `url` answers 200, or fail with the process's log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the service exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            if httpx.get(url, timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} did not come up:\n{log.read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop a process this bench started (SIGTERM, then SIGKILL)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def argon2_hash_ms(time_cost: int, memory_kib: int, parallelism: int, rounds: int = 10) -> float:
    """Return the median time of one Argon2id hash with these parameters, in ms."""
    from argon2 import PasswordHasher, Type

    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID)
    hasher.hash("warm-up-1")
    times = []
    for i in range(rounds):
        started = time.perf_counter()
        hasher.hash(f"password-{i}")
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def percentile(values: list[float], q: float) -> float:
    """Return the q-th percentile (0-100) of values."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def sign_up(client: httpx.AsyncClient, count: int) -> list[str]:
    """Sign `count` members up (four at a time); return their login ids."""
    run = secrets.token_hex(3)
    login_ids = [f"b{run}_{i:05d}" for i in range(count)]
    gate = asyncio.Semaphore(4)

    async def one(login_id: str) -> None:
        async with gate:
            response = await client.post("/members", json={
                "loginId": login_id, "password": "bench-pass-1", "memberName": "Bench", "phoneNumber": "010-0000-0000",
                "email": f"{login_id}@example.com"})
            response.raise_for_status()

    await asyncio.gather(*(one(login_id) for login_id in login_ids))
    return login_ids


async def login_load(client: httpx.AsyncClient, login_ids: list[str], clients: int, seconds: float,
                     tokens: list[str]) -> dict[str, float]:
    """Log in from `clients` concurrent clients for `seconds`; return logins/s, p50, p99 (ms), errors."""
    latencies: list[float] = []
    errors = 0
    error_kinds: Counter[str] = Counter()
    deadline = time.perf_counter() + seconds
    counter = 0

    async def worker() -> None:
        nonlocal errors, counter
        while time.perf_counter() < deadline:
            login_id = login_ids[counter % len(login_ids)]
            counter += 1
            started = time.perf_counter()
            try:
                response = await client.post("/login", json={"loginId": login_id, "password": "bench-pass-1"})
            except httpx.HTTPError as exc:
                errors += 1
                error_kinds[type(exc).__name__] += 1
                continue
            if response.status_code != 200:
                errors += 1
                error_kinds[f"{response.status_code} {response.json().get('code', '')}".strip()] += 1
                continue
            latencies.append((time.perf_counter() - started) * 1000)
            if len(tokens) < 5000:
                tokens.append(response.json()["accessToken"])

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return {"clients": clients, "logins": len(latencies), "errors": errors, "error_kinds": dict(error_kinds),
            "logins_per_s": len(latencies) / elapsed,
            "p50_ms": percentile(latencies, 50) if latencies else float("nan"),
            "p99_ms": percentile(latencies, 99) if latencies else float("nan")}


async def verification_cost(jwks: dict[str, Any], tokens: list[str], repeats: int = 20_000) -> dict[str, float]:
    """Return µs per TokenVerifier.verify, uncached (distinct tokens) and cached (the same token)."""
    from gluta_kit.auth import TokenVerifier

    async def no_fetch() -> dict[str, Any]:
        return jwks

    distinct = list(dict.fromkeys(tokens))
    verifier = TokenVerifier(no_fetch, issuer="gluta-user", audience="gluta", cache_size=len(distinct) + 10)
    verifier.set_keys(jwks)
    await verifier.verify(distinct[0])  # imports and first-call costs out of the way
    fresh = TokenVerifier(no_fetch, issuer="gluta-user", audience="gluta", cache_size=len(distinct) + 10)
    fresh.set_keys(jwks)
    started = time.perf_counter()
    for token in distinct:
        await fresh.verify(token)
    uncached = (time.perf_counter() - started) / len(distinct) * 1e6
    token = distinct[0]
    started = time.perf_counter()
    for _ in range(repeats):
        await fresh.verify(token)
    cached = (time.perf_counter() - started) / repeats * 1e6
    return {"uncached_us": uncached, "cached_us": cached, "distinct_tokens": len(distinct)}


async def run_bench(args: argparse.Namespace, base_url: str, service: psutil.Process) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=max(args.clients) + 4, max_keepalive_connections=max(args.clients) + 4)
    async with httpx.AsyncClient(base_url=base_url, timeout=60.0, limits=limits) as client:
        login_ids = await sign_up(client, args.members)
        tokens: list[str] = []
        await login_load(client, login_ids, 2, 1.0, tokens)  # warm-up
        loads = []
        for clients in args.clients:
            service.cpu_percent(None)
            result = await login_load(client, login_ids, clients, args.seconds, tokens)
            result["service_cpu_percent"] = service.cpu_percent(None)
            loads.append(result)
            print(f"  {clients:>3} clients: {result['logins_per_s']:7.1f} logins/s   p50 {result['p50_ms']:7.1f} ms   "
                  f"p99 {result['p99_ms']:7.1f} ms   errors {result['errors']} {result['error_kinds'] or ''}   "
                  f"service CPU {result['service_cpu_percent']:.0f}%", flush=True)
        jwks = (await client.get("/.well-known/jwks.json")).json()
    verify = await verification_cost(jwks, tokens)
    return {"logins": loads, "verify": verify}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1,4,16", help="comma-separated concurrent client counts")
    parser.add_argument("--seconds", type=float, default=8.0, help="seconds of load per client count")
    parser.add_argument("--members", type=int, default=32, help="members to sign up and log in round-robin")
    parser.add_argument("--time-cost", type=int, default=2, help="Argon2id iterations (t)")
    parser.add_argument("--memory-kib", type=int, default=19 * 1024, help="Argon2id memory in KiB (m)")
    parser.add_argument("--parallelism", type=int, default=1, help="Argon2id lanes (p)")
    parser.add_argument("--database-server", default=None,
                        help="MariaDB/PostgreSQL server URL to make a temporary database on (default: SQLite)")
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args()
    args.clients = [int(c) for c in str(args.clients).split(",") if c.strip()]

    print(f"Argon2id m={args.memory_kib} KiB ({args.memory_kib / 1024:.0f} MiB), t={args.time_cost}, "
          f"p={args.parallelism}; {os.cpu_count()} CPUs", flush=True)
    hash_ms = argon2_hash_ms(args.time_cost, args.memory_kib, args.parallelism)
    print(f"one hash on this machine: {hash_ms:.1f} ms  (ceiling ≈ {1000 / hash_ms * (os.cpu_count() or 1):.0f} "
          "hashes/s on all cores)", flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="gluta-bench-user-"))
    processes: list[subprocess.Popen[bytes]] = []
    database = None
    args.database_url = None
    db_loop = asyncio.new_event_loop()  # not asyncio.run: closing its loop would finalise (drop) the database
    if args.database_server:
        from gluta_kit.testing import temp_database

        database = temp_database(args.database_server)
        args.database_url = db_loop.run_until_complete(database.__aenter__())
    try:
        nats_port, port = free_port(), free_port()
        nats_log = open(workdir / "nats.log", "wb")  # noqa: SIM115 (closed with the process)
        processes.append(subprocess.Popen([find_nats_server(), "-a", HOST, "-p", str(nats_port), "-js", "-sd",
                                           str(workdir / "nats")], stdout=nats_log, stderr=subprocess.STDOUT))
        env = {**os.environ, "GLUTA_HOST": HOST, "GLUTA_PORT": str(port), "GLUTA_DATA_DIR": str(workdir),
               "GLUTA_BUS_URL": f"nats://{HOST}:{nats_port}", "GLUTA_DISCOVERY_URL": "", "GLUTA_CONFIG_URL": "",
               "GLUTA_LOG_LEVEL": "WARNING", "GLUTA_KEY_ENCRYPTION_SECRET": secrets.token_urlsafe(24),
               "GLUTA_ARGON2_TIME_COST": str(args.time_cost), "GLUTA_ARGON2_MEMORY_KIB": str(args.memory_kib),
               "GLUTA_ARGON2_PARALLELISM": str(args.parallelism), "GLUTA_DEMO": "false",
               "GLUTA_LOGIN_MAX_FAILURES_PER_ADDRESS": "100000"}
        if args.database_url:
            env["GLUTA_DATABASE_URL"] = args.database_url
        log = workdir / "user.log"
        with open(log, "wb") as service_log:
            service = subprocess.Popen([PYTHON, "-m", "gluta_user"], env=env, stdout=service_log,
                                       stderr=subprocess.STDOUT)
        processes.append(service)
        base_url = f"http://{HOST}:{port}"
        wait_until(f"{base_url}/ready", service, log)
        print(f"user service pid {service.pid} on {base_url}, database "
              f"{args.database_server or 'SQLite'}; {args.members} members", flush=True)
        results = asyncio.run(run_bench(args, base_url, psutil.Process(service.pid)))
    finally:
        for process in reversed(processes):
            stop(process)
        shutil.rmtree(workdir, ignore_errors=True)
        if database is not None:
            db_loop.run_until_complete(database.__aexit__(None, None, None))
        db_loop.close()

    verify = results["verify"]
    print(f"token verification (gluta_kit.auth.TokenVerifier, {verify['distinct_tokens']} distinct tokens): "
          f"uncached {verify['uncached_us']:.1f} µs/verify, cached {verify['cached_us']:.2f} µs/verify")
    summary = {"argon2id": {"memory_kib": args.memory_kib, "time_cost": args.time_cost,
                            "parallelism": args.parallelism, "hash_ms": hash_ms},
               "cpus": os.cpu_count(), "database": args.database_server or "sqlite", **results}
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
