"""Unit of work: one session, one transaction, with the outbox, the inbox and idempotency keys."""

from __future__ import annotations

from types import TracebackType
from typing import Any

import orjson
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from gluta_contracts import IntegrationEvent
from gluta_kit.db import Database, insert_ignore
from gluta_kit.models import IdempotencyRecord, InboxMessage, OutboxMessage, utcnow
from gluta_kit.tracing import inject


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
            "event_id": event.event_id, "topic": event.topic, "payload": event.to_json().decode(),
            "headers": orjson.dumps(headers).decode(), "created_at": now, "published_at": None,
            "next_attempt_at": now, "attempts": 0, "last_error": None,
        })

    async def write(self) -> None:
        """Insert the queued rows (the unit of work calls this just before it commits)."""
        if self.rows:
            await self._session.execute(insert(OutboxMessage.__table__), self.rows)


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
            await self.session.execute(insert(IdempotencyRecord.__table__), self._remembered)
        await self.session.commit()
        self._committed = True
        if self.outbox.added:
            self.db.outbox_signal.set()

    async def claim_event(self, event_id: str, consumer: str) -> bool:
        """Record that `consumer` handles `event_id` now; False when it already did (a redelivery)."""
        stmt = insert_ignore(
            InboxMessage.__table__, self.db.dialect,
            {"event_id": event_id, "consumer": consumer, "processed_at": utcnow()},
        )
        result = await self.session.execute(stmt)
        return bool(result.rowcount)

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
