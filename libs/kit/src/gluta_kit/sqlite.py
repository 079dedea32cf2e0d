"""A service's local SQLite file through the standard library's `sqlite3`, without SQLAlchemy.

For services whose own tables are a simple key-value store (the web front-ends' session table): in local
mode they hold their database as a `SqliteFile` instead of a `gluta_kit.db.Database`, and SQLAlchemy, its
ORM and its drivers (about 20 MB of every process that imports them) never load. Migrations are the same
Alembic scripts, run by `gluta_kit.migrate` in a short-lived process (or in-process, through a temporary
`Database`, when `in_subprocess=False`). Any other database URL uses `Database` as before.

One connection, in WAL mode with the kit's pragmas, used by one thread at a time; every call runs in a
worker thread so the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")

_URL = re.compile(r"sqlite(?:\+aiosqlite|\+pysqlite)?:///(?P<path>[^?]+)")


def sqlite_path(url: str) -> Path | None:
    """Return the file of a plain `sqlite:///FILE` URL (any driver), or None for anything else."""
    match = _URL.fullmatch(url)
    if match is None or match["path"] in {"", ":memory:"}:
        return None
    return Path(match["path"])


class SqliteFile:
    """The database of a service that needs no more than `sqlite3`: `run`, `migrate`, `ping`, `dispose`."""

    dialect = "sqlite"
    plain = True  # no SQLAlchemy: no unit of work, outbox or relay on it

    def __init__(self, url: str) -> None:
        path = sqlite_path(url)
        if path is None:
            raise ValueError(f"not a SQLite file URL: {url!r}")
        self.url = url
        self.path = path
        self._conn: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self.path, timeout=15, isolation_level=None, check_same_thread=False)
            for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=15000", "foreign_keys=ON"):
                conn.execute(f"PRAGMA {pragma}")
            self._conn = conn
        return self._conn

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        with self._lock:
            return fn(self._connection(), *args)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(connection, *args)` in a worker thread, alone on the connection; return its result."""
        return await asyncio.to_thread(self._call, fn, args)

    async def migrate(self, script_location: str | Path, version_table: str = "alembic_version",
                      *, in_subprocess: bool = False) -> None:
        """Apply the kit's migrations, then the service's, up to head (as `Database.migrate`)."""
        if in_subprocess:
            from gluta_kit.migrate import in_subprocess as migrate_in_subprocess

            await migrate_in_subprocess(self.url, script_location, version_table)
            return
        from gluta_kit.db import Database

        db = Database(self.url)
        try:
            await db.migrate(script_location, version_table)
        finally:
            await db.dispose()

    async def ping(self) -> None:
        """Run a trivial query; raises when the file cannot be read."""
        await self.run(lambda conn: conn.execute("SELECT 1").fetchone())

    async def dispose(self) -> None:
        """Close the connection (it reopens on the next call)."""
        def close(_: sqlite3.Connection) -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._conn is not None:
            await self.run(close)
