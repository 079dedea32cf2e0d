"""A lean HTTP/1.1 client for the proxy: pooled keep-alive connections, bytes in and bytes out.

The proxy passes requests and answers through without interpreting them, so it needs none of a
general client's work (cookies, redirects, decoding, header objects). On an asyncio protocol with
httptools' parser (the one uvicorn uses), a proxied request costs a fraction of what httpx or
aiohttp spend on it; the benchmark in bench/gateway_overhead.py is how that was decided.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import httptools

Headers = list[tuple[bytes, bytes]]

IDLE_SECONDS = 4.0  # under uvicorn's 5 s keep-alive: never reuse a connection the server is about to close
READ_HIGH_WATER = 1024 * 1024  # stop reading from a service when this much of its answer waits for the client
READ_LOW_WATER = 256 * 1024


class UpstreamError(Exception):
    """A request to a service failed."""


class ConnectFailed(UpstreamError):
    """No connection could be made: nothing was sent."""


class ConnectionBroken(UpstreamError):
    """The connection broke after the request (or part of it) was sent."""

    def __init__(self, message: str, *, reused: bool = False) -> None:
        super().__init__(message)
        self.reused = reused


class BadResponse(UpstreamError):
    """The service's answer was not valid HTTP."""


class ReadTimeout(UpstreamError):
    """The service did not answer (or stopped answering) within the read timeout."""


class _Origin:
    __slots__ = ("key", "host", "port", "ssl", "host_header", "prefix")

    def __init__(self, base_url: str) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.ssl: ssl.SSLContext | None = ssl.create_default_context() if parts.scheme == "https" else None
        self.host_header = parts.netloc.rpartition("@")[2].encode("idna")
        self.prefix = parts.path.rstrip("/").encode("latin-1")
        self.key = (parts.scheme, self.host, self.port)


class UpstreamResponse:
    """A service's answer: status and headers at once, the body read whole or in chunks."""

    __slots__ = ("status", "headers", "keep_alive", "_conn", "_chunks", "_buffered", "complete", "_error",
                 "_waiter", "_headers_done", "_interim", "_eof_body")

    def __init__(self, conn: _Connection) -> None:
        self.status = 0
        self.headers: Headers = []
        self.keep_alive = False
        self._conn = conn
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self.complete = False
        self._error: UpstreamError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._headers_done: asyncio.Future[None] = conn.loop.create_future()
        self._interim = False
        self._eof_body = False

    @property
    def content_length(self) -> int | None:
        """Return the declared length of the body, if any."""
        for name, value in self.headers:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return None
        return None

    async def read(self, read_timeout: float) -> bytes:
        """Return the whole body."""
        parts = []
        async for chunk in self.iter_chunks(read_timeout):
            parts.append(chunk)
        return b"".join(parts)

    async def iter_chunks(self, read_timeout: float) -> AsyncIterator[bytes]:
        """Yield the body as it arrives; each wait for more is bounded by `read_timeout`."""
        conn = self._conn
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if conn.reading_paused and self._buffered <= READ_LOW_WATER:
                    conn.resume_reading()
                yield chunk
                continue
            if self.complete:
                return
            if self._error is not None:
                raise self._error
            self._waiter = conn.loop.create_future()
            try:
                async with asyncio.timeout(read_timeout):
                    await self._waiter
            except TimeoutError:
                conn.close()
                raise ReadTimeout("the service stopped answering") from None
            finally:
                self._waiter = None

    def release(self) -> None:
        """Give the connection back to the pool (or close it when it cannot be reused)."""
        self._conn.finished(self)

    def close(self) -> None:
        """Close the connection (an answer not read to its end)."""
        self._conn.close()

    # --- fed by the connection ---------------------------------------------------------------
    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _fail(self, error: UpstreamError) -> None:
        if self.complete:
            return
        self._error = error
        if not self._headers_done.done():
            self._headers_done.set_exception(error)
            self._headers_done.exception()  # nobody may be waiting any more: do not log it as lost
        self._wake()


