"""SQLite writers run on the loop's thread: a writer waiting for the lock naps in asyncio, never inside SQLite."""

import asyncio
import sqlite3
import time
from pathlib import Path

from sqlalchemy import text

from gluta_kit.db import Database
from gluta_kit.uow import UnitOfWork

EMPTY_MIGRATIONS = Path(__file__).parent / "empty_migrations"


async def test_a_writer_waits_for_another_process_lock_without_stalling_the_loop(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kit.db'}")
    await db.migrate(EMPTY_MIGRATIONS)
    other = sqlite3.connect(tmp_path / "kit.db", isolation_level=None)  # another process, say a CLI
    other.execute("BEGIN IMMEDIATE")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    async def write() -> float:
        async with UnitOfWork(db) as uow:
            await uow.claim_event("e-1", "c")
            await uow.commit()
        return time.monotonic()

    ticking = asyncio.create_task(ticker())
    writing = asyncio.create_task(write())
    try:
        await asyncio.sleep(0.3)
        assert not writing.done()  # still waiting for the lock...
        assert ticks >= 10          # ...and the loop went on meanwhile
        released = time.monotonic()
        other.execute("COMMIT")
        done = await asyncio.wait_for(writing, 5)
        assert done - released < 0.2
        async with db.read_sessions() as session:
            assert await session.scalar(text("SELECT count(*) FROM kit_inbox")) == 1
    finally:
        ticking.cancel()
        other.close()
        await db.dispose()


async def test_concurrent_units_of_work_on_one_loop_all_commit(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'kit.db'}")
    await db.migrate(EMPTY_MIGRATIONS)

    async def claim(i: int) -> bool:
        async with UnitOfWork(db) as uow:
            fresh = await uow.claim_events([f"e-{i}", f"e-{i}", "shared"], "c")
            await asyncio.sleep(0.001)  # yields while holding the write lock: the others must nap, not block
            await uow.commit()
            return "shared" in fresh

    try:
        results = await asyncio.gather(*[claim(i) for i in range(20)])
        assert results.count(True) == 1
        async with db.read_sessions() as session:
            assert await session.scalar(text("SELECT count(*) FROM kit_inbox")) == 21
    finally:
        await db.dispose()
