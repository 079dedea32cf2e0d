"""The sweeper: cancels PENDING orders the stock answer never reached within the timeout."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from datetime import datetime, timedelta

from gluta_kit.db import Database
from gluta_kit.logging import get_logger
from gluta_order.checkout.models import PENDING
from gluta_order.checkout.service import TIMEOUT, UowFactory, cancel_order, pending_before

log = get_logger("gluta.order.sweeper")


class Sweeper:
    """Every few seconds, cancel (TIMEOUT) each PENDING order older than the checkout timeout.

    Every instance may run one: the cancellation is a conditional update, so each order is cancelled once.
    """

    def __init__(self, *, db: Database, uow_factory: UowFactory, clock: Callable[[], datetime],
                 timeout_seconds: Callable[[], float], interval_seconds: float, batch_size: int = 200) -> None:
        self.db = db
        self.uow_factory = uow_factory
        self.clock = clock
        self.timeout_seconds = timeout_seconds
        self.interval_seconds = interval_seconds
        self.batch_size = batch_size
        self._task: asyncio.Task[None] | None = None

    async def sweep_once(self, now: datetime | None = None) -> int:
        """Cancel the PENDING orders placed before now minus the timeout; return how many this call cancelled."""
        now = now or self.clock()
        cutoff = now - timedelta(seconds=self.timeout_seconds())
        cancelled = 0
        for order_id in await pending_before(self.db, cutoff, self.batch_size):
            if await cancel_order(uow_factory=self.uow_factory, order_id=order_id, reason=TIMEOUT, now=now,
                                  statuses=(PENDING,), created_before=cutoff):
                cancelled += 1
        if cancelled:
            log.info("order.sweeper_cancelled", count=cancelled)
        return cancelled

    def start(self) -> None:
        """Sweep in the background."""
        self._task = asyncio.create_task(self._run(), name="order-sweeper")

    async def stop(self) -> None:
        """Stop sweeping."""
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        while True:
            # jitter, so several instances do not sweep in lock step
            await asyncio.sleep(self.interval_seconds * random.uniform(0.8, 1.2))
            try:
                await self.sweep_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database down: try again next round
                log.warning("order.sweeper_failed", error=repr(exc))
