"""The dead-letter store: failed messages kept with their error, listed and redriven on demand."""

from __future__ import annotations

from typing import Any

import orjson
from sqlalchemy import select

from gluta_kit.bus import Bus
from gluta_kit.db import Database
from gluta_kit.errors import NotFound
from gluta_kit.models import DeadLetter, utcnow


class DeadLetters:
    """Store and redrive one service's dead letters."""

    def __init__(self, db: Database, bus: Bus) -> None:
        self.db = db
        self.bus = bus

    async def store(self, topic: str, consumer: str, body: bytes, headers: dict[str, str], error: str,
                    attempts: int) -> None:
        """Keep a message whose handler kept failing."""
        async with self.db.write_sessions() as session:
            session.add(DeadLetter(
                event_id=headers.get("eventId", ""), topic=topic, consumer=consumer,
                payload=body.decode("utf-8", "replace"), headers=orjson.dumps(headers).decode(),
                error=error[:8000], attempts=attempts, created_at=utcnow(),
            ))
            await session.commit()

    async def list(self, include_redriven: bool = False) -> list[dict[str, Any]]:
        """Return the dead letters, newest first."""
        async with self.db.read_sessions() as session:
            query = select(DeadLetter).order_by(DeadLetter.id.desc()).limit(500)
            if not include_redriven:
                query = query.where(DeadLetter.redriven_at.is_(None))
            rows = (await session.scalars(query)).all()
        return [
            {"id": r.id, "eventId": r.event_id, "topic": r.topic, "consumer": r.consumer, "error": r.error,
             "attempts": r.attempts, "createdAt": r.created_at.isoformat(),
             "redrivenAt": r.redriven_at.isoformat() if r.redriven_at else None, "payload": r.payload}
            for r in rows
        ]

    async def redrive(self, dead_letter_id: int) -> dict[str, Any]:
        """Run the message through its consumer's handler again; on success mark it redriven."""
        async with self.db.read_sessions() as session:
            row = await session.get(DeadLetter, dead_letter_id)
        if row is None or row.redriven_at is not None:
            raise NotFound(f"no dead letter {dead_letter_id} waiting")
        sub = next((s for s in self.bus.subscriptions if s.topic == row.topic and s.consumer == row.consumer), None)
        if sub is None:
            raise NotFound(f"no consumer {row.consumer} for {row.topic} in this service")
        await sub.handler(row.payload.encode(), orjson.loads(row.headers))
        async with self.db.write_sessions() as session:
            fresh = await session.get(DeadLetter, dead_letter_id)
            if fresh is not None:
                fresh.redriven_at = utcnow()
            await session.commit()
        return {"id": dead_letter_id, "redriven": True}

    async def count(self) -> int:
        """Return how many dead letters wait."""
        from sqlalchemy import func

        async with self.db.read_sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(DeadLetter)
                                             .where(DeadLetter.redriven_at.is_(None))) or 0)
