"""Revoked access tokens reach every instance of every service that verifies tokens, within seconds.

Access tokens are self-contained (any instance verifies them with the JWKS alone), so ending one early
needs word from the user service, which records each revocation in its database and announces it with
`TokensRevoked` through its outbox. Every instance:

- follows the `TokensRevoked` broadcast (every instance reads it, on every bus), and applies each entry to
  its verifier at once;
- loads at start the entries still in force, from the user service (`GET /internal/revocations`), after
  its broadcast subscription is live, so nothing falls between the two;
- asks again every `revocation_sync_seconds` for what was recorded since (a few seconds of overlap), which
  bounds the delay when a broadcast was missed (a NATS reconnect, an instance that was briefly cut off).

The user service itself loads from its own database instead of over HTTP (`Service.track_revocations`
with a `source`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from gluta_contracts import TokensRevoked
from gluta_kit.logging import get_logger

if TYPE_CHECKING:
    from gluta_kit.service import Service

log = get_logger("gluta.revocation")

# entries recorded since a moment (epoch seconds), as JSON: {"now": epoch, "items": [entry...]}
Source = Callable[[float], Awaitable[dict[str, Any]]]
OVERLAP_SECONDS = 30.0  # asked again on each round: a transaction that committed late is not missed
RETRY_SECONDS = 2.0


def entry_of(event: TokensRevoked) -> dict[str, Any]:
    """Return the JSON entry of a revocation (what `/internal/revocations` lists)."""
    return {"role": event.role, "subjectId": event.subject_id, "familyId": event.family_id,
            "notBefore": event.not_before, "expiresAt": event.expires_at}


class RevocationSync:
    """Keep one service's verifier's revocations current: broadcast, load at start, catch up periodically."""

    def __init__(self, service: Service, source: Source | None = None, *, interval_seconds: float = 30.0) -> None:
        self.service = service
        self.source = source or self._from_user_service
        self.interval = interval_seconds
        self._since: float | None = None
        self._task: asyncio.Task[None] | None = None

    def apply(self, entry: dict[str, Any]) -> None:
        """Apply one revocation entry to this instance's verifier."""
        self.service.verifier.revocations.add(
            role=str(entry["role"]), subject_id=int(entry["subjectId"]), family_id=entry.get("familyId"),
            not_before=entry.get("notBefore"), expires_at=float(entry["expiresAt"]))

    async def on_broadcast(self, body: bytes, headers: dict[str, str]) -> None:
        """Apply a `TokensRevoked` that reached this instance."""
        event = TokensRevoked.model_validate_json(body)
        self.apply(entry_of(event))
        log.info("revocation.applied", role=event.role, subjectId=event.subject_id,
                 session=bool(event.family_id), eventId=event.event_id)

    async def sync_once(self) -> int:
        """Load the entries recorded since the last round (all those in force, the first time); return how many."""
        since = 0.0 if self._since is None else self._since - OVERLAP_SECONDS
        answer = await self.source(since)
        for entry in answer.get("items", ()):
            self.apply(entry)
        self._since = float(answer.get("now") or time.time())
        return len(answer.get("items", ()))

    async def _from_user_service(self, since: float) -> dict[str, Any]:
        headers = {"X-Internal-Token": self.service.settings.internal_token} if self.service.settings.internal_token \
            else None
        result: dict[str, Any] = await self.service.client("user").get_json(
            "/internal/revocations", params={"since": f"{since:.3f}"}, headers=headers)
        return result

    async def start(self) -> None:
        """Load what is in force now (or keep trying in the background) and start the periodic catch-up."""
        try:
            count = await self.sync_once()
            log.info("revocation.loaded", entries=count)
        except Exception as exc:  # the user service may start after this one (`gluta up` starts them together)
            log.info("revocation.load_deferred", error=repr(exc), retryIn=RETRY_SECONDS)
        self._task = asyncio.create_task(self._run(), name="revocation-sync")

    async def _run(self) -> None:
        retry = RETRY_SECONDS
        while True:
            await asyncio.sleep(min(retry, self.interval) if self._since is None else self.interval)
            try:
                count = await self.sync_once()
            except Exception as exc:
                log.warning("revocation.sync_failed", error=repr(exc))
                retry *= 2  # not yet loaded: 2, 4, 8 s... up to the interval
            else:
                log.debug("revocation.synced", entries=count)

    async def stop(self) -> None:
        """Stop the periodic catch-up."""
        if self._task is not None:
            self._task.cancel()
            with suppress(asyncio.CancelledError):
                await self._task
            self._task = None
