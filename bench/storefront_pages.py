"""Storefront pages per second and latency (p50/p95/p99) for the home and search pages, against a running system.

    .venv/bin/python bench/storefront_pages.py --base-url http://127.0.0.1:8090 --duration 20 --concurrency 8

Guests browse: the home page (banners, best sellers, new arrivals, popular styles) and search result pages
in Korean with various filters, sorts and pages. The storefront keeps guest-visible lists a few seconds
(`public_cache_seconds`); `--cold` adds a random price floor to every search so none comes from that
cache (each one then costs a gateway → product-service search). Goal: p95 ≤ 150 ms.
Prints a table and, with `--json FILE`, writes the figures. Exit code 1 when an error answer was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

KEYWORDS = ["셔츠", "니트", "팬츠", "원피스", "가방", "신발", "모자", "코트", "스커트", "티셔츠", "데님", "가죽", "울",
            "코튼", "후드", "귀걸이", "벨트", "부츠"]
SORTS = ["newest", "popular", "priceAsc", "priceDesc", "name"]
GOAL_P95_MS = 150.0


@dataclass
class Series:
    """Latencies of one kind of page."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    bytes: int = 0

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered) + 0.5) - 1))
        return ordered[index] * 1000


def search_params(rng: random.Random, cold: bool) -> dict[str, str]:
    params = {"keyword": rng.choice(KEYWORDS), "sort": rng.choice(SORTS), "page": str(rng.choice([1, 1, 1, 2]))}
    if rng.random() < 0.3:
        params.pop("keyword")
        params["style"] = rng.choice(["캐주얼", "미니멀", "스트릿", "러블리", "빈티지", "오피스"])
    if cold:
        params["minPrice"] = str(rng.randrange(0, 5000))
    return params


async def worker(client: httpx.AsyncClient, stop_at: float, home: Series, search: Series, seed: int,
                 cold: bool, search_share: float) -> None:
    rng = random.Random(seed)
    while time.perf_counter() < stop_at:
        is_search = rng.random() < search_share
        series = search if is_search else home
        started = time.perf_counter()
        try:
            if is_search:
                response = await client.get("/search", params=search_params(rng, cold))
            else:
                response = await client.get("/")
            elapsed = time.perf_counter() - started
        except httpx.HTTPError:
            series.errors += 1
            continue
        if response.status_code != 200:
            series.errors += 1
            continue
        series.latencies.append(elapsed)
        series.bytes += len(response.content)


async def run(base_url: str, duration: float, concurrency: int, warmup: float, cold: bool,
              search_share: float) -> dict[str, Series]:
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, timeout=10.0, limits=limits, trust_env=False) as client:
        probe = await client.get("/")
        probe.raise_for_status()
        if warmup > 0:
            scratch = Series(), Series()
            await asyncio.gather(*(worker(client, time.perf_counter() + warmup, *scratch, seed=1000 + i, cold=cold,
                                          search_share=search_share) for i in range(concurrency)))
        home, search = Series(), Series()
        stop_at = time.perf_counter() + duration
        await asyncio.gather(*(worker(client, stop_at, home, search, seed=i, cold=cold, search_share=search_share)
                               for i in range(concurrency)))
    return {"home": home, "search": search}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8090", help="the storefront (default %(default)s)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured (default %(default)s)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (default %(default)s)")
    parser.add_argument("--concurrency", type=int, default=8, help="simultaneous guests (default %(default)s)")
    parser.add_argument("--search-share", type=float, default=0.5, help="share of search pages (default 0.5)")
    parser.add_argument("--cold", action="store_true", help="make every search miss the storefront's short cache")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    args = parser.parse_args(argv)
    results = asyncio.run(run(args.base_url, args.duration, max(1, args.concurrency), args.warmup, args.cold,
                              min(1.0, max(0.0, args.search_share))))
    figures = {}
    print(f"storefront {args.base_url}  {args.duration:.0f}s  concurrency {args.concurrency}"
          f"  searches {'cold' if args.cold else 'warm'}")
    print(f"{'page':<8}{'pages/s':>10}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'errors':>8}")
    for name, series in results.items():
        rate = len(series.latencies) / args.duration
        mean = statistics.fmean(series.latencies) * 1000 if series.latencies else float("nan")
        figures[name] = {"pagesPerSecond": round(rate, 1), "p50Ms": round(series.percentile(50), 1),
                         "p95Ms": round(series.percentile(95), 1), "p99Ms": round(series.percentile(99), 1),
                         "meanMs": round(mean, 1), "count": len(series.latencies), "errors": series.errors,
                         "avgBytes": series.bytes // max(1, len(series.latencies))}
        row = figures[name]
        print(f"{name:<8}{row['pagesPerSecond']:>10}{row['p50Ms']:>10}{row['p95Ms']:>10}{row['p99Ms']:>10}"
              f"{row['meanMs']:>10}{row['errors']:>8}")
    total = sum(len(s.latencies) for s in results.values()) / args.duration
    worst = max(f["p95Ms"] for f in figures.values())
    verdict = "meets" if worst <= GOAL_P95_MS else "misses"
    print(f"total {total:.1f} pages/s; worst p95 {worst:.1f} ms {verdict} the goal of {GOAL_P95_MS:.0f} ms")
    if args.json:
        args.json.write_text(json.dumps({"baseUrl": args.base_url, "duration": args.duration,
                                         "concurrency": args.concurrency, "cold": args.cold,
                                         "pages": figures, "goalP95Ms": GOAL_P95_MS}, indent=2))
    return 1 if any(s.errors for s in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