class _Connection(asyncio.Protocol):
    """One keep-alive connection to a service."""

    def __init__(self, pool: UpstreamPool, origin: _Origin, loop: asyncio.AbstractEventLoop) -> None:
        self.pool = pool
        self.origin = origin
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.closed = False
        self.idle_since = 0.0
        self.reading_paused = False
        self.response: UpstreamResponse | None = None
        self.head_request = False
        self._write_paused = False
        self._drain: asyncio.Future[None] | None = None

    # --- asyncio protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        if self.response is None:  # bytes nobody asked for: the connection cannot be trusted
            self.close()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.response._fail(BadResponse(f"invalid answer: {exc}"))
            self.close()

    def eof_received(self) -> bool:
        return False  # let the transport close

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.pool.forget(self)
        response = self.response
        if response is not None and not response.complete:
            if response._headers_done.done() and response._eof_body:
                response.complete = True  # a body delimited by the end of the connection
                response._wake()
            else:
                response._fail(ConnectionBroken(f"the service closed the connection: {exc!r}"))
        if self._drain is not None and not self._drain.done():
            self._drain.set_exception(ConnectionBroken("the service closed the connection"))
            self._drain.exception()

    def pause_writing(self) -> None:
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        if self._drain is not None and not self._drain.done():
            self._drain.set_result(None)

    def pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.reading_paused and self.transport is not None:
            self.reading_paused = False
            self.transport.resume_reading()

    # --- parser callbacks --------------------------------------------------------------------
    def on_message_begin(self) -> None:
        response = self.response
        if response is not None:
            response.headers = []

    def on_header(self, name: bytes, value: bytes) -> None:
        self.response.headers.append((name.lower(), value))  # type: ignore[union-attr]

    def on_headers_complete(self) -> None:
        response = self.response
        assert response is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200:  # an interim answer (100 Continue): the real one follows
            response._interim = True
            return
        response.status = status
        response.keep_alive = self.parser.should_keep_alive()
        if self.head_request:  # no body follows, whatever the headers say; do not risk reusing the connection
            response.keep_alive = False
            response.complete = True
        names = {name for name, _ in response.headers}
        response._eof_body = b"content-length" not in names and b"transfer-encoding" not in names
        if not response._headers_done.done():
            response._headers_done.set_result(None)

    def on_body(self, body: bytes) -> None:
        response = self.response
        assert response is not None
        response._chunks.append(body)
        response._buffered += len(body)
        if response._buffered > READ_HIGH_WATER:
            self.pause_reading()
        response._wake()

    def on_message_complete(self) -> None:
        response = self.response
        assert response is not None
        if response._interim:
            response._interim = False
            return
        response.complete = True
        response._wake()

    # --- use -----------------------------------------------------------------------------------
    async def write(self, data: bytes) -> None:
        """Write, waiting while the service is not reading."""
        if self.closed or self.transport is None:
            raise ConnectionBroken("the connection is closed")
        self.transport.write(data)
        if self._write_paused:
            self._drain = self.loop.create_future()
            try:
                await self._drain
            finally:
                self._drain = None

    def finished(self, response: UpstreamResponse) -> None:
        """Reuse the connection after a complete answer it may be reused for; close it otherwise."""
        if self.response is response and response.complete and response.keep_alive and not self.closed:
            self.response = None
            self.resume_reading()
            self.pool.put_back(self)
        else:
            self.close()

    def close(self) -> None:
        """Close the connection."""
        if not self.closed:
            self.closed = True
            self.pool.forget(self)
            if self.transport is not None:
                self.transport.close()


