"""The first-come gate: who gets one of a coupon's N places, however many ask at once.

Three strategies, chosen by the `coupon_gate` setting:

- `redis`: one Lua script checks the member set and the counter and takes a place atomically; the
  winner's copy is then written to the database in the same request (the member sees it in "my coupons"
  at once). Only when that write fails (database down or overloaded) is the issuance announced with
  `CouponClaimed` instead (published right away, not through the outbox) and persisted later by the
  `order-persist-coupon` consumer; if that publish fails too, a second script gives the place back
  (member removed and counter decremented together). The database never sees the losers.
- `sql`: one transaction inserts the (coupon, member) row (unique: a member holds a coupon once) and
  takes a place with a conditional `UPDATE coupon SET issued = issued + 1 WHERE ... issued < quantity`;
  the issuance is persisted synchronously, in that same transaction (no event needed).
- `lock`: the pessimistic baseline of the original system's first fix, kept for the benchmark:
  `SELECT ... FOR UPDATE` on the coupon row, check, insert, increment.

Redis keys are `<prefix>coupon:{c<id>}:members|count` (the braces keep both in one cluster slot).
When the counter is missing (first use, or Redis lost its data) it is initialised from the database:
the persisted holders are staged into a temporary set and one script installs them and the counter
only if no other instance did it first. Known limit: places the gate granted whose `CouponClaimed`
was not yet persisted when Redis lost its data are unknown to the new counter; the persist consumer's
conditional update (`issued < quantity`) then refuses any copy beyond N, so the database never holds
more than N, but such a member was told ISSUED and gets nothing (logged as `coupon.oversold_refused`).
Run Redis with persistence (AOF) and `noeviction` to keep that window closed.
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from gluta_contracts import CouponClaimed
from gluta_kit.bus import Bus
from gluta_kit.db import Database, retry_transient
from gluta_kit.errors import ServiceUnavailable
from gluta_kit.logging import get_logger
from gluta_kit.uow import UnitOfWork
from gluta_order.coupon.exceptions import AlreadyIssued, CouponNotActive, SoldOut
from gluta_order.coupon.models import Coupon, MemberCoupon

log = get_logger("gluta.order.coupon")


@dataclass(frozen=True)
class CouponInfo:
    """The parts of a coupon the gate and checkout need (coupons are never edited, only disabled)."""

    coupon_id: int
    quantity: int | None
    disabled: bool
    starts_at: datetime | None
    ends_at: datetime | None
    issued: int = 0

    def active_at(self, now: datetime) -> bool:
        """Return whether the coupon can be claimed at `now`."""
        if self.disabled:
            return False
        if self.starts_at is not None and now < self.starts_at:
            return False
        return not (self.ends_at is not None and now >= self.ends_at)

    @classmethod
    def of(cls, row: Coupon) -> CouponInfo:
        return cls(coupon_id=row.id, quantity=row.quantity, disabled=row.disabled, starts_at=row.starts_at,
                   ends_at=row.ends_at, issued=row.issued)


class CouponDirectory:
    """Coupon definitions cached briefly per instance, so a claim storm does not read the row 10,000 times."""

    def __init__(self, db: Database, ttl_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.ttl = ttl_seconds
        self._clock = clock
        self._cache: dict[int, tuple[float, CouponInfo | None]] = {}
        self._loading: dict[int, asyncio.Future[CouponInfo | None]] = {}

    async def get(self, coupon_id: int) -> CouponInfo | None:
        """Return the coupon, from the cache when it is fresh; concurrent misses share one read."""
        cached = self._cache.get(coupon_id)
        if cached is not None and self._clock() - cached[0] < self.ttl:
            return cached[1]
        pending = self._loading.get(coupon_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future: asyncio.Future[CouponInfo | None] = asyncio.get_running_loop().create_future()
        self._loading[coupon_id] = future
        try:
            async with self.db.read_sessions() as session:
                row = await session.get(Coupon, coupon_id)
            info = CouponInfo.of(row) if row is not None else None
            self._cache[coupon_id] = (self._clock(), info)
            future.set_result(info)
            return info
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: waiters re-raise it themselves
            raise
        finally:
            self._loading.pop(coupon_id, None)

    def forget(self, coupon_id: int | None = None) -> None:
        """Drop one coupon (or all) from the cache."""
        if coupon_id is None:
            self._cache.clear()
        else:
            self._cache.pop(coupon_id, None)


class CouponGate(Protocol):
    """Give a member one place of a coupon, or refuse with AlreadyIssued / SoldOut / CouponNotActive."""

    strategy: str
    persists_synchronously: bool

    async def claim(self, coupon: CouponInfo, member_id: int, now: datetime) -> None: ...

    async def taken(self, coupons: list[CouponInfo]) -> dict[int, int]: ...

    async def prepare(self, coupon_id: int) -> None: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def _refusal_for(db: Database, coupon_id: int) -> Exception:
    """Explain why a conditional update took no place: disabled, or sold out."""
    async with db.read_sessions() as session:
        disabled = await session.scalar(select(Coupon.disabled).where(Coupon.id == coupon_id))
    if disabled:
        return CouponNotActive("this coupon was disabled")
    return SoldOut()


class SqlGate:
    """One conditional UPDATE on the coupon row plus the unique (coupon, member) row, in one transaction."""

    strategy = "sql"
    persists_synchronously = True

    def __init__(self, db: Database, uow_factory: Callable[[], UnitOfWork]) -> None:
        self.db = db
        self.uow_factory = uow_factory
        # Queue claims here rather than in the connection pool (whose wait times out) or in SQLite's busy
        # handler (which sleeps and polls): SQLite has one writer at a time anyway.
        self._writers = asyncio.Semaphore(1 if db.dialect == "sqlite" else 16)
        self._readers = asyncio.Semaphore(8)
        # coupons this process saw sold out in the database: final (issued never shrinks), so the claims
        # queued for the writer behind the last place are refused without a transaction each
        self._sold_out: set[int] = set()

    async def claim(self, coupon: CouponInfo, member_id: int, now: datetime) -> None:
        """Take a place and persist the member's copy in the same transaction."""
        # Fast refusals, read without the write lock. Both facts only ever grow (issued never shrinks, a
        # held coupon stays held), so a refusal read here is final; a success is decided by the update below.
        async with self._readers, self.db.read_sessions() as session:
            held = exists().where(MemberCoupon.coupon_id == coupon.coupon_id, MemberCoupon.member_id == member_id)
            row = (await session.execute(
                select(Coupon.issued, Coupon.quantity, held).where(Coupon.id == coupon.coupon_id))).one_or_none()
        if row is not None:
            issued, quantity, already = row
            if already:
                raise AlreadyIssued()
            if quantity is not None and issued >= quantity:
                self._sold_out.add(coupon.coupon_id)
                raise SoldOut()

        async def work() -> bool:
            if coupon.coupon_id in self._sold_out:
                raise SoldOut()
            async with self.uow_factory() as uow:
                uow.session.add(MemberCoupon(coupon_id=coupon.coupon_id, member_id=member_id, used=False,
                                             issued_at=now))
                try:
                    await uow.session.flush()
                except IntegrityError:
                    raise AlreadyIssued() from None
                result = await uow.session.execute(
                    update(Coupon)
                    .where(Coupon.id == coupon.coupon_id, Coupon.disabled.is_(False),
                           (Coupon.quantity.is_(None)) | (Coupon.issued < Coupon.quantity))
                    .values(issued=Coupon.issued + 1)
                )
                if result.rowcount != 1:
                    return False  # leaving without commit rolls the member's row back
                await uow.commit()
                return True

        try:
            async with self._writers:
                taken = await retry_transient(work)
        except IntegrityError:
            raise AlreadyIssued() from None
        except PoolTimeout as exc:
            raise ServiceUnavailable("the coupon database is overloaded; try again") from exc
        if not taken:
            refusal = await _refusal_for(self.db, coupon.coupon_id)
            if isinstance(refusal, SoldOut) and coupon.quantity is not None:
                self._sold_out.add(coupon.coupon_id)
            raise refusal

    async def taken(self, coupons: list[CouponInfo]) -> dict[int, int]:
        """Return the places taken: the persisted count."""
        return {c.coupon_id: c.issued for c in coupons}

    async def prepare(self, coupon_id: int) -> None:
        """Nothing to prepare: the coupon row is the gate."""

    async def start(self) -> None:
        """Nothing to start."""

    async def stop(self) -> None:
        """Nothing to stop."""


