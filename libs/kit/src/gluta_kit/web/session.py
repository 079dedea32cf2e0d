"""Server-side sessions: an opaque id in an HttpOnly, SameSite=Lax cookie; the data in a store.

`SessionMiddleware` loads the session before the app runs and puts it at `scope["session"]`, so
`request.session` is the `Session` (a dict). It is written back when the response starts, only if
something changed. A save writes only the keys this request changed over the stored copy, so two
requests of one browser running at once do not undo each other's changes (token refreshes above all).
A session with nothing in it is never stored and sets no cookie: guests browsing cost nothing.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from http.cookies import SimpleCookie
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from sqlite3 import Connection

    from gluta_kit.db import Database
    from gluta_kit.sqlite import SqliteFile

SESSION_TABLE = "web_session"
DEFAULT_MAX_AGE = 14 * 24 * 3600
_MISSING = object()


class SessionStore(Protocol):
    """Where session data lives, by session id."""

    async def load(self, session_id: str) -> dict[str, Any] | None:
        """Return the stored data, or None when unknown or expired."""

    async def save(self, session_id: str, data: dict[str, Any], max_age: int) -> None:
        """Store (create or replace) the data for `max_age` seconds."""

    async def delete(self, session_id: str) -> None:
        """Forget a session."""


class MemorySessionStore:
    """Sessions in a dict (tests, single process)."""

    def __init__(self) -> None:
        self.items: dict[str, tuple[float, bytes]] = {}

    async def load(self, session_id: str) -> dict[str, Any] | None:
        item = self.items.get(session_id)
        if item is None or item[0] < time.time():
            return None
        return orjson.loads(item[1])

    async def save(self, session_id: str, data: dict[str, Any], max_age: int) -> None:
        self.items[session_id] = (time.time() + max_age, orjson.dumps(data))

    async def delete(self, session_id: str) -> None:
        self.items.pop(session_id, None)


def session_table(metadata: Any) -> Any:
    """Define the session table on `metadata` (a SQLAlchemy MetaData)."""
    from sqlalchemy import Column, Float, String, Table, Text

    return Table(
        SESSION_TABLE, metadata,
        Column("session_id", String(64), primary_key=True),
        Column("data", Text, nullable=False),
        Column("expires_at", Float, nullable=False, index=True),
    )


def create_session_table(op: Any) -> None:
    """Create the session table from an Alembic migration: `create_session_table(op)`."""
    import sqlalchemy as sa

    op.create_table(
        SESSION_TABLE,
        sa.Column("session_id", sa.String(64), primary_key=True),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
    )
    op.create_index(f"ix_{SESSION_TABLE}_expires_at", SESSION_TABLE, ["expires_at"])


class SqlSessionStore:
    """Sessions in the service's own database (the table made by `create_session_table`)."""

    def __init__(self, db: Database, purge_every: int = 500) -> None:
        from sqlalchemy import MetaData

        self.db = db
        self.table = session_table(MetaData())
        self._saves = 0
        self._purge_every = purge_every

    async def load(self, session_id: str) -> dict[str, Any] | None:
        from sqlalchemy import select

        table = self.table
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(
                select(table.c.data, table.c.expires_at).where(table.c.session_id == session_id))).first()
        if row is None or row.expires_at < time.time():
            return None
        return orjson.loads(row.data)

    async def save(self, session_id: str, data: dict[str, Any], max_age: int) -> None:
        from sqlalchemy import delete, insert, update

        table = self.table
        payload = orjson.dumps(data).decode()
        expires = time.time() + max_age
        async with self.db.write_engine.begin() as conn:
            result = await conn.execute(update(table).where(table.c.session_id == session_id)
                                        .values(data=payload, expires_at=expires))
            if not result.rowcount:
                await conn.execute(insert(table).values(session_id=session_id, data=payload, expires_at=expires))
            self._saves += 1
            if self._saves % self._purge_every == 0:
                await conn.execute(delete(table).where(table.c.expires_at < time.time()))

    async def delete(self, session_id: str) -> None:
        from sqlalchemy import delete

        async with self.db.write_engine.begin() as conn:
            await conn.execute(delete(self.table).where(self.table.c.session_id == session_id))

    async def purge_expired(self) -> int:
        """Delete expired sessions; return how many."""
        from sqlalchemy import delete

        async with self.db.write_engine.begin() as conn:
            result = await conn.execute(delete(self.table).where(self.table.c.expires_at < time.time()))
            return int(result.rowcount or 0)


