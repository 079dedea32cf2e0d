"""Login throttling in the database, so every instance counts the same attempts.

Two kinds of counters, both cleared by a successful login:

- per account: every attempt is counted *before* the password is checked, with a conditional update that
  never counts past the limit, so however many guesses arrive at once, at most `limit` are checked;
- per client address: checked before, counted only when an attempt fails. Members behind one address (an
  office, a NAT) then log in without all writing one hot row; concurrent failures may pass the limit by
  the number in flight, and each of those is still bound by its account's exact counter.

A counter over its limit is locked for `login_lockout_seconds`, during which even the right password gets
429 with Retry-After (so a lock cannot be used to test passwords).

Two stores, the same rules: the service's database (`LoginThrottle`, shared by the instances that share
the database), or Redis when `redis_url` is set (`RedisLoginThrottle`: one Lua script per step, atomic,
no hot rows in the database and no lock waits under a guessing storm). While Redis fails, the database
counts (logged): a login is never refused or let through because Redis is down.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.db import Database, insert_ignore
from gluta_kit.errors import TooManyRequests
from gluta_kit.logging import get_logger
from gluta_kit.uow import UnitOfWork
from gluta_user.auth.models import LoginThrottle as Row
from gluta_user.clock import Clock
from gluta_user.settings import UserSettings

T = TypeVar("T")
log = get_logger("gluta.user.throttle")


@dataclass(frozen=True)
class ThrottleKey:
    """One counter: its key, its limit per window, and whether every attempt counts or only failures."""

    key: str
    limit: int
    every_attempt: bool


@dataclass
class Attempt:
    """A login attempt under way: its counters, and which failure counters must be cleared on success."""

    keys: list[ThrottleKey]
    dirty: set[str] = field(default_factory=set)
    store: str = "database"  # where it was counted: its failure and its success go to the same place

    @property
    def exact(self) -> list[str]:
        return [k.key for k in self.keys if k.every_attempt]

    @property
    def on_failure(self) -> list[str]:
        return [k.key for k in self.keys if not k.every_attempt]


class LoginThrottle:
    """Count login attempts per account and per client address; refuse with 429 over a limit."""

    def __init__(self, db: Database, clock: Clock, settings: UserSettings,
                 uow: Callable[[], UnitOfWork] | None = None) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings  # read at each attempt: the limits are reloadable
        self._uow = uow or (lambda: UnitOfWork(db))

    def keys(self, *, account: str | None, address: str | None) -> list[ThrottleKey]:
        """Return the counters one attempt touches, in one order for every transaction."""
        s = self.settings
        keys = []
        if account:
            keys.append(ThrottleKey(f"acct:{account.lower()}"[:150], s.login_max_failures_per_account, True))
        if address:
            keys.append(ThrottleKey(f"addr:{address}"[:150], s.login_max_failures_per_address, False))
        return sorted(keys, key=lambda k: k.key)

    def _stale(self, now: datetime) -> ColumnElement[bool]:
        # a window that ran out, or a lock that ended, starts counting afresh
        window = timedelta(seconds=self.settings.login_failure_window_seconds)
        return or_(and_(Row.locked_until.is_not(None), Row.locked_until <= now),
                   and_(Row.locked_until.is_(None), Row.window_started_at < now - window))

    def _is_stale(self, row: Any, now: datetime) -> bool:
        window = timedelta(seconds=self.settings.login_failure_window_seconds)
        if row.locked_until is not None:
            return row.locked_until <= now
        return row.window_started_at < now - window

    async def _retrying(self, work: Callable[[], Awaitable[T]]) -> T:
        for attempt in range(1, 5):
            try:
                return await work()
            except DBAPIError as exc:
                # concurrent first attempts on a new key may deadlock on MySQL: the database says to retry
                if attempt == 4 or not _is_lock_conflict(exc):
                    raise
                await asyncio.sleep(0.01 * attempt)
        raise AssertionError("unreachable")

    async def _ensure_rows(self, session: AsyncSession, names: list[str], now: datetime,
                           rows: dict[str, Any] | None = None) -> None:
        """Create missing counters and restart stale ones (`rows`: what the caller read already)."""
        if rows is None:
            rows = {row.throttle_key: row for row in (await session.execute(
                select(Row.throttle_key, Row.window_started_at, Row.locked_until)
                .where(Row.throttle_key.in_(names)))).all()}
        missing = [name for name in names if name not in rows]
        if missing:
            # only what is missing: on MySQL an INSERT IGNORE over an existing row takes a shared lock that
            # two concurrent attempts would both try to upgrade
            await session.execute(insert_ignore(Row.__table__, self.db.dialect, [
                {"throttle_key": name, "failures": 0, "window_started_at": now, "locked_until": None}
                for name in missing]))
        stale = [name for name in names if name in rows and self._is_stale(rows[name], now)]
        if stale:  # the condition is checked again in the statement: another attempt may have restarted it
            await session.execute(update(Row).where(Row.throttle_key.in_(stale), self._stale(now))
                                  .values(failures=0, window_started_at=now, locked_until=None))

    async def begin_attempt(self, keys: list[ThrottleKey]) -> Attempt:
        """Count the attempt where every attempt counts; raise TooManyRequests (nothing counted) when over."""
        if not keys:
            return Attempt(keys)
        return await self._retrying(lambda: self._begin_attempt(keys))

    async def _begin_attempt(self, keys: list[ThrottleKey]) -> Attempt:
        now = self.clock.now()
        attempt = Attempt(keys)
        limits = {k.key: k.limit for k in keys}
        async with self._uow() as uow:
            session = uow.session
            rows = {row.throttle_key: row for row in (await session.execute(
                select(Row.throttle_key, Row.failures, Row.window_started_at, Row.locked_until)
                .where(Row.throttle_key.in_(limits)))).all()}
            live = {name: row for name, row in rows.items() if not self._is_stale(row, now)}
            over = any(row.locked_until is not None for row in live.values()) or any(
                name in live and live[name].failures >= limits[name] for name in attempt.on_failure)
            if not over:
                attempt.dirty = {name for name in attempt.on_failure if name in live and live[name].failures > 0}
                if not attempt.exact:
                    return attempt
                await self._ensure_rows(session, attempt.exact, now, rows)
                # the guard in the WHERE clause never counts past a limit, however many attempts run at once
                counted = await session.execute(
                    update(Row).where(Row.throttle_key.in_(attempt.exact), Row.locked_until.is_(None),
                                      Row.failures < case(limits, value=Row.throttle_key))
                    .values(failures=Row.failures + 1))
                if counted.rowcount == len(attempt.exact):
                    await uow.commit()
                    return attempt
        # over a limit: nothing above is kept; lock what is over, tell the caller how long to wait
        lock_until = now + timedelta(seconds=self.settings.login_lockout_seconds)
        names = list(limits)
        async with self._uow() as uow:
            session = uow.session
            await session.execute(update(Row).where(Row.throttle_key.in_(names), self._stale(now))
                                  .values(failures=0, window_started_at=now, locked_until=None))
            await session.execute(
                update(Row).where(Row.throttle_key.in_(names), Row.locked_until.is_(None),
                                  Row.failures >= case(limits, value=Row.throttle_key))
                .values(locked_until=lock_until))
            until = await session.scalar(select(func.max(Row.locked_until)).where(Row.throttle_key.in_(names),
                                                                                  Row.locked_until > now))
            await uow.commit()
        wait = (until or lock_until) - now
        raise TooManyRequests("too many login attempts; try again later",
                              retry_after=max(1, math.ceil(wait.total_seconds())))

    async def failed(self, attempt: Attempt) -> None:
        """Count a failed attempt where only failures count."""
        names = attempt.on_failure
        if names:
            await self._retrying(lambda: self._failed(names))

    async def _failed(self, names: list[str]) -> None:
        now = self.clock.now()
        async with self._uow() as uow:
            await self._ensure_rows(uow.session, names, now)
            await uow.session.execute(update(Row).where(Row.throttle_key.in_(names), Row.locked_until.is_(None))
                                      .values(failures=Row.failures + 1))
            await uow.commit()

    async def succeeded(self, attempt: Attempt) -> None:
        """Clear the counters of a successful attempt."""
        async with self._uow() as uow:
            await self.clear(uow.session, attempt)
            await uow.commit()

    async def clear(self, session: AsyncSession, attempt: Attempt) -> None:
        """Clear the counters of a successful attempt, in the caller's transaction."""
        names = attempt.exact + sorted(attempt.dirty)
        if names:
            # zeroed, not deleted: attempts running at the same moment count on rows that stay put
            await session.execute(
                update(Row).where(Row.throttle_key.in_(sorted(names)), Row.locked_until.is_(None))
                .values(failures=0, window_started_at=self.clock.now()))

    async def purge(self, older_than_seconds: float) -> int:
        """Delete counters that are neither locked nor recent."""
        cutoff = self.clock.now() - timedelta(seconds=older_than_seconds)
        async with self._uow() as uow:
            result = await uow.session.execute(delete(Row).where(
                Row.window_started_at < cutoff, or_(Row.locked_until.is_(None), Row.locked_until < cutoff)))
            await uow.commit()
            return int(result.rowcount or 0)