class UpstreamPool:
    """Keep-alive connections per service instance, reused most-recent first."""

    def __init__(self, *, connect_timeout: float = 2.0, max_idle_per_origin: int = 256,
                 idle_seconds: float = IDLE_SECONDS) -> None:
        self.connect_timeout = connect_timeout
        self.max_idle = max_idle_per_origin
        self.idle_seconds = idle_seconds
        self._origins: dict[str, _Origin] = {}
        self._idle: dict[tuple[str, str, int], list[_Connection]] = {}
        self._open: set[_Connection] = set()
        self._closed = False

    def origin(self, base_url: str) -> _Origin:
        """Return the parsed origin of an instance URL (cached)."""
        origin = self._origins.get(base_url)
        if origin is None:
            origin = self._origins[base_url] = _Origin(base_url)
        return origin

    async def request(self, base_url: str, method: str, target: bytes, headers: Headers,
                      body: bytes | AsyncIterator[bytes] | None, *, read_timeout: float,
                      content_length: int | None = None) -> UpstreamResponse:
        """Send a request and return the answer once its status and headers are in.

        `target` is the path and query (raw, as the client sent them); `headers` must not hold
        Host, Content-Length or Transfer-Encoding: they are set here from the body.
        """
        origin = self.origin(base_url)
        conn, reused = self._idle_connection(origin), True
        if conn is None:
            conn, reused = await self._connect(origin), False
        response = UpstreamResponse(conn)
        conn.response = response
        conn.head_request = method == "HEAD"
        head = [method.encode("ascii"), b" ", origin.prefix, target, b" HTTP/1.1\r\nhost: ", origin.host_header,
                b"\r\n"]
        for name, value in headers:
            head += (name, b": ", value, b"\r\n")
        try:
            if body is None or isinstance(body, bytes):
                if body or method not in ("GET", "HEAD", "DELETE", "OPTIONS"):
                    head += (b"content-length: ", str(len(body or b"")).encode(), b"\r\n\r\n")
                    if body:
                        head.append(body)
                else:
                    head.append(b"\r\n")
                await conn.write(b"".join(head))
            else:
                if content_length is not None:
                    head += (b"content-length: ", str(content_length).encode(), b"\r\n\r\n")
                    await conn.write(b"".join(head))
                    async for chunk in body:
                        await conn.write(chunk)
                else:
                    head.append(b"transfer-encoding: chunked\r\n\r\n")
                    await conn.write(b"".join(head))
                    async for chunk in body:
                        if chunk:
                            await conn.write(b"%x\r\n%b\r\n" % (len(chunk), chunk))
                    await conn.write(b"0\r\n\r\n")
        except ConnectionBroken as exc:
            if not response._headers_done.done():  # it may have answered early (and closed): use that
                conn.close()
                raise ConnectionBroken(str(exc), reused=reused) from None
        except BaseException:
            conn.close()
            raise
        try:
            async with asyncio.timeout(read_timeout):
                await response._headers_done
        except TimeoutError:
            conn.close()
            raise ReadTimeout("the service did not answer in time") from None
        except ConnectionBroken as exc:
            conn.close()
            raise ConnectionBroken(str(exc), reused=reused) from None
        except BaseException:
            conn.close()
            raise
        return response

    def _idle_connection(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin.key)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if not conn.closed and now - conn.idle_since < self.idle_seconds:
                return conn
            conn.close()
        return None

    async def _connect(self, origin: _Origin) -> _Connection:
        if self._closed:
            raise ConnectFailed("the pool is closed")
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.connect_timeout):
                _, conn = await loop.create_connection(lambda: _Connection(self, origin, loop), origin.host,
                                                       origin.port, ssl=origin.ssl)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise ConnectFailed(f"cannot connect to {origin.host}:{origin.port}: {exc!r}") from exc
        self._open.add(conn)
        return conn

    def put_back(self, conn: _Connection) -> None:
        """Keep a connection for the next request to its origin."""
        idle = self._idle.setdefault(conn.origin.key, [])
        if len(idle) >= self.max_idle:
            idle[:] = [kept for kept in idle if not kept.closed]  # the service may have closed some meanwhile
        if self._closed or len(idle) >= self.max_idle:
            conn.close()
            return
        conn.idle_since = time.monotonic()
        idle.append(conn)

    def forget(self, conn: _Connection) -> None:
        """Drop a closed connection from the books."""
        self._open.discard(conn)

    @property
    def open_connections(self) -> int:
        """Return how many connections are open (busy or idle)."""
        return len(self._open)

    async def close(self) -> None:
        """Close every connection."""
        self._closed = True
        for conn in list(self._open):
            conn.close()
        self._idle.clear()
