"""Token buckets per client: in this process's memory, or in Redis, shared by every gateway instance.

A member is counted by its token's subject, a guest by its address, so thousands of members behind
one address (an office, a mobile carrier's NAT) each get their own budget.

Local mode (no `redis_url`): the buckets live in the gateway process. With `redis_url` (production,
several instances behind a load balancer) they live in Redis and every instance counts against the
same budget: one Lua script decides atomically with Redis' own clock (GCRA, the token bucket written as
one timestamp per client). One script call is out at a time: the checks that arrive while it is out (or
in the same step of the event loop) go together in the next, so a storm costs one round trip and one trip
through redis-py for dozens of requests, not one each, and a quiet gateway waits for nothing.

When Redis fails the gateway neither refuses everyone (a 503 storm) nor lets floods through: it falls
back to its in-process buckets (each instance then limits at the full rate on its own, as in local
mode), logs it, and tries Redis again after `REDIS_RETRY_SECONDS`. Never a 500.
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import time
from collections.abc import Callable
from typing import Any

from gluta_gateway.settings import GatewaySettings
from gluta_kit.logging import get_logger

log = get_logger("gluta.gateway.ratelimit")

REDIS_RETRY_SECONDS = 5.0
MAX_BATCH = 256

# KEYS: one bucket key per check. ARGV[i]: "<interval_us>:<burst>" for KEYS[i]. Each bucket is its
# "theoretical arrival time" (TAT, microseconds of Redis' clock): a request is allowed when, counted, the
# TAT stays within `burst` intervals of now (a full bucket admits `burst` at once, then one per interval).
# Returns per check 0 (allowed) or the microseconds until it would be.
GCRA_SCRIPT = """
local now_parts = redis.call('TIME')
local now = tonumber(now_parts[1]) * 1000000 + tonumber(now_parts[2])
local results = {}
for i = 1, #KEYS do
  local sep = string.find(ARGV[i], ':', 1, true)
  local interval = tonumber(string.sub(ARGV[i], 1, sep - 1))
  local burst = tonumber(string.sub(ARGV[i], sep + 1))
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local new_tat = tat + interval
  local over = new_tat - now - burst * interval
  if over > 0 then
    results[i] = over
  else
    redis.call('SET', KEYS[i], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1000)
    results[i] = 0
  end
