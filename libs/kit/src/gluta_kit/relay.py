"""The outbox relay: publishes committed events, in order, retrying with backoff until the broker takes them."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_kit.bus import Bus
from gluta_kit.db import Database
from gluta_kit.logging import get_logger
from gluta_kit.models import OutboxMessage, utcnow

log = get_logger("gluta.outbox")


class OutboxRelay:
    """Move outbox rows to the broker after commit; at least once, never before commit."""

    def __init__(self, db: Database, bus: Bus, *, batch_size: int = 200, idle_seconds: float = 1.0,
                 max_backoff: float = 30.0) -> None:
        self.db = db
        self.bus = bus
        self.batch_size = batch_size
        self.idle_seconds = idle_seconds
        self.max_backoff = max_backoff
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.published = 0

    def start(self) -> None:
        """Run the relay in the background."""
        self._stopping = False
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        """Stop the relay; unpublished rows wait for the next start."""
        self._stopping = True
        self.db.outbox_signal.set()
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass

    async def _run(self) -> None:
        while not self._stopping:
            # cleared before reading: a commit made while this batch is being published wakes the next round
            self.db.outbox_signal.clear()
            try:
                _, more = await self.relay_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down: try again shortly
                log.warning("outbox.relay_failed", error=repr(exc))
                more = False
                await asyncio.sleep(1.0)
            if more:
                continue
            try:
                await asyncio.wait_for(self.db.outbox_signal.wait(), timeout=self.idle_seconds)
            except TimeoutError:
                pass

    async def relay_once(self) -> tuple[int, bool]:
        """Publish one batch of due rows in id order; return (sent, whether more may be due).

        The batch's publishes are sent together, in id order, and their acknowledgements awaited together
        (one round trip for the batch, not one per row); the rows the broker took are marked in one UPDATE.
        On SQLite the rows are read without the database's only write lock, which is taken only for that
        short UPDATE (a relay holding it while waiting for the broker would stall every writer). The other
        databases lock the batch's rows (`FOR UPDATE`) while it is published: a second instance's relay
        waits for them and then takes the rows after them, so the relays of a service take turns and
        publish in id order, and one aggregate's events keep their order on Kafka (two relays that each
        took a batch at once could publish an order's later event before its earlier one). Writers are never
        held up: the relay's transaction is READ COMMITTED, so it locks rows, not the index gaps where new
        rows go. A relay that
        dies between publish and mark publishes those rows again (at least once; the `eventId` makes it
        harmless).
        """
        now = utcnow()
        due = (
            select(OutboxMessage.id, OutboxMessage.event_id, OutboxMessage.topic, OutboxMessage.partition_key,
                   OutboxMessage.payload, OutboxMessage.headers, OutboxMessage.attempts)
            .where(OutboxMessage.published_at.is_(None), OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.id)
            .limit(self.batch_size)
        )
        if self.db.dialect == "sqlite":
            async with self.db.read_sessions() as session:
                rows = (await session.execute(due)).all()
            if not rows:
                return 0, False
            outcomes = await self._publish(rows)
            async with self.db.write_sessions() as session:
                sent = await self._mark(session, rows, outcomes)
                await session.commit()
        else:
            async with self.db.write_sessions() as session:
                # READ COMMITTED (PostgreSQL's default; not MySQL's): only the batch's rows are locked, never the
                # gap after them, so the services' own transactions insert new outbox rows meanwhile
                await session.connection(execution_options={"isolation_level": "READ COMMITTED"})
                rows = (await session.execute(due.with_for_update())).all()
                if not rows:
                    await session.rollback()
                    return 0, False
                outcomes = await self._publish(rows)
                sent = await self._mark(session, rows, outcomes)
                await session.commit()
        self.published += sent
        if sent:
            log.debug("outbox.published", count=sent)
        return sent, sent == len(rows) == self.batch_size

    async def _publish(self, rows: Sequence[Any]) -> list[BaseException | None]:
        """Send every row's message in id order, then wait for all the broker's answers; None where it took it."""
        return await self.bus.publish_many(
            [(row.topic, row.payload.encode(), orjson.loads(row.headers), row.partition_key) for row in rows])

    async def _mark(self, session: AsyncSession, rows: Sequence[Any],
                    outcomes: list[BaseException | None]) -> int:
        """Mark the published rows sent in one statement; give the others their backoff."""
        now = utcnow()
        sent_ids = [row.id for row, error in zip(rows, outcomes, strict=True) if error is None]
        if sent_ids:
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(sent_ids))
                .values(published_at=now, attempts=OutboxMessage.attempts + 1)
            )
        for row, error in zip(rows, outcomes, strict=True):
            if error is None:
                continue
            if isinstance(error, asyncio.CancelledError):
                raise error
            delay = min(self.max_backoff, 0.5 * 2 ** min(row.attempts, 10))
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row.id)
                .values(attempts=row.attempts + 1, last_error=repr(error)[:2000],
                        next_attempt_at=now + timedelta(seconds=delay))
            )
            log.warning("outbox.publish_failed", topic=row.topic, eventId=row.event_id,
                        attempts=row.attempts + 1, retryIn=delay, error=repr(error))
        return len(sent_ids)

    async def lag(self) -> dict[str, object]:
        """Return how many rows wait and how old the oldest is, in seconds."""
        async with self.db.read_sessions() as session:
            count, oldest = (
                await session.execute(
                    select(func.count(), func.min(OutboxMessage.created_at)).where(OutboxMessage.published_at.is_(None))
                )
            ).one()
        age = (utcnow() - oldest.replace(tzinfo=utcnow().tzinfo)).total_seconds() if oldest else 0.0
        return {"pending": int(count or 0), "oldestSeconds": round(age, 3), "published": self.published}


async def purge_published(db: Database, older_than: timedelta = timedelta(days=7)) -> int:
    """Delete outbox rows published longer ago than `older_than`."""
    from sqlalchemy import delete

    async with db.write_sessions() as session:
        result = await session.execute(
            delete(OutboxMessage).where(OutboxMessage.published_at.is_not(None),
                                        OutboxMessage.published_at < utcnow() - older_than)
        )
        await session.commit()
        return int(result.rowcount or 0)


__all__ = ["OutboxRelay", "purge_published"]
