"""Product search benchmark: a large catalog, page queries against the running product service.

    .venv/bin/python bench/product_search.py [--products 100000] [--database sqlite|mysql|postgres]
                                             [--queries 60] [--concurrency 1] [--seconds 5] [--gateway]
                                             [--db-pid PID] [--database-url URL] [--skip-rates] [--keep]

1. Generates `--products` products (gluta_product/demo/generated.py: Korean and English names,
   descriptions and HTML content, types, styles, varied prices, likes and sales) and bulk-inserts them
   with the service's own search columns, tokens and vocabulary (no HTTP), plus the demo synonyms, into a
   fresh database: a SQLite file in a temp folder, or a temporary MariaDB/PostgreSQL database on the server
   named by GLUTA_TEST_MYSQL_URL / GLUTA_TEST_POSTGRES_URL (dropped at the end). Prints how long loading
   took and the size on disk of the product table, its indexes and the text indexes.
2. Starts the product service on a free port of 127.0.0.1 as its own process (in-memory event bus).
3. Times keyword + filter + sort page queries over HTTP, per query shape (p50/p95/p99, and the CPU the
   service process spent per query, from /proc) — spacing-free, any word order, 초성, typo, synonym,
   relevance (the default order with a keyword) and did-you-mean included —, then autocomplete prefixes,
   then likes (PUT /products/{id}/like by many members) and detail reads per second for `--seconds` each.
With `--gateway`, also starts a discovery service and the API gateway (as `python -m gluta_discovery` /
`python -m gluta_gateway` run them; the service registers itself in discovery) and times the same
shapes through GET /api/product-service/products/search, with the gateway's CPU per query too.
`--db-pid $(pgrep -x mariadbd)` adds the database server's CPU per query (shared with anything else using
that server) and waits for it to go idle after the load; `--database-url` measures a catalog loaded by an
earlier run (nothing generated, nothing dropped); `--keep` leaves the loaded MariaDB/PostgreSQL database
in place and prints its URL for that (drop it yourself when done).
Goals: p95 <= 50 ms for every search shape, autocomplete p95 <= 20 ms, on SQLite and on MariaDB (100,000
products; `--products 1000000` for the large run). Everything started is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
ROOT = Path(__file__).resolve().parent.parent

# (label, query params): keyword + filter + sort page queries, the shapes a shop front sends.
QUERY_SHAPES: list[tuple[str, list[dict[str, Any]]]] = [
    ("browse newest (no keyword)", [{}]),
    ("2-char Korean keyword", [{"keyword": k} for k in ("니트", "코트", "셔츠", "데님", "로퍼", "부츠")]),
    ("1-char keyword '울' (~66% match)", [{"keyword": "울"}]),
    ("3+ char Korean keyword", [{"keyword": k} for k in ("가디건", "스니커즈", "오버핏 울", "크로스백", "청바지")]),
    ("English keyword", [{"keyword": k} for k in ("wool", "cardigan", "leather jacket", "sneakers", "knit")]),
    ("keyword + type + priceAsc", [{"keyword": k, "type": t, "sort": "priceAsc"}
                                   for k, t in (("니트", 1), ("wool", 1), ("코튼", 2), ("denim", 3))]),
    ("keyword + style + price + popular", [{"keyword": k, "style": s, "minPrice": 20_000, "maxPrice": 120_000,
                                            "sort": "popular"} for k, s in (("니트", "캐주얼"), ("가디건", "미니멀"),
                                                                            ("leather", "스트릿"))]),
    ("type + sort by name", [{"type": t, "sort": "name"} for t in (2, 5, 7)]),
    ("deep page (page 50)", [{"keyword": "니트", "page": 50}, {"page": 50, "sort": "priceDesc"}]),
    ("no match (+ did-you-mean)", [{"keyword": "존재하지않는상품"}, {"keyword": "zzqx"}]),
    # issue 15: the shapes of a forgiving search (relevance is the default order with a keyword)
    ("spacing-free", [{"keyword": k} for k in ("니트가디건", "울코트", "오버핏니트", "레더부츠", "크롭티셔츠")]),
    ("multi-word, any order", [{"keyword": k} for k in ("가디건 울", "코트 오버핏", "부츠 레더", "cardigan wool")]),
    ("초성", [{"keyword": k} for k in ("ㄱㄷㄱ", "ㅅㄴㅋㅈ", "ㄴㅌ", "니ㅌ", "ㅇㅂㅍ ㅋㅌ")]),
    ("typo (one jamo)", [{"keyword": k} for k in ("가디견", "스니커주", "블라우수", "cardigam")]),
    ("synonym", [{"keyword": k} for k in ("맨투맨", "청바지", "운동화", "jeans", "목도리")]),
    ("relevance + type + price", [{"keyword": k, "type": t, "maxPrice": 150_000, "sort": "relevance"}
                                  for k, t in (("니트", 2), ("울 코트", 1), ("가디건", 1))]),
    ("relevance, page 5", [{"keyword": k, "page": 5} for k in ("니트", "가디건", "울")]),
    ("did-you-mean (nothing found)", [{"keyword": k} for k in ("니투 가디건", "가디건 스웨타 부츠", "슬렉스 코트")]),
]
AUTOCOMPLETE: list[str] = ["니", "니트", "니트가", "울 니", "ㄴㅌ", "ㄱㄷㄱ", "가디", "wo", "wool c", "스니",
                           "오버핏 울", "ㅇㅂㅍ"]


def free_port() -> int:
    """Return a free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], p: float) -> float:
    """Return the p-th percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


# --------------------------------------------------------------------------- data generation


async def load_catalog(database_url: str, count: int) -> float:
    """Migrate a fresh database and bulk-insert `count` generated products (gluta_product.demo.generated)."""
    from gluta_product.demo.generated import load_catalog as load
    from gluta_product.demo.service import SYNONYMS

    def progress(line: str) -> None:
        print(f"\r  {line}", end="", flush=True)

    seconds = await load(database_url, count, progress=progress)
    print()
    from sqlalchemy import insert

    from gluta_kit.db import Database
    from gluta_product.synonym.models import SearchSynonym

    db = Database(database_url)
    async with db.write_engine.begin() as conn:  # the demo synonyms, as an admin would keep them
        await conn.execute(insert(SearchSynonym.__table__), [
            {"term": t, "synonym": w} for t, words in SYNONYMS.items() for w in words])
    await db.dispose()
    return seconds


async def sizes(database_url: str) -> list[tuple[str, float]]:
    """Return (object, MB on disk) of the product table, its indexes and the text indexes."""
    from gluta_kit.db import Database

    db = Database(database_url)
    found: list[tuple[str, float]] = []
    async with db.write_engine.connect() as conn:
        if db.dialect == "sqlite":
            try:
                rows = (await conn.exec_driver_sql("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all()
            except Exception:  # noqa: BLE001 - a SQLite built without the dbstat table
                rows = []
            for name, size in rows:
                key = ("product table" if name == "product" else
                       "text index: FTS5 trigram" if name.startswith("product_fts") else
                       "text index: FTS5 tokens" if name.startswith("product_gram_fts") else
                       "vocabulary (typos)" if name.startswith(("search_term", "sqlite_autoindex_search_term")) else
                       "product indexes" if name.startswith(("ix_product", "sqlite_autoindex_product_1")) else "other")
                found.append((key, size / 2**20))
            merged: dict[str, float] = {}
            for key, size in found:
                merged[key] = merged.get(key, 0) + size
            found = list(merged.items())
        elif db.dialect == "mysql":
            rows = (await conn.exec_driver_sql(
                "SELECT table_name, data_length, index_length FROM information_schema.tables "
                "WHERE table_schema = DATABASE() AND table_name IN ('product', 'product_gram', 'search_term', "
                "'search_term_key')")).all()
            for table, data, index in rows:
                found.append((f"{table} data", data / 2**20))
                found.append((f"{table} indexes", index / 2**20))
        else:
            rows = (await conn.exec_driver_sql(
                "SELECT c.relname, pg_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
                "c.relnamespace WHERE n.nspname = current_schema() AND (c.relname LIKE 'product%' OR c.relname LIKE "
                "'ix_product%' OR c.relname LIKE 'search_term%')")).all()
            found = [(name, size / 2**20) for name, size in rows if size > 1_000_000]
    await db.dispose()
    return sorted(found, key=lambda f: -f[1])


async def settle(pid: int, seconds: float = 180) -> None:
    """Wait until the database server is idle (its CPU below 5 % over 2 s): after a bulk load InnoDB's page
    cleaner and purge threads keep working, and that would count in the server's CPU per query."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        before = cpu_ms(pid)
        await asyncio.sleep(2)
        if cpu_ms(pid) - before < 100:
            break
    print(f"  database server idle after {time.perf_counter() - started:.0f} s")


