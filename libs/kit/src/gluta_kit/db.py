"""SQLAlchemy 2 async per service: engines, sessions, dialect helpers and Alembic at start."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Table, event, insert, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, async_sessionmaker, create_async_engine

KIT_MIGRATIONS = str(Path(__file__).parent / "migrations")


def normalise_url(url: str) -> str:
    """Pick the async driver for a plain database URL (mysql:// → asyncmy, postgresql:// → asyncpg)."""
    parsed = make_url(url)
    driver = parsed.drivername
    mapping = {
        "sqlite": "sqlite+aiosqlite",
        "mysql": "mysql+asyncmy",
        "mariadb": "mysql+asyncmy",
        "mariadb+asyncmy": "mysql+asyncmy",
        "postgresql": "postgresql+asyncpg",
        "postgres": "postgresql+asyncpg",
    }
    if driver in mapping:
        parsed = parsed.set(drivername=mapping[driver])
    if parsed.drivername.startswith("mysql") and "charset" not in parsed.query:
        parsed = parsed.update_query_dict({"charset": "utf8mb4"})
    return parsed.render_as_string(hide_password=False)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across a crash of the process, fsync at checkpoints
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_inline_pragmas(dbapi_connection: Any, _: Any) -> None:
    # as above, but no busy_timeout: an inline connection must not sleep inside SQLite (it naps in asyncio)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _inline_engine(url: str, *, echo: bool, autocommit: bool) -> AsyncEngine:
    """An aiosqlite-dialect engine whose connections run SQLite on the loop's thread (`gluta_kit.sqlite_inline`)."""
    from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite

    from gluta_kit.sqlite_inline import InlineConnector

    args, kwargs = SQLiteDialect_pysqlite().create_connect_args(make_url(url))
    engine = create_async_engine(url, echo=echo, async_creator=InlineConnector(args, kwargs, autocommit=autocommit))
    event.listen(engine.sync_engine, "connect", _sqlite_inline_pragmas)
    return engine


class Database:
    """One service's database: a read engine, a write engine and their session factories.

    On SQLite, writers begin with `BEGIN IMMEDIATE` so two writers queue on the lock instead of
    failing when a read transaction tries to upgrade; readers stay lock-free under WAL. Writers run
    SQLite on the event loop's thread (`gluta_kit.sqlite_inline`: no thread hand-off per call, no
    wait inside SQLite; writes are short); readers run in aiosqlite's threads, so a long report never
    holds up the loop.
    """

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 24) -> None:
        self.url = normalise_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": self.dialect != "sqlite"}
        if self.dialect != "sqlite":
            # kept open: a connection beyond the pool is closed when returned, and opening one (TLS probe,
            # authentication) costs more than the query; 24 covers a busy instance's concurrent requests,
            # its relay and its consumers
            kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        if self.dialect == "sqlite" and ":memory:" not in self.url:
            self.write_engine = _inline_engine(self.url, echo=echo, autocommit=True)
            event.listen(self.write_engine.sync_engine, "begin", _sqlite_begin_immediate)
        elif self.dialect == "sqlite":
            self.write_engine = create_async_engine(self.url, echo=echo)
            event.listen(self.write_engine.sync_engine, "connect", _sqlite_autocommit_driver)
            event.listen(self.write_engine.sync_engine, "connect", _sqlite_pragmas)
            event.listen(self.write_engine.sync_engine, "begin", _sqlite_begin_immediate)
        else:
            self.write_engine = self.engine
        self.read_sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.write_sessions = async_sessionmaker(self.write_engine, expire_on_commit=False)
        self.outbox_signal = asyncio.Event()

    async def migrate(self, script_location: str | Path, version_table: str = "alembic_version",
                      *, in_subprocess: bool = False) -> None:
        """Apply the kit's migrations, then the service's, up to head.

        In a subprocess, Alembic's modules never load into the long-running service (less memory).
        """
        if in_subprocess:
            from gluta_kit.migrate import in_subprocess as migrate_in_subprocess

            await migrate_in_subprocess(self.url, script_location, version_table)
            return
        async with self.write_engine.begin() as conn:
            await conn.run_sync(_upgrade, KIT_MIGRATIONS, "kit_alembic_version")
        async with self.write_engine.begin() as conn:
            await conn.run_sync(_upgrade, str(script_location), version_table)

    @asynccontextmanager
    async def consistent_reads(self) -> AsyncIterator[AsyncConnection]:
        """Yield a read connection whose statements all see one snapshot (reports whose figures must add up).

        SQLite's driver runs each SELECT in its own snapshot unless a transaction is open, so one is opened;
        PostgreSQL reads at REPEATABLE READ; MariaDB/MySQL's default (REPEATABLE READ) already does it.
        Nothing is written: the transaction is rolled back.
        """
        async with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                await conn.execution_options(isolation_level="REPEATABLE READ")
            elif self.dialect == "sqlite":
                await conn.exec_driver_sql("BEGIN")
            try:
                yield conn
            finally:
                await conn.rollback()

    async def ping(self) -> None:
        """Run a trivial query; raises when the database is unreachable."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()


def _sqlite_autocommit_driver(dbapi_connection: Any, _: Any) -> None:
    # Let SQLAlchemy emit BEGIN itself so the "begin" hook below can make it IMMEDIATE.
    dbapi_connection.isolation_level = None


def _sqlite_begin_immediate(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _upgrade(connection: Connection, script_location: str, version_table: str) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", script_location)
    cfg.attributes["connection"] = connection
    cfg.attributes["version_table"] = version_table
    command.upgrade(cfg, "head")


def run_alembic_env(target_metadata: Any) -> None:
    """Body of every service's `migrations/env.py`: migrate on the connection the kit hands over."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        version_table=context.config.attributes.get("version_table", "alembic_version"),
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def insert_ignore(table: Table, dialect: str, values: dict[str, Any] | list[dict[str, Any]]) -> Any:
    """Build an INSERT that silently skips rows whose unique key already exists."""
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite  # each dialect's module only where it is used (memory)

        return sqlite.insert(table).values(values).on_conflict_do_nothing()
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table).values(values).on_conflict_do_nothing()
    if dialect in {"mysql", "mariadb"}:
        from sqlalchemy.dialects import mysql

        return mysql.insert(table).values(values).prefix_with("IGNORE")
    return insert(table).values(values)


R = TypeVar("R")


def _error_code(exc: DBAPIError) -> str:
    orig = exc.orig
    for attr in ("sqlstate", "pgcode"):
        value = getattr(orig, attr, None)
        if value:
            return str(value)
    args = getattr(orig, "args", ()) or ()
    if args and isinstance(args[0], int):
        return str(args[0])
    return ""


def is_transient(exc: BaseException) -> bool:
    """Return whether a database error is worth retrying: a deadlock, a serialisation failure, a busy lock."""
    if not isinstance(exc, DBAPIError) or isinstance(exc, IntegrityError):
        return False
    code = _error_code(exc)
    if code in {"1213", "1205", "40001", "40P01"}:
        return True
    text = str(exc.orig).lower()
    return "deadlock" in text or "database is locked" in text or "lock wait timeout" in text


async def retry_transient(work: Callable[[], Awaitable[R]], attempts: int = 6) -> R:
    """Run a whole unit of work again when the database refused it for a transient reason."""
    for attempt in range(1, attempts + 1):
        try:
            return await work()
        except DBAPIError as exc:
            if attempt == attempts or not is_transient(exc):
                raise
            await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise AssertionError("unreachable")
