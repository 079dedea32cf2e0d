"""Unit of work: one session, one transaction, with the outbox, the inbox and idempotency keys."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Generic, TypeVar, cast

import orjson
from sqlalchemy import Table, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_contracts import IntegrationEvent
from gluta_kit.db import Database, insert_ignore
from gluta_kit.models import IdempotencyRecord, InboxMessage, OutboxMessage, utcnow
from gluta_kit.tracing import inject

T = TypeVar("T")
R = TypeVar("R")

_OUTBOX = cast(Table, OutboxMessage.__table__)
_INBOX = cast(Table, InboxMessage.__table__)
_INSERT_OUTBOX = insert(_OUTBOX)
_INSERT_IDEMPOTENCY = insert(cast(Table, IdempotencyRecord.__table__))


class Outbox:
    """Collects events to publish; they are written in the same transaction as the change.

    The rows are inserted together, with one multi-row INSERT, when the unit of work commits.
    """

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.rows: list[dict[str, Any]] = []

    @property
    def added(self) -> int:
        """How many events this transaction will publish."""
        return len(self.rows)

    def add(self, event: IntegrationEvent) -> None:
        """Queue an event for publication after commit, with the current trace context."""
        headers = inject({})
        if headers.get("traceparent") and not event.traceparent:
            event = event.model_copy(update={"traceparent": headers["traceparent"]})
        headers["eventId"] = event.event_id
        now = utcnow()
        self.rows.append({
            "event_id": event.event_id, "topic": event.topic, "partition_key": event.partition_key,
            "payload": event.to_json().decode(),
            "headers": orjson.dumps(headers).decode(), "created_at": now, "published_at": None,
            "next_attempt_at": now, "attempts": 0, "last_error": None,
        })

    async def write(self) -> None:
        """Insert the queued rows (the unit of work calls this just before it commits)."""
        if self.rows:
            await self._session.execute(_INSERT_OUTBOX, self.rows)


class UnitOfWork:
    """Own one transaction; leaving the block without `commit()` rolls everything back.

    The function that opens the unit of work commits it (cosmicpython's rule).
    """

    session: AsyncSession
    outbox: Outbox

    def __init__(self, db: Database) -> None:
        self.db = db
        self._committed = False

    async def __aenter__(self) -> UnitOfWork:
        self.session = self.db.write_sessions()
        self.outbox = Outbox(self.session)
        self._remembered: list[dict[str, Any]] = []
        self._committed = False
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if not self._committed:
                await self.session.rollback()
        finally:
            await self.session.close()

    async def commit(self) -> None:
        """Commit the change and its events together, then wake the outbox relay."""
        await self.outbox.write()
        if self._remembered:
            await self.session.execute(_INSERT_IDEMPOTENCY, self._remembered)
        await self.session.commit()
        self._committed = True
        if self.outbox.added:
            self.db.outbox_signal.set()

    async def claim_event(self, event_id: str, consumer: str) -> bool:
        """Record that `consumer` handles `event_id` now; False when it already did (a redelivery)."""
        stmt = insert_ignore(
            _INBOX, self.db.dialect,
            {"event_id": event_id, "consumer": consumer, "processed_at": utcnow()},
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)

    async def claim_events(self, event_ids: Iterable[str], consumer: str) -> set[str]:
        """Record that `consumer` handles these events now; return the ids it had not handled before."""
        ids = list(dict.fromkeys(event_ids))
        if not ids:
            return set()
        if self.db.dialect not in {"sqlite", "postgresql"}:  # no INSERT ... RETURNING: one claim at a time
            return {event_id for event_id in ids if await self.claim_event(event_id, consumer)}
        now = utcnow()
        stmt = insert_ignore(_INBOX, self.db.dialect,
                             [{"event_id": i, "consumer": consumer, "processed_at": now} for i in ids])
        rows = await self.session.execute(stmt.returning(_INBOX.c.event_id))
        return {row[0] for row in rows}

    async def recall(self, scope: str, caller: str | int, key: str) -> Any | None:
        """Return the first answer stored for this idempotency key, if any."""
        row = await self.session.scalar(
            select(IdempotencyRecord.response).where(
                IdempotencyRecord.scope == scope,
                IdempotencyRecord.caller == str(caller),
                IdempotencyRecord.key == key,
            )
        )
        return None if row is None else orjson.loads(row)

    def remember(self, scope: str, caller: str | int, key: str, response: Any) -> None:
        """Store the answer to this idempotency key in the same transaction as the effect (written at commit)."""
        self._remembered.append({"scope": scope, "caller": str(caller), "key": key,
                                 "response": orjson.dumps(response).decode(), "created_at": utcnow()})


class GroupCommit(Generic[T, R]):
    """Handle concurrent requests in shared transactions: what arrives while one batch runs forms the next.

    `run_batch(items)` does all of them in one unit of work and returns one result per item; when it
    fails, each item of that batch runs alone through `run_one`, so one bad item fails alone (and its
    caller's retries and dead letters work as for any handler). At low load a batch is one item and
    nothing waits for company; under load one lock turn and one commit serve many items — on SQLite,
    where writers take turns, that is what lets a consumer keep up with a stream of requests.
    Items must be idempotent by themselves (claimed in the inbox), as after a failed batch they run again.
    """

    def __init__(self, run_batch: Callable[[list[T]], Awaitable[list[R]]], run_one: Callable[[T], Awaitable[R]],
                 *, max_batch: int = 200) -> None:
        self.run_batch = run_batch
        self.run_one = run_one
        self.max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._worker: asyncio.Task[None] | None = None
        self.batches = 0

    async def submit(self, item: T) -> R:
        """Run `item` in the next batch and return its result (or raise its error)."""
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._drain(), name="group-commit")
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[T, asyncio.Future[R]]] = []
        try:
            while self._pending:
                batch, self._pending = self._pending[:self.max_batch], self._pending[self.max_batch:]
                batch = [(item, future) for item, future in batch if not future.done()]  # callers gone
                if batch:
                    self.batches += 1
                    await self._run(batch)
        except BaseException:  # cancelled (shutting down): nobody is left waiting forever
            for _, future in batch + self._pending:
                future.cancel()
            self._pending = []
            raise

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self.run_batch([item for item, _ in batch])
        except Exception:
            for item, future in batch:
                try:
                    result = await self.run_one(item)
                except Exception as exc:
                    if not future.done():
                        future.set_exception(exc)
                else:
                    if not future.done():
                        future.set_result(result)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