class LockGate(SqlGate):
    """The pessimistic baseline: lock the coupon row with SELECT ... FOR UPDATE, check, insert, increment."""

    strategy = "lock"

    async def claim(self, coupon: CouponInfo, member_id: int, now: datetime) -> None:
        """Take a place under a row lock (SQLite has no FOR UPDATE; its write lock serialises anyway)."""

        async def work() -> None:
            async with self.uow_factory() as uow:
                row = (await uow.session.execute(
                    select(Coupon.issued, Coupon.quantity, Coupon.disabled)
                    .where(Coupon.id == coupon.coupon_id).with_for_update()
                )).one_or_none()
                if row is None or row.disabled:
                    raise CouponNotActive("this coupon was disabled")
                held = await uow.session.scalar(select(MemberCoupon.id).where(
                    MemberCoupon.coupon_id == coupon.coupon_id, MemberCoupon.member_id == member_id))
                if held is not None:
                    raise AlreadyIssued()
                if row.quantity is not None and row.issued >= row.quantity:
                    raise SoldOut()
                uow.session.add(MemberCoupon(coupon_id=coupon.coupon_id, member_id=member_id, used=False,
                                             issued_at=now))
                await uow.session.execute(
                    update(Coupon).where(Coupon.id == coupon.coupon_id).values(issued=Coupon.issued + 1))
                await uow.commit()

        try:
            async with self._writers:
                await retry_transient(work)
        except IntegrityError:
            raise AlreadyIssued() from None
        except PoolTimeout as exc:
            raise ServiceUnavailable("the coupon database is overloaded; try again") from exc


