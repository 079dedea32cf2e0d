"""An aiosqlite stand-in that runs SQLite on the event loop's own thread, for SQLAlchemy's aiosqlite dialect.

aiosqlite runs every call (cursor, execute, fetch, close, commit) in a helper thread and wakes the loop
when it is done: four thread hand-offs per statement, each paying for a GIL hand-over. For the small
statements of a service (point reads, inserts, conditional updates, WAL commits without fsync) that
hand-off costs ten times the statement itself, and a writer holds SQLite's lock for all of it.

Here the statement runs where it is called. What must never happen on the loop's thread is a wait for
another connection's lock: the connection's busy timeout is 0 and a `database is locked` answer is
retried after an `await asyncio.sleep(...)` (other coroutines, among them the one holding the lock, go on),
up to `busy_timeout` seconds in all. A statement refused as busy changed nothing, so running it again is
safe; writers begin with `BEGIN IMMEDIATE`, so under WAL only that first statement can meet the lock.

Used through `create_async_engine(url, async_creator=InlineConnector(...))` (see `gluta_kit.db`).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

BUSY_FIRST_NAP = 0.0005
BUSY_MAX_NAP = 0.02


def _is_busy(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)
    text = str(exc).lower()
    return "locked" in text or "busy" in text


async def _run(busy_timeout: float, call: Callable[..., Any], *args: Any) -> Any:
    """Run `call`; while SQLite answers busy, nap without blocking the loop and try again."""
    try:
        return call(*args)
    except sqlite3.OperationalError as exc:
        if not _is_busy(exc):
            raise
    deadline = time.monotonic() + busy_timeout
    nap = BUSY_FIRST_NAP
    while True:
        await asyncio.sleep(nap)
        try:
            return call(*args)
        except sqlite3.OperationalError as exc:
            if not _is_busy(exc) or time.monotonic() >= deadline:
                raise
        nap = min(nap * 2, BUSY_MAX_NAP)


class InlineCursor:
    """The part of aiosqlite's Cursor that SQLAlchemy's adapter uses."""

    __slots__ = ("_cursor", "_busy_timeout")

    def __init__(self, cursor: sqlite3.Cursor, busy_timeout: float) -> None:
        self._cursor = cursor
        self._busy_timeout = busy_timeout

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        await _run(self._busy_timeout, self._cursor.execute, sql, () if parameters is None else parameters)
        return self

    async def executemany(self, sql: str, parameters: Any) -> InlineCursor:
        await _run(self._busy_timeout, self._cursor.executemany, sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def nextset(self) -> None:
        return None

    async def setinputsizes(self, *sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class _Now:
    """Stands for aiosqlite's request queue: SQLAlchemy's isolation-level setter posts (future, call) to it."""

    __slots__ = ()

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, call = item
        try:
            future.set_result(call())
        except Exception as exc:
            future.set_exception(exc)


class InlineConnection:
    """The part of aiosqlite's Connection that SQLAlchemy's adapter uses, without the thread."""

    _tx = _Now()

    def __init__(self, conn: sqlite3.Connection, busy_timeout: float) -> None:
        self._conn: sqlite3.Connection | None = conn
        self._busy_timeout = busy_timeout

    @property
    def _connection(self) -> sqlite3.Connection | None:  # SQLAlchemy checks it before commit/rollback
        return self._conn

    def _live(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("Connection closed")
        return self._conn

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._live().cursor(), self._busy_timeout)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self.cursor()
        return await cursor.execute(sql, parameters)

    async def commit(self) -> None:
        await _run(self._busy_timeout, self._live().commit)

    async def rollback(self) -> None:
        self._live().rollback()

    async def close(self) -> None:
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    def stop(self) -> None:
        """Close at once (SQLAlchemy's terminate, also from garbage collection)."""
        if self._conn is not None:
            conn, self._conn = self._conn, None
            conn.close()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._live().create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self._live().isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._live().in_transaction

    @property
    def total_changes(self) -> int:
        return self._live().total_changes


class InlineConnector:
    """An `async_creator` for `create_async_engine`: opens SQLite connections that run on the loop's thread."""

    def __init__(self, args: Sequence[Any], kwargs: Mapping[str, Any], *, busy_timeout: float = 15.0,
                 autocommit: bool = False) -> None:
        self.args = list(args)
        self.kwargs = dict(kwargs)
        self.busy_timeout = busy_timeout
        self.autocommit = autocommit

    async def __call__(self) -> InlineConnection:
        kwargs = {**self.kwargs, "check_same_thread": False}
        if self.autocommit:  # let SQLAlchemy emit BEGIN itself (the write engine makes it IMMEDIATE)
            kwargs["isolation_level"] = None
        conn = sqlite3.connect(*self.args, **kwargs)
        # never wait for a lock inside SQLite (that would stall the event loop): _run naps and retries
        conn.execute("PRAGMA busy_timeout=0")
        return InlineConnection(conn, self.busy_timeout)
