"""Composition root: the parts of the order service, built once per process; tests replace them here."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Annotated

from fastapi import Depends, Request

from gluta_contracts import CouponClaimed
from gluta_kit.db import Database
from gluta_kit.models import utcnow
from gluta_kit.service import Service
from gluta_kit.uow import UnitOfWork
from gluta_order.coupon.gate import CouponDirectory, CouponGate, LockGate, RedisGate, SqlGate
from gluta_order.settings import OrderSettings
from gluta_order.snapshot.reader import ProductReader
from gluta_order.wallet.payment import PaymentProvider, PortOneProvider, SandboxProvider


class QueuedUnitOfWork(UnitOfWork):
    """A unit of work that, on SQLite, first takes this process's writer lock.

    SQLite has one writer at a time; a writer that finds the database locked sleeps in SQLite's busy
    handler (up to 100 ms a nap) and loses to the writers that keep arriving, so a steady stream of
    checkouts could starve the saga's consumers. Queueing on an asyncio lock instead is fair (FIFO)
    and wakes the next writer the moment the previous one commits. MariaDB/PostgreSQL need none.
    """

    def __init__(self, db: Database, lock: asyncio.Lock | None) -> None:
        super().__init__(db)
        self._lock = lock

    async def __aenter__(self) -> UnitOfWork:
        if self._lock is not None:
            await self._lock.acquire()
        try:
            return await super().__aenter__()
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            if self._lock is not None:
                self._lock.release()


@dataclass
class OrderContext:
    """Everything the order service's routes and handlers use."""

    settings: OrderSettings
    service: Service
    payments: PaymentProvider
    gate: CouponGate
    coupons: CouponDirectory
    products: ProductReader
    clock: Callable[[], datetime] = field(default=utcnow)
    writer_lock: asyncio.Lock | None = None

    @property
    def db(self) -> Database:
        assert self.service.db is not None
        return self.service.db

    def uow(self) -> UnitOfWork:
        """Return a new unit of work (queued behind this process's other writers on SQLite)."""
        return QueuedUnitOfWork(self.db, self.writer_lock)

    def now(self) -> datetime:
        """Return the current time from the (replaceable) clock."""
        return self.clock()


def build_gate(settings: OrderSettings, service: Service, uow_factory: Callable[[], UnitOfWork]) -> CouponGate:
    """Build the coupon gate the settings ask for."""
    assert service.db is not None
    strategy = settings.gate_strategy
    if strategy == "redis":
        assert settings.redis_url
        from gluta_order.coupon.service import persist_claim

        async def persist(event: CouponClaimed) -> bool:
            return await persist_claim(uow=uow_factory(), event=event)

        return RedisGate(settings.redis_url, settings.redis_key_prefix, service.db, service.bus,
                         max_connections=settings.redis_max_connections, persist=persist)
    if strategy == "lock":
        return LockGate(service.db, uow_factory)
    return SqlGate(service.db, uow_factory)


def build_payments(settings: OrderSettings) -> PaymentProvider:
    """Build the payment provider: PortOne-style when a provider URL is set, else the sandbox."""
    if settings.payment_provider_url and settings.payment_api_secret:
        return PortOneProvider(settings.payment_provider_url, settings.payment_api_secret.get_secret_value(),
                               timeout=settings.payment_timeout_seconds)
    return SandboxProvider()


def build_context(settings: OrderSettings, service: Service) -> OrderContext:
    """Build the order service's parts from its settings."""
    db = service.db
    assert db is not None
    lock = asyncio.Lock() if db.dialect == "sqlite" else None
    products = ProductReader(lambda: service.client("product", timeout=settings.product_lookup_timeout_seconds,
                                                    retries=settings.product_lookup_retries))
    return OrderContext(settings=settings, service=service, payments=build_payments(settings),
                        gate=build_gate(settings, service, lambda: QueuedUnitOfWork(db, lock)),
                        coupons=CouponDirectory(db, settings.coupon_cache_seconds), products=products,
                        writer_lock=lock)


async def get_context(request: Request) -> OrderContext:
    """Return the order context of the running app (async: a plain def would cost a threadpool hop per request)."""
    return request.app.state.order  # type: ignore[no-any-return]


Ctx = Annotated[OrderContext, Depends(get_context)]