class SqliteSessionStore:
    """Sessions in the service's own SQLite file through `sqlite3` (a `SqliteFile`: no SQLAlchemy in the
    process); the same table, made by `create_session_table`, and the same behaviour as `SqlSessionStore`."""

    def __init__(self, db: SqliteFile, purge_every: int = 500) -> None:
        self.db = db
        self._saves = 0
        self._purge_every = purge_every

    async def load(self, session_id: str) -> dict[str, Any] | None:
        def load(conn: Connection) -> tuple[str, float] | None:
            return conn.execute(f"SELECT data, expires_at FROM {SESSION_TABLE} WHERE session_id = ?",
                                (session_id,)).fetchone()

        row = await self.db.run(load)
        if row is None or row[1] < time.time():
            return None
        return orjson.loads(row[0])

    async def save(self, session_id: str, data: dict[str, Any], max_age: int) -> None:
        payload = orjson.dumps(data).decode()
        self._saves += 1
        purge = self._saves % self._purge_every == 0

        def save(conn: Connection) -> None:
            expires = time.time() + max_age
            conn.execute("BEGIN IMMEDIATE")
            try:
                updated = conn.execute(f"UPDATE {SESSION_TABLE} SET data = ?, expires_at = ? WHERE session_id = ?",
                                       (payload, expires, session_id)).rowcount
                if not updated:
                    conn.execute(f"INSERT INTO {SESSION_TABLE} (session_id, data, expires_at) VALUES (?, ?, ?)",
                                 (session_id, payload, expires))
                if purge:
                    conn.execute(f"DELETE FROM {SESSION_TABLE} WHERE expires_at < ?", (time.time(),))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        await self.db.run(save)

    async def delete(self, session_id: str) -> None:
        await self.db.run(lambda conn: conn.execute(f"DELETE FROM {SESSION_TABLE} WHERE session_id = ?",
                                                    (session_id,)))

    async def purge_expired(self) -> int:
        """Delete expired sessions; return how many."""
        return await self.db.run(lambda conn: conn.execute(f"DELETE FROM {SESSION_TABLE} WHERE expires_at < ?",
                                                           (time.time(),)).rowcount)


def database_session_store(db: Database | SqliteFile) -> SqlSessionStore | SqliteSessionStore:
    """Return the session store on the service's own database, whichever kind it holds."""
    if getattr(db, "plain", False):
        return SqliteSessionStore(db)  # type: ignore[arg-type]
    return SqlSessionStore(db)  # type: ignore[arg-type]


class RedisSessionStore:
    """Sessions in Redis (`GLUTA_REDIS_URL`), shared by every instance, expired by Redis itself."""

    def __init__(self, url: str, prefix: str = "gluta:session:") -> None:
        import redis.asyncio as redis

        self.redis = redis.from_url(url)
        self.prefix = prefix

    async def load(self, session_id: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self.prefix + session_id)
        return None if raw is None else orjson.loads(raw)

    async def save(self, session_id: str, data: dict[str, Any], max_age: int) -> None:
        await self.redis.set(self.prefix + session_id, orjson.dumps(data), ex=max_age)

    async def delete(self, session_id: str) -> None:
        await self.redis.delete(self.prefix + session_id)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()