CLAIM_SCRIPT = """
-- KEYS[1] members set, KEYS[2] counter; ARGV[1] quantity (-1 = unlimited), ARGV[2..] member ids in arrival
-- order. For each member, in order, as one claim would: -1 already holds it, -2 sold out, else the new count.
-- All -3 when the counter is missing (not initialised).
local results = {}
if redis.call('EXISTS', KEYS[2]) == 0 then
  for i = 2, #ARGV do results[i - 1] = -3 end
  return results
end
local quantity = tonumber(ARGV[1])
local count = tonumber(redis.call('GET', KEYS[2]))
for i = 2, #ARGV do
  if redis.call('SISMEMBER', KEYS[1], ARGV[i]) == 1 then
    results[i - 1] = -1
  elseif quantity >= 0 and count >= quantity then
    results[i - 1] = -2
  else
    redis.call('SADD', KEYS[1], ARGV[i])
    count = redis.call('INCR', KEYS[2])
    results[i - 1] = count
  end
end
return results
"""

RELEASE_SCRIPT = """
-- KEYS[1] members set, KEYS[2] counter; ARGV[1] member id: give the place back, once
if redis.call('SREM', KEYS[1], ARGV[1]) == 1 then
  if tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
  return 1
end
return 0
"""

INIT_SCRIPT = """
-- KEYS[1] members set, KEYS[2] counter, KEYS[3] staged holders from the database; ARGV[1] persisted count.
-- Install only if no one did it first; never lose a member already in the live set.
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('DEL', KEYS[3])
  return 0
end
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('SUNIONSTORE', KEYS[1], KEYS[1], KEYS[3])
  redis.call('DEL', KEYS[3])
end
local n = math.max(tonumber(ARGV[1]), redis.call('SCARD', KEYS[1]))
redis.call('SET', KEYS[2], n)
return 1
"""

_ALREADY, _SOLD_OUT, _UNINITIALISED = -1, -2, -3
PUBLISH_ATTEMPTS = 3
MAX_BATCH = 256  # claims decided by one script call (a few hundred microseconds of Redis at most)