# KEYS: the attempt's counters (hashes f=failures, s=window start, l=locked until; ms of the instances' clock).
# ARGV: now, window, lockout, then per key its limit and 1 when every attempt counts (0: failures only).
# Answers {1, wait ms} when over a limit (locking the counters that are over), else {0, 0, i...} with the
# indexes of the failure-only counters that hold failures (cleared when the attempt succeeds).
BEGIN_SCRIPT = """
local now, window, lockout = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local ttl = window + lockout + 60000
local f, s, l, fresh = {}, {}, {}, {}
local over, wait = false, 0
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'f', 's', 'l')
  f[i], s[i], l[i] = tonumber(v[1] or '0'), tonumber(v[2] or '0'), tonumber(v[3] or '0')
  if (l[i] > 0 and l[i] <= now) or (l[i] == 0 and s[i] < now - window) then
    f[i], s[i], l[i], fresh[i] = 0, now, 0, true
  end
  if l[i] > now then
    over, wait = true, math.max(wait, l[i] - now)
  elseif f[i] >= tonumber(ARGV[2 + 2 * i]) then
    over = true
  end
end
if over then
  for i = 1, #KEYS do
    if l[i] == 0 and f[i] >= tonumber(ARGV[2 + 2 * i]) then
      l[i] = now + lockout
      wait = math.max(wait, lockout)
    end
    redis.call('HSET', KEYS[i], 'f', f[i], 's', s[i], 'l', l[i])
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  return {1, wait}
end
local result = {0, 0}
for i = 1, #KEYS do
  local every = ARGV[3 + 2 * i] == '1'
  if every then f[i] = f[i] + 1 end
  if every or fresh[i] then
    redis.call('HSET', KEYS[i], 'f', f[i], 's', s[i], 'l', l[i])
    redis.call('PEXPIRE', KEYS[i], ttl)
  end
  if not every and f[i] > 0 then table.insert(result, i) end
end
return result
"""