class Session(dict[str, Any]):
    """The session of one request: a dict that remembers which keys this request changed."""

    def __init__(self, session_id: str | None, data: dict[str, Any], store: SessionStore, max_age: int) -> None:
        super().__init__(data)
        self.id = session_id
        self.store = store
        self.max_age = max_age
        self.changed: set[str] = set()
        self.rotate_requested = False
        self.cleared = False

    # --- change tracking ---------------------------------------------------------------------------
    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.changed.add(key)

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.changed.add(key)

    def pop(self, key: str, default: Any = _MISSING) -> Any:  # type: ignore[override]
        self.changed.add(key)
        return super().pop(key) if default is _MISSING else super().pop(key, default)

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return self[key]

    def update(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def clear(self) -> None:
        """Empty the session and drop it from the store (logout)."""
        super().clear()
        self.cleared = True
        self.changed.clear()

    def rotate(self) -> None:
        """Give the session a new id when it is next saved (after login: no session fixation)."""
        self.rotate_requested = True

    @property
    def modified(self) -> bool:
        return bool(self.changed) or self.rotate_requested or self.cleared

    # --- persistence ---------------------------------------------------------------------------------
    async def reload(self, keys: Iterable[str]) -> None:
        """Replace `keys` with the stored values (another request may have changed them)."""
        if self.id is None:
            return
        stored = await self.store.load(self.id) or {}
        for key in keys:
            if key in stored:
                super().__setitem__(key, stored[key])
            else:
                super().pop(key, None)

    async def persist(self) -> str | None:
        """Write the changes now; return the session id (None when the session is empty and not stored)."""
        if self.cleared:
            if self.id is not None:
                await self.store.delete(self.id)
            self.cleared = False
            self.id = None
            if not dict(self):
                self.changed.clear()
                return None
            self.changed = set(self.keys())
        if not self.modified:
            return self.id
        if self.rotate_requested and self.id is not None:
            await self.store.delete(self.id)
            self.id = None
        self.rotate_requested = False
        if self.id is None:
            if not dict(self):
                self.changed.clear()
                return None
            self.id = secrets.token_urlsafe(32)
            data = dict(self)
        else:
            stored = await self.store.load(self.id) or {}
            for key in self.changed:
                if key in self:
                    stored[key] = self[key]
                else:
                    stored.pop(key, None)
            data = stored
            super().clear()
            super().update(stored)
        await self.store.save(self.id, data, self.max_age)
        self.changed.clear()
        return self.id


class SessionMiddleware:
    """Load the session for each HTTP request and save it (and set its cookie) when the response starts.

    The cookie is HttpOnly and SameSite=Lax; `Secure` when `secure=True`, or, with `secure=None`,
    when the request came over https (directly or per `X-Forwarded-Proto` from a proxy).
    Paths starting with one of `exclude_prefixes` get an empty session that is never loaded nor stored.
    """

    def __init__(self, app: ASGIApp, store: SessionStore, cookie_name: str = "gluta_session",
                 max_age: int = DEFAULT_MAX_AGE, secure: bool | None = None, path: str = "/",
                 exclude_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exclude_prefixes = exclude_prefixes
        self.store = store
        self.cookie_name = cookie_name
        self.max_age = max_age
        self.secure = secure
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.exclude_prefixes and scope.get("path", "").startswith(self.exclude_prefixes):
            scope["session"] = Session(None, {}, self.store, self.max_age)  # static files, images: never stored
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        incoming = request.cookies.get(self.cookie_name)
        data = None
        if incoming and len(incoming) <= 64:
            data = await self.store.load(incoming)
        session = Session(incoming if data is not None else None, data or {}, self.store, self.max_age)
        scope["session"] = session
        had_cookie = incoming is not None

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = await self._cookie_header(scope, session, had_cookie, stale=incoming != session.id)
                if cookie:
                    message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode("latin-1"))]
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _is_secure(self, scope: Scope) -> bool:
        if self.secure is not None:
            return self.secure
        headers = dict(scope.get("headers") or [])
        forwarded = headers.get(b"x-forwarded-proto", b"").decode("latin-1").split(",")[0].strip()
        return (forwarded or scope.get("scheme", "http")) == "https"

    async def _cookie_header(self, scope: Scope, session: Session, had_cookie: bool, stale: bool) -> str | None:
        if session.modified:
            await session.persist()
        elif not stale:
            return None
        cookie: SimpleCookie = SimpleCookie()
        if session.id is None:
            if not had_cookie:
                return None
            cookie[self.cookie_name] = ""
            cookie[self.cookie_name]["max-age"] = 0
            cookie[self.cookie_name]["expires"] = "Thu, 01 Jan 1970 00:00:00 GMT"
        else:
            cookie[self.cookie_name] = session.id
            cookie[self.cookie_name]["max-age"] = self.max_age
        morsel = cookie[self.cookie_name]
        morsel["path"] = self.path
        morsel["httponly"] = True
        morsel["samesite"] = "Lax"
        if self._is_secure(scope):
            morsel["secure"] = True
        return morsel.OutputString()


def flash(request: Request, message: str, level: str = "info") -> None:
    """Queue a message for the next page the user sees (`level`: info, success, error)."""
    request.session["flash"] = [*request.session.get("flash", []), {"level": level, "message": message}]


def pop_flashes(request: Request) -> list[dict[str, str]]:
    """Take the queued messages (they are shown once)."""
    if "flash" not in request.session:
        return []
    return list(request.session.pop("flash") or [])
