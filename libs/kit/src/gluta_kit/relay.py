"""The outbox relay: publishes committed events, in order, retrying with backoff until the broker takes them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
from sqlalchemy import func, select

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
            self.db.outbox_signal.clear()
            try:
                await asyncio.wait_for(self.db.outbox_signal.wait(), timeout=self.idle_seconds)
            except TimeoutError:
                pass

    async def relay_once(self) -> tuple[int, bool]:
        """Publish one batch of due rows in id order; return (sent, whether more may be due)."""
        now = utcnow()
        async with self.db.write_sessions() as session:
            rows = (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.published_at.is_(None), OutboxMessage.next_attempt_at <= now)
                    .order_by(OutboxMessage.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            sent = 0
            for row in rows:
                try:
                    await self.bus.publish(row.topic, row.payload.encode(), orjson.loads(row.headers))
                except Exception as exc:
                    delay = min(self.max_backoff, 0.5 * 2 ** min(row.attempts, 10))
                    row.attempts += 1
                    row.last_error = repr(exc)[:2000]
                    row.next_attempt_at = utcnow() + timedelta(seconds=delay)
                    log.warning("outbox.publish_failed", topic=row.topic, eventId=row.event_id,
                                attempts=row.attempts, retryIn=delay, error=repr(exc))
                    await session.commit()
                    return sent, False
                row.published_at = utcnow()
                row.attempts += 1
                sent += 1
            await session.commit()
        self.published += sent
        if sent:
            log.debug("outbox.published", count=sent)
        return sent, len(rows) == self.batch_size

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