# --------------------------------------------------------------------------- the service process


def serve(port: int, data_dir: str, database_url: str, jwks_path: str, discovery_url: str | None = None) -> None:
    """Run the product service with an in-memory bus (child process), registered in discovery if given."""
    import uvicorn
    from faststream.nats import TestNatsBroker

    from gluta_kit.logging import setup_logging
    from gluta_product.app import create_app
    from gluta_product.settings import ProductSettings

    setup_logging("product", "WARNING")
    settings = ProductSettings.load(data_dir=Path(data_dir), database_url=database_url, port=port, host=HOST,
                                    discovery_url=discovery_url or None, config_url=None, log_level="WARNING")
    app = create_app(settings)
    service = app.state.service
    service.verifier.set_keys(json.loads(Path(jwks_path).read_text()))
    service.bus.in_memory = True

    async def main() -> None:
        async with TestNatsBroker(service.bus.broker):
            config = uvicorn.Config(app, host=HOST, port=port, log_config=None, access_log=False, lifespan="on",
                                    loop="uvloop", http="httptools")
            await uvicorn.Server(config).serve()

    asyncio.run(main())


# --------------------------------------------------------------------------- measuring


async def timed(client: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await client.request(method, url, **kwargs)
    return (time.perf_counter() - started) * 1000, response


def cpu_ms(pid: int) -> float:
    """Return the CPU time (user + system) a process has used so far, in ms (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


async def measure_search(client: httpx.AsyncClient, rounds: int, concurrency: int, path: str = "/products/search",
                         pids: dict[str, int] | None = None,
                         shapes: list[tuple[str, list[dict[str, Any]]]] | None = None,
                         ) -> list[tuple[str, list[float], int, dict[str, float]]]:
    """Run every query shape `rounds` times; return (label, latencies ms, example total, CPU ms per query by pid)."""
    results = []
    for label, variants in shapes or QUERY_SHAPES:
        latencies: list[float] = []
        total = 0
        queue = [variants[i % len(variants)] for i in range(rounds)]
        for params in variants:  # warm up
            await client.get(path, params=params)
        cpu_before = {name: cpu_ms(pid) for name, pid in (pids or {}).items()}

        async def worker(queue: list[dict[str, Any]], latencies: list[float]) -> int:
            seen = 0
            while queue:
                params = queue.pop()
                ms, response = await timed(client, "GET", path, params=params)
                assert response.status_code == 200, response.text
                latencies.append(ms)
                body = response.json()
                seen = max(seen, body["total"] if "total" in body else len(body["items"]))
            return seen

        totals = await asyncio.gather(*(worker(queue, latencies) for _ in range(concurrency)))
        total = max(totals)
        cpu = {name: (cpu_ms(pid) - cpu_before[name]) / rounds for name, pid in (pids or {}).items()}
        results.append((label, latencies, total, cpu))
    return results


def print_search(results: list[tuple[str, list[float], int, dict[str, float]]], goal: float = 50) -> float:
    """Print p50/p95/p99/max and CPU per query for each shape and overall; return the worst shape's p95."""
    names = list(results[0][3]) if results else []
    print(f"  {'query shape':38} {'p50':>8} {'p95':>8} {'p99':>8} {'max':>8}  "
          + "".join(f"{'cpu ' + n:>13}" for n in names) + "  total")
    everything: list[float] = []
    for label, latencies, total, cpu in results:
        everything += latencies
        print(f"  {label:38} {statistics.median(latencies):7.1f}ms {percentile(latencies, 95):7.1f}ms "
              f"{percentile(latencies, 99):7.1f}ms {max(latencies):7.1f}ms  "
              + "".join(f"{cpu[n]:11.1f}ms" for n in names) + f"  {total:,}")
    p95 = percentile(everything, 95)
    worst = max(percentile(latencies, 95) for _, latencies, _, _ in results)
    print(f"  {'ALL':38} {statistics.median(everything):7.1f}ms {p95:7.1f}ms "
          f"{percentile(everything, 99):7.1f}ms {max(everything):7.1f}ms")
    print(f"  goal p95 <= {goal:.0f} ms for every shape: {'MET' if worst <= goal else 'NOT MET'} (worst shape "
          f"{worst:.1f} ms; all together {p95:.1f} ms)   (load average now {os.getloadavg()[0]:.1f}: other "
          "processes share the cores)")
    return worst


async def rate(client: httpx.AsyncClient, seconds: float, concurrency: int, make_request: Any) -> tuple[float, float]:
    """Send requests from `concurrency` workers for `seconds`; return (requests per second, p95 ms)."""
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds

    async def worker(worker_id: int) -> None:
        n = 0
        while time.perf_counter() < deadline:
            method, url, kwargs = make_request(worker_id, n)
            ms, response = await timed(client, method, url, **kwargs)
            assert response.status_code < 300, response.text
            latencies.append(ms)
            n += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    return len(latencies) / (time.perf_counter() - started), percentile(latencies, 95)


def spawn_service(port: int, tmp: Path, database_url: str, jwks: Path,
                  discovery_url: str = "") -> tuple[subprocess.Popen[bytes], Any]:
    """Start the service process, logging to a file in the temp folder."""
    log = open(tmp / "service.log", "w")  # noqa: SIM115 - closed by the caller
    process = subprocess.Popen([sys.executable, __file__, "--serve", str(port), str(tmp), database_url, str(jwks),
                                discovery_url], stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    return process, log


def spawn(name: str, argv: list[str], tmp: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Any]:
    """Start a helper process (discovery, gateway) logging to a file in the temp folder."""
    log = open(tmp / f"{name}.log", "w")  # noqa: SIM115 - closed by the caller
    process = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    return process, log


async def wait_ready(client: httpx.AsyncClient, path: str, tmp: Path, log_name: str, seconds: float = 60) -> bool:
    """Wait until `path` answers 200; print the log's tail and return False if it never does."""
    for _ in range(int(seconds * 10)):
        try:
            if (await client.get(path)).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    print((tmp / f"{log_name}.log").read_text()[-3000:])
    return False


def stop(children: list[tuple[subprocess.Popen[bytes], Any]]) -> None:
    """Stop the processes this benchmark started (by their Popen handles), newest first."""
    for process, log in reversed(children):
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


async def run(args: argparse.Namespace) -> int:
    from gluta_kit.testing import TestKeys, create_database, server_url, temp_database

    async with AsyncExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="gluta-bench-")))
        if args.database_url:  # a catalog this script loaded before: measure it again as it is
            database_url = args.database_url
        elif args.database == "sqlite":
            database_url = f"sqlite+aiosqlite:///{tmp / 'product.db'}"
        else:
            server = server_url(args.database)
            if not server:
                print(f"GLUTA_TEST_{args.database.upper()}_URL is not set", file=sys.stderr)
                return 2
            database_url = await (create_database(server, prefix="gluta_bench_") if args.keep
                                  else stack.enter_async_context(temp_database(server)))
        print(f"== product search benchmark: {args.products:,} products on {args.database} "
              f"(load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
        if not args.database_url:
            seconds = await load_catalog(database_url, args.products)
            print(f"  generated and loaded in {seconds:.1f} s ({args.products / seconds:,.0f} products/s)")
            if args.keep and args.database != "sqlite":
                print(f"  kept: measure again with --database-url {database_url} --skip-rates")
        print("  on disk: " + ", ".join(f"{name} {mb:,.1f} MB" for name, mb in await sizes(database_url)))
        if args.db_pid:
            await settle(args.db_pid)

        keys = TestKeys()
        jwks = tmp / "jwks.json"
        jwks.write_text(json.dumps(keys.jwks))
        port = free_port()
        children: list[tuple[subprocess.Popen[bytes], Any]] = []
        discovery_url = ""
        try:
            if args.gateway:
                discovery_port = free_port()
                discovery_url = f"http://{HOST}:{discovery_port}"
                base_env = {"GLUTA_HOST": HOST, "GLUTA_DATA_DIR": str(tmp), "GLUTA_CONFIG_URL": "", "GLUTA_BUS_URL": "",
                            "GLUTA_LOG_LEVEL": "WARNING"}
                children.append(spawn("discovery", [sys.executable, "-m", "gluta_discovery"], tmp, {
                    **base_env, "GLUTA_PORT": str(discovery_port), "GLUTA_DISCOVERY_URL": ""}))
                async with httpx.AsyncClient(base_url=discovery_url, timeout=5) as probe:
                    if not await wait_ready(probe, "/health", tmp, "discovery"):
                        return 1
            children.append(spawn_service(port, tmp, database_url, jwks, discovery_url))
            base = f"http://{HOST}:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                if not await wait_ready(client, "/health", tmp, "service"):
                    return 1
                pids = {"service": children[-1][0].pid}
                if args.db_pid:  # the database server: shared with whatever else uses it
                    pids["db server"] = args.db_pid
                print(f"\n-- search pages over HTTP, straight to the service ({args.queries} queries per shape, "
                      f"concurrency {args.concurrency}, size 20)")
                print_search(await measure_search(client, args.queries, args.concurrency, pids=pids))
                print(f"\n-- autocomplete: GET /products/autocomplete?prefix= ({args.queries} queries per shape)")
                prefixes = [(f"prefix {p!r}", [{"prefix": p}]) for p in AUTOCOMPLETE]
                prefixes.append(("all prefixes", [{"prefix": p} for p in AUTOCOMPLETE]))
                print_search(await measure_search(client, args.queries, args.concurrency, "/products/autocomplete",
                                                  pids, prefixes), goal=20)
                suggestions = [(await client.get("/products/search", params={"keyword": k})).json().get("didYouMean")
                               for k in ("니투 가디건", "가디건 스웨타 부츠", "슬렉스 코트")]
                print(f"  did-you-mean answers: {suggestions}")

                if args.gateway:
                    gateway_port = free_port()
                    children.append(spawn("gateway", [sys.executable, "-m", "gluta_gateway"], tmp, {
                        **base_env, "GLUTA_PORT": str(gateway_port), "GLUTA_DISCOVERY_URL": discovery_url,
                        "GLUTA_ROUTED_SERVICES": '["product"]',  # ready (and routing) with the one service
                        # one load generator is one address: the limiter runs but never refuses
                        "GLUTA_RATE_LIMIT_GUEST_PER_SECOND": "1000000000",
                        "GLUTA_RATE_LIMIT_GUEST_BURST": "1000000000"}))
                    async with httpx.AsyncClient(base_url=f"http://{HOST}:{gateway_port}", timeout=30) as through:
                        if not await wait_ready(through, "/ready", tmp, "gateway"):
                            return 1
                        pids["gateway"] = children[-1][0].pid
                        print(f"\n-- the same through the gateway: GET /api/product-service/products/search "
                              f"({args.queries} queries per shape, concurrency {args.concurrency})")
                        print_search(await measure_search(through, args.queries, args.concurrency,
                                                          "/api/product-service/products/search", pids))

                if not args.skip_rates:
                    await measure_rates(client, keys, args)
        finally:
            stop(children)
    return 0


async def measure_rates(client: httpx.AsyncClient, keys: Any, args: argparse.Namespace) -> None:
    """Likes (PUT /products/{id}/like by many members) and detail reads per second, straight to the service."""
    members = [keys.bearer(1000 + i, "member") for i in range(500)]
    rng = random.Random(3)

    def like(worker: int, n: int) -> tuple[str, str, dict[str, Any]]:
        return "PUT", f"/products/{rng.randrange(1, args.products + 1)}/like", {
            "headers": members[(worker * 7919 + n) % len(members)]}

    def detail(worker: int, n: int) -> tuple[str, str, dict[str, Any]]:
        return "GET", f"/products/{rng.randrange(1, args.products + 1)}", {}

    print(f"\n-- writes and reads per second ({args.seconds:.0f} s each, {args.rate_concurrency} "
          "concurrent clients)")
    per_second, p95_health = await rate(client, args.seconds, args.rate_concurrency,
                                        lambda w, n: ("GET", "/health", {}))
    print(f"  GET /health (baseline)     {per_second:8.0f} /s   p95 {p95_health:6.1f} ms")
    per_second, p95_like = await rate(client, args.seconds, args.rate_concurrency, like)
    print(f"  PUT /products/{{id}}/like   {per_second:8.0f} /s   p95 {p95_like:6.1f} ms")
    per_second, p95_detail = await rate(client, args.seconds, args.rate_concurrency, detail)
    print(f"  GET /products/{{id}}        {per_second:8.0f} /s   p95 {p95_detail:6.1f} ms")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--serve":
        serve(int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6] if len(sys.argv) > 6 else None)
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--products", type=int, default=100_000, help="catalog size (default 100,000)")
    parser.add_argument("--database", choices=["sqlite", "mysql", "postgres"], default="sqlite")
    parser.add_argument("--queries", type=int, default=60, help="queries per shape")
    parser.add_argument("--concurrency", type=int, default=1, help="concurrent search clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of the like and detail runs")
    parser.add_argument("--rate-concurrency", type=int, default=8, help="concurrent clients for likes/detail")
    parser.add_argument("--gateway", action="store_true", help="also time the shapes through discovery + gateway")
    parser.add_argument("--db-pid", type=int, help="also report this database server process's CPU per query")
    parser.add_argument("--database-url", help="measure a catalog this script loaded before (no generation)")
    parser.add_argument("--skip-rates", action="store_true", help="skip the like and detail throughput runs")
    parser.add_argument("--keep", action="store_true",
                        help="keep the loaded MariaDB/PostgreSQL database and print its URL (for --database-url)")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    raise SystemExit(asyncio.run(run(parser.parse_args())))


if __name__ == "__main__":
    main()