# KEYS: failure-only counters; ARGV: now, window, lockout. Count one failure where not locked.
FAILED_SCRIPT = """
local now, window, lockout = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 1, #KEYS do
  local v = redis.call('HMGET', KEYS[i], 'f', 's', 'l')
  local f, s, l = tonumber(v[1] or '0'), tonumber(v[2] or '0'), tonumber(v[3] or '0')
  if (l > 0 and l <= now) or (l == 0 and s < now - window) then f, s, l = 0, now, 0 end
  if l == 0 then
    redis.call('HSET', KEYS[i], 'f', f + 1, 's', s, 'l', 0)
    redis.call('PEXPIRE', KEYS[i], window + lockout + 60000)
  end
end
return 0
"""

# KEYS: counters of a successful attempt. Forget those that are not locked.
CLEAR_SCRIPT = """
for i = 1, #KEYS do
  if tonumber(redis.call('HGET', KEYS[i], 'l') or '0') == 0 then redis.call('DEL', KEYS[i]) end
end
return 0
"""

REDIS_RETRY_SECONDS = 5.0


class RedisLoginThrottle(LoginThrottle):
    """The same counters in Redis, shared by every instance; the database's while Redis fails."""

    def __init__(self, db: Database, clock: Clock, settings: UserSettings,
                 uow: Callable[[], UnitOfWork] | None = None, *, client: Any = None) -> None:
        super().__init__(db, clock, settings, uow)
        import redis.asyncio as aioredis  # only a user service with Redis loads it (idle memory of local mode)

        assert settings.redis_url
        if client is None:
            client = aioredis.Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self.redis = client
        self.prefix = settings.redis_key_prefix
        self._begin = client.register_script(BEGIN_SCRIPT)
        self._failed_script = client.register_script(FAILED_SCRIPT)
        self._clear = client.register_script(CLEAR_SCRIPT)
        self._down_until = 0.0

    def _redis_key(self, key: str) -> str:
        return f"{self.prefix}throttle:{key}"

    def _times(self) -> list[int]:
        s = self.settings
        return [int(self.clock.now().timestamp() * 1000), s.login_failure_window_seconds * 1000,
                s.login_lockout_seconds * 1000]

    def _usable(self) -> bool:
        return time.monotonic() >= self._down_until

    def _failed_over(self, exc: BaseException) -> None:
        if self._usable():
            log.warning("throttle.redis_unavailable", fallback="database", retryIn=REDIS_RETRY_SECONDS,
                        error=f"{type(exc).__name__}: {exc}")
        self._down_until = time.monotonic() + REDIS_RETRY_SECONDS

    async def begin_attempt(self, keys: list[ThrottleKey]) -> Attempt:
        """Count the attempt in Redis where every attempt counts; raise TooManyRequests when over a limit."""
        if not keys or not self._usable():
            return await super().begin_attempt(keys)
        args: list[int] = self._times()
        for key in keys:
            args += [key.limit, 1 if key.every_attempt else 0]
        try:
            answer = await self._begin(keys=[self._redis_key(k.key) for k in keys], args=args)
        except Exception as exc:
            if not _is_redis_error(exc):
                raise
            self._failed_over(exc)
            return await super().begin_attempt(keys)
        if int(answer[0]) == 1:
            raise TooManyRequests("too many login attempts; try again later",
                                  retry_after=max(1, math.ceil(int(answer[1]) / 1000)))
        return Attempt(keys, dirty={keys[int(i) - 1].key for i in answer[2:]}, store="redis")

    async def failed(self, attempt: Attempt) -> None:
        """Count a failed attempt where only failures count."""
        names = attempt.on_failure
        if attempt.store != "redis":
            return await super().failed(attempt)
        if not names:
            return
        try:
            await self._failed_script(keys=[self._redis_key(n) for n in names], args=self._times())
        except Exception as exc:
            if not _is_redis_error(exc):
                raise
            self._failed_over(exc)
            await super().failed(attempt)

    async def succeeded(self, attempt: Attempt) -> None:
        """Clear the counters of a successful attempt (or of a password reset, which no attempt counted)."""
        if attempt.store != "redis":
            await super().succeeded(attempt)
        await self._clear_redis(attempt)

    async def clear(self, session: AsyncSession, attempt: Attempt) -> None:
        """Clear the counters of a successful attempt (Redis' at once; the database's in the caller's transaction)."""
        if attempt.store != "redis":
            await super().clear(session, attempt)
        await self._clear_redis(attempt)

    async def _clear_redis(self, attempt: Attempt) -> None:
        names = attempt.exact + sorted(attempt.dirty)
        if not names or not self._usable():
            return
        try:
            await self._clear(keys=[self._redis_key(n) for n in names])
        except Exception as exc:  # the counters stay; they end with their window
            if not _is_redis_error(exc):
                raise
            self._failed_over(exc)

    async def purge(self, older_than_seconds: float) -> int:
        """Purge the database's counters (those counted while Redis was down); Redis' expire by themselves."""
        return await super().purge(older_than_seconds)

    async def close(self) -> None:
        """Close the Redis connections."""
        await self.redis.aclose()


def _is_redis_error(exc: BaseException) -> bool:
    from redis.exceptions import RedisError

    return isinstance(exc, RedisError | OSError | TimeoutError)


def _is_lock_conflict(exc: DBAPIError) -> bool:
    text = str(exc.orig or exc).lower()
    return any(word in text for word in ("deadlock", "lock wait timeout", "could not serialize", "database is locked"))