end
return results
"""


class TokenBuckets:
    """Buckets of `burst` tokens refilled at `rate` per second; one token per request."""

    def __init__(self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic,
                 sweep_every: float = 30.0) -> None:
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._buckets: dict[str, list[float]] = {}  # key -> [tokens, updated_at]
        self._sweep_every = sweep_every
        self._swept_at = clock()

    def configure(self, rate: float, burst: int) -> None:
        """Change the rate and burst; existing buckets keep their tokens (capped at the new burst)."""
        self.rate = rate
        self.burst = float(burst)
        for bucket in self._buckets.values():
            bucket[0] = min(bucket[0], self.burst)

    def take(self, key: str) -> float:
        """Take one token for `key`; return 0 when allowed, else the seconds until a token is back."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            if now - self._swept_at > self._sweep_every:
                self._sweep(now)
            self._buckets[key] = [self.burst - 1.0, now]
            return 0.0
        tokens = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / self.rate

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled completely: they hold nothing a new bucket would not."""
        full_after = self.burst / self.rate
        self._buckets = {k: b for k, b in self._buckets.items() if now - b[1] < full_after}
        self._swept_at = now

    def __len__(self) -> int:
        return len(self._buckets)


def retry_after_seconds(wait: float) -> int:
    """Return a Retry-After value (whole seconds, at least 1) for a wait in seconds."""
    return max(1, math.ceil(wait))


class RateLimiter:
    """The member and guest buckets, configured from settings (and reconfigured on reload)."""

    def __init__(self, *, enabled: bool, member_rate: float, member_burst: int, guest_rate: float,
                 guest_burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.enabled = enabled
        self.members = TokenBuckets(member_rate, member_burst, clock=clock)
        self.guests = TokenBuckets(guest_rate, guest_burst, clock=clock)

    @classmethod
    def from_settings(cls, settings: GatewaySettings, clock: Callable[[], float] = time.monotonic) -> RateLimiter:
        """Build the limiter from gateway settings: shared in Redis when `redis_url` is set, else in-process."""
        values: dict[str, Any] = dict(
            enabled=settings.rate_limit_enabled,
            member_rate=settings.rate_limit_member_per_second, member_burst=settings.rate_limit_member_burst,
            guest_rate=settings.rate_limit_guest_per_second, guest_burst=settings.rate_limit_guest_burst, clock=clock)
        if settings.redis_url:
            return SharedRateLimiter(redis_url=settings.redis_url, prefix=settings.redis_key_prefix, **values)
        return cls(**values)

    async def start(self) -> None:
        """Nothing to start for in-process buckets."""

    async def stop(self) -> None:
        """Nothing to close for in-process buckets."""

    def configure(self, settings: GatewaySettings) -> None:
        """Apply the rate-limit settings in force (after a configuration reload)."""
        self.enabled = settings.rate_limit_enabled
        self.members.configure(settings.rate_limit_member_per_second, settings.rate_limit_member_burst)
        self.guests.configure(settings.rate_limit_guest_per_second, settings.rate_limit_guest_burst)

    async def check_member(self, subject: str) -> float:
        """Count a request of an authenticated caller; return the wait (0 = allowed)."""
        return self.members.take(subject) if self.enabled else 0.0

    async def check_guest(self, address: str) -> float:
        """Count a request of an anonymous caller; return the wait (0 = allowed)."""
        return self.guests.take(address) if self.enabled else 0.0


class SharedRateLimiter(RateLimiter):
    """The same buckets in Redis, shared by every gateway instance; the in-process ones while Redis fails."""

    def __init__(self, *, redis_url: str, prefix: str, client: Any = None, **values: Any) -> None:
        super().__init__(**values)
        import redis.asyncio as aioredis  # only a gateway with Redis loads it (idle memory of local mode)

        self.prefix = prefix
        if client is None:
            # short timeouts: a Redis that hangs must cost a request little before the fallback takes over
            pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=32, timeout=1.0,
                                                            socket_timeout=0.5, socket_connect_timeout=0.5)
            client = aioredis.Redis(connection_pool=pool)
        self.redis = client
        self._script = self.redis.register_script(GCRA_SCRIPT)
        self._batch: list[tuple[str, str, asyncio.Future[int]]] = []
        self._in_flight = False
        self._running: set[asyncio.Task[None]] = set()
        self._down_until = 0.0

    async def start(self) -> None:
        """Load the script once, so checks run by EVALSHA."""
        try:
            await self.redis.script_load(GCRA_SCRIPT)
        except Exception as exc:  # Redis may come up later: the in-process buckets serve meanwhile
            self._redis_failed(exc)

    async def stop(self) -> None:
        """Close the connections."""
        await self.redis.aclose()

    async def check_member(self, subject: str) -> float:
        """Count a request of an authenticated caller in the shared bucket; return the wait (0 = allowed)."""
        if not self.enabled:
            return 0.0
        return await self._take("m:" + subject, self.members)

    async def check_guest(self, address: str) -> float:
        """Count a request of an anonymous caller in the shared bucket; return the wait (0 = allowed)."""
        if not self.enabled:
            return 0.0
        return await self._take("g:" + address, self.guests)

    async def _take(self, key: str, local: TokenBuckets) -> float:
        if time.monotonic() < self._down_until:
            return local.take(key)
        interval_us = max(1, round(1_000_000 / local.rate))
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._batch.append((f"{self.prefix}rl:{key}", f"{interval_us}:{int(local.burst)}", future))
        if not self._in_flight:
            # the checks of this loop step go together; while a script call is out, the next ones gather
            self._in_flight = True
            asyncio.get_running_loop().call_soon(self._flush, context=contextvars.Context())
        try:
            wait_us = await future
        except Exception as exc:
            self._redis_failed(exc)
            return local.take(key)
        return wait_us / 1_000_000

    def _flush(self) -> None:
        batch, self._batch = self._batch[:MAX_BATCH], self._batch[MAX_BATCH:]
        if not batch:
            self._in_flight = False
            return
        task = asyncio.ensure_future(self._decide(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)
        # the batch is no request's own: the next flush runs outside any caller's trace context
        task.add_done_callback(lambda _: self._flush(), context=contextvars.Context())

    async def _decide(self, batch: list[tuple[str, str, asyncio.Future[int]]]) -> None:
        try:
            results = await self._script(keys=[key for key, _, _ in batch], args=[arg for _, arg, _ in batch])
            if not isinstance(results, list) or len(results) != len(batch):
                raise RuntimeError(f"the rate-limit script answered {results!r} for {len(batch)} checks")
        except BaseException as exc:
            for _, _, future in batch:
                if not future.done():
                    future.set_exception(exc)
                    future.exception()  # retrieved by its caller, or by nobody if it went away
            if not isinstance(exc, Exception):
                raise
            return
        for (_, _, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(int(result))

    def _redis_failed(self, exc: BaseException) -> None:
        if time.monotonic() >= self._down_until:
            log.warning("ratelimit.redis_unavailable", fallback="in-process buckets", retryIn=REDIS_RETRY_SECONDS,
                        error=f"{type(exc).__name__}: {exc}")
        self._down_until = time.monotonic() + REDIS_RETRY_SECONDS
