"""What the user service's functions work with, built once by the composition root (tests build their own)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from gluta_kit.db import Database
from gluta_kit.uow import UnitOfWork
from gluta_user.clock import Clock
from gluta_user.mail import Mailer
from gluta_user.passwords import PasswordHasher
from gluta_user.settings import UserSettings

if TYPE_CHECKING:
    from gluta_kit.service import Service
    from gluta_user.auth.keys import KeyRing
    from gluta_user.auth.throttle import LoginThrottle


class SerializedUnitOfWork(UnitOfWork):
    """A unit of work that waits its turn on an in-process lock before it begins.

    SQLite has one writer at a time; writers that find the lock taken poll it with growing sleeps, which makes
    waits long and unfair under concurrent logins. Queueing them in the process first keeps the order FIFO.
    """

    def __init__(self, db: Database, lock: asyncio.Lock) -> None:
        super().__init__(db)
        self._lock = lock

    async def __aenter__(self) -> UnitOfWork:
        await self._lock.acquire()
        try:
            return await super().__aenter__()
        except BaseException:
            self._lock.release()
            raise

    async def __aexit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        try:
            await super().__aexit__(exc_type, exc, tb)
        finally:
            self._lock.release()


def unit_of_work_factory(db: Database) -> Callable[[], UnitOfWork]:
    """Return how this process opens write transactions: queued in-process on SQLite, plain elsewhere."""
    if db.dialect != "sqlite":
        return lambda: UnitOfWork(db)
    lock = asyncio.Lock()
    return lambda: SerializedUnitOfWork(db, lock)


@dataclass
class UserContext:
    """The database, clock, hasher, signing keys, throttle and mailer of one user-service process."""

    settings: UserSettings
    db: Database
    clock: Clock
    hasher: PasswordHasher
    keyring: KeyRing
    throttle: LoginThrottle
    mailer: Mailer
    service: Service | None = None
    new_uow: Callable[[], UnitOfWork] | None = field(default=None, repr=False)

    def uow(self) -> UnitOfWork:
        """Return a new unit of work."""
        return self.new_uow() if self.new_uow is not None else UnitOfWork(self.db)