class RedisGate:
    """Lua scripts in Redis decide; the bus carries the issuance to the database.

    Claims of a coupon that arrive in the same step of the event loop are decided by one script call
    (up to MAX_BATCH members, in arrival order, each exactly as a claim of its own would be): in a storm
    that is one round trip and one trip through redis-py for dozens of claims rather than one each.
    """

    strategy = "redis"

    def __init__(self, redis_url: str, prefix: str, db: Database, bus: Bus | None, *,
                 max_connections: int = 64, client: Any = None,
                 persist: Callable[[CouponClaimed], Awaitable[bool]] | None = None) -> None:
        """`persist`: writes a winner's copy to the database (False: refused, the quantity is reached there)."""
        import redis.asyncio as aioredis

        self.db = db
        self.bus = bus
        self.persist = persist
        self.persists_synchronously = persist is not None  # but for the fallback through the bus
        self.prefix = prefix
        if client is None:
            # a storm waits for a free connection rather than failing: claims are short
            pool = aioredis.BlockingConnectionPool.from_url(redis_url, max_connections=max_connections, timeout=30)
            client = aioredis.Redis(connection_pool=pool)
        self.redis = client
        # register_script runs EVALSHA and loads the script only when Redis does not know it yet
        self._claim = self.redis.register_script(CLAIM_SCRIPT)
        self._release = self.redis.register_script(RELEASE_SCRIPT)
        self._init = self.redis.register_script(INIT_SCRIPT)
        self._initialising: dict[int, asyncio.Task[None]] = {}
        self._batches: dict[tuple[int, int], list[tuple[int, asyncio.Future[int]]]] = {}
        self._running: set[asyncio.Task[None]] = set()

    def keys(self, coupon_id: int) -> tuple[str, str]:
        """Return the member-set and counter keys of a coupon."""
        base = f"{self.prefix}coupon:{{c{coupon_id}}}"
        return f"{base}:members", f"{base}:count"

    async def start(self) -> None:
        """Load the scripts once, so claims run by EVALSHA."""
        try:
            for script in (CLAIM_SCRIPT, RELEASE_SCRIPT, INIT_SCRIPT):
                await self.redis.script_load(script)
        except Exception as exc:  # Redis may come up later; claims answer 503 until it does
            log.warning("coupon.redis_unavailable", error=repr(exc))

    async def stop(self) -> None:
        """Close the connections."""
        await self.redis.aclose()

    async def claim(self, coupon: CouponInfo, member_id: int, now: datetime) -> None:
        """Take a place in Redis, then announce it; give it back if the announcement fails."""
        members, count = self.keys(coupon.coupon_id)
        quantity = -1 if coupon.quantity is None else coupon.quantity
        try:
            result = await self._take(coupon.coupon_id, quantity, member_id)
            if result == _UNINITIALISED:
                await self._initialise_once(coupon.coupon_id)
                result = await self._take(coupon.coupon_id, quantity, member_id)
        except Exception as exc:
            if _is_redis_error(exc):
                log.warning("coupon.redis_failed", error=f"{type(exc).__name__}: {exc}")
                raise ServiceUnavailable("the coupon gate is unavailable; try again") from exc
            raise
        if result == _ALREADY:
            raise AlreadyIssued()
        if result == _SOLD_OUT:
            raise SoldOut()
        if result < 0:
            raise ServiceUnavailable("the coupon gate is not ready; try again")
        event = CouponClaimed(coupon_id=coupon.coupon_id, member_id=member_id, occurred_at=now)
        if self.persist is not None:
            try:
                held = await self.persist(event)
            except Exception as exc:  # the database is down or overloaded: the broker carries the issuance
                log.warning("coupon.persist_deferred", couponId=coupon.coupon_id, memberId=member_id,
                            error=f"{type(exc).__name__}: {exc}")
            else:
                if not held:  # only after Redis lost places it had granted: the database holds N already
                    raise SoldOut()
                return
        try:
            await self._announce(event)
        except Exception as exc:
            log.warning("coupon.publish_failed", couponId=coupon.coupon_id, memberId=member_id, error=repr(exc))
            try:
                await self._release(keys=[members, count], args=[member_id])
            except Exception as release_exc:
                log.error("coupon.release_failed", couponId=coupon.coupon_id, memberId=member_id,
                          error=repr(release_exc))
            raise ServiceUnavailable("the claim could not be recorded; nothing was taken, try again") from exc

    async def _announce(self, event: CouponClaimed) -> None:
        """Publish the issuance, trying again when the broker's acknowledgement does not come.

        Safe to repeat: the event keeps its id, which JetStream deduplicates (Nats-Msg-Id), so a publish
        that was stored but not acknowledged in time is not stored twice (on the other buses a duplicate
        is claimed once by the persist consumer's inbox anyway). In a storm the acknowledgements
        wait behind thousands of requests in this process; giving up after the first wait would answer 503
        to a member whose claim was in fact recorded.
        """
        if self.bus is None:
            raise RuntimeError("no bus to persist the issuance")
        for attempt in range(1, PUBLISH_ATTEMPTS + 1):
            try:
                await self.bus.publish_event(event)
                return
            except Exception as exc:
                if attempt == PUBLISH_ATTEMPTS:
                    raise
                log.warning("coupon.publish_retry", couponId=event.coupon_id, memberId=event.member_id,
                            attempt=attempt, error=repr(exc))

    def _take(self, coupon_id: int, quantity: int, member_id: int) -> asyncio.Future[int]:
        """Queue a claim for the next batch of this coupon; the future gets the script's answer for it."""
        loop = asyncio.get_running_loop()
        key = (coupon_id, quantity)
        batch = self._batches.get(key)
        if batch is None or len(batch) >= MAX_BATCH:
            batch = self._batches[key] = []
            # the batch is no request's own: it runs outside the first claimer's trace context
            loop.call_soon(self._flush, key, batch, context=contextvars.Context())
        future: asyncio.Future[int] = loop.create_future()
        batch.append((member_id, future))
        return future

    def _flush(self, key: tuple[int, int], batch: list[tuple[int, asyncio.Future[int]]]) -> None:
        if self._batches.get(key) is batch:
            del self._batches[key]
        task = asyncio.ensure_future(self._decide(key, batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _decide(self, key: tuple[int, int], batch: list[tuple[int, asyncio.Future[int]]]) -> None:
        """Run one script call for a batch of claims and hand each claim its answer."""
        coupon_id, quantity = key
        members, count = self.keys(coupon_id)
        try:
            results = await self._claim(keys=[members, count], args=[quantity, *(m for m, _ in batch)])
            if not isinstance(results, list) or len(results) != len(batch):
                raise RuntimeError(f"the claim script answered {results!r} for {len(batch)} claims")
        except BaseException as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for (member_id, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(int(result))
            elif int(result) > 0:  # the claim was abandoned (client gone) after its place was taken
                await self._give_back(coupon_id, member_id)

    async def _give_back(self, coupon_id: int, member_id: int) -> None:
        members, count = self.keys(coupon_id)
        try:
            await self._release(keys=[members, count], args=[member_id])
        except Exception as exc:
            log.error("coupon.release_failed", couponId=coupon_id, memberId=member_id, error=repr(exc))

    async def _initialise_once(self, coupon_id: int) -> None:
        """Let concurrent claims that found no counter share one initialisation in this process."""
        task = self._initialising.get(coupon_id)
        if task is None:
            task = asyncio.ensure_future(self.initialise(coupon_id))
            self._initialising[coupon_id] = task
            task.add_done_callback(lambda _: self._initialising.pop(coupon_id, None))
        await asyncio.shield(task)

    async def initialise(self, coupon_id: int) -> None:
        """Build the counter and member set from the database, unless another instance already did."""
        members, count = self.keys(coupon_id)
        async with self.db.read_sessions() as session:
            persisted = int(await session.scalar(select(Coupon.issued).where(Coupon.id == coupon_id)) or 0)
            holders = (await session.scalars(
                select(MemberCoupon.member_id).where(MemberCoupon.coupon_id == coupon_id))).all()
        stage = f"{self.prefix}coupon:{{c{coupon_id}}}:stage:{uuid.uuid4().hex}"
        for start in range(0, len(holders), 1000):
            await self.redis.sadd(stage, *holders[start:start + 1000])
        if holders:
            await self.redis.expire(stage, 300)
        installed = await self._init(keys=[members, count, stage], args=[max(persisted, len(holders))])
        log.info("coupon.gate_initialised", couponId=coupon_id, installed=bool(installed), persisted=persisted)

    async def prepare(self, coupon_id: int) -> None:
        """Install the counter of a new coupon before the first claim arrives."""
        await self._initialise_once(coupon_id)

    async def taken(self, coupons: list[CouponInfo]) -> dict[int, int]:
        """Return the places taken per coupon: Redis' counter, or the persisted count when Redis has none."""
        if not coupons:
            return {}
        try:
            values = await self.redis.mget([self.keys(c.coupon_id)[1] for c in coupons])
        except Exception as exc:
            if not _is_redis_error(exc):
                raise
            values = [None] * len(coupons)
        return {c.coupon_id: max(c.issued, int(v)) if v is not None else c.issued for c, v in zip(coupons, values,
                                                                                                 strict=True)}

    async def counters(self, coupon_ids: list[int]) -> dict[int, tuple[int | None, int]]:
        """Return each coupon's counter (None when not set up) and the size of its member set (`gluta check`)."""
        found: dict[int, tuple[int | None, int]] = {}
        for start in range(0, len(coupon_ids), 500):
            chunk = coupon_ids[start:start + 500]
            pipe = self.redis.pipeline(transaction=False)
            for coupon_id in chunk:
                members, count = self.keys(coupon_id)
                pipe.get(count)
                pipe.scard(members)
            values = await pipe.execute()
            for i, coupon_id in enumerate(chunk):
                count, size = values[2 * i], values[2 * i + 1]
                found[coupon_id] = (None if count is None else int(count), int(size or 0))
        return found

    async def forget(self, coupon_id: int) -> None:
        """Delete a coupon's keys (tests, and after a coupon is gone for good)."""
        await self.redis.delete(*self.keys(coupon_id))


def _is_redis_error(exc: BaseException) -> bool:
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError | OSError | TimeoutError)
